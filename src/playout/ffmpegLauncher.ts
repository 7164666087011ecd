/**
 * The launcher process of ffmpegRunner.ts: a small process that starts ffmpeg when asked, kills
 * it when asked, and reports its pid and its exit with the end of its stderr. Being small, its
 * fork costs about a millisecond, and no room waits for it. It exits with its parent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { LauncherReply, LauncherRequest } from './ffmpegRunner.js';

const STDERR_KEPT = 4_000;
const running = new Map<number, ChildProcess>();

function reply(message: LauncherReply): void {
  process.send?.(message);
}

process.on('message', (request: LauncherRequest) => {
  if (request.op === 'kill') {
    running.get(request.id)?.kill('SIGKILL');
    return;
  }
  const child = spawn(request.path, request.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.set(request.id, child);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-STDERR_KEPT);
  });
  let done = false;
  const finish = (code: number | null, extra = '') => {
    if (done) return;
    done = true;
    running.delete(request.id);
    reply({ op: 'exit', id: request.id, code, stderr: stderr + extra });
  };
  child.once('spawn', () => reply({ op: 'spawned', id: request.id, pid: child.pid }));
  child.once('error', (err) => finish(-1, err.message));
  child.once('close', (code) => finish(code));
});

// The parent is gone: take every ffmpeg down with this process.
process.on('disconnect', () => {
  for (const child of running.values()) child.kill('SIGKILL');
  process.exit(0);
});
