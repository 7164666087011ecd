/**
 * How this process runs ffmpeg. By default it spawns ffmpeg itself. A host process of the agent,
 * which plays many rooms on one event loop, has ffmpeg started by a small launcher process
 * instead (`useFfmpegLauncher`, ffmpegLauncher.ts): Node spawns with fork(), and forking a process
 * of a few hundred MiB copies its page tables while the event loop waits (measured on the CI
 * machine: 28–35 ms per spawn at 300 MiB, against 20–40 ms of audio queued natively per room),
 * so every song change in one room would be a dropout in all of them. The launcher is small, so
 * its fork is cheap, and it blocks nobody. ffmpeg then writes its output to a Unix socket that
 * this process listens on, with the same backpressure as a pipe; input that this process feeds
 * (a live station's stream) goes to ffmpeg through a second one.
 */
import { spawn, fork, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';

/** In ffmpeg's arguments, where the output goes: replaced by the runner. */
export const FFMPEG_OUTPUT = 'pipe:1';
/** In ffmpeg's arguments, the input this process feeds: replaced by the runner. */
export const FFMPEG_INPUT = 'pipe:0';

export interface FfmpegRun {
  /** ffmpeg's output (when its arguments name FFMPEG_OUTPUT). */
  output: AsyncIterable<Buffer>;
  /** Where to write ffmpeg's input (when its arguments name FFMPEG_INPUT; undefined if ffmpeg never took it). */
  input: Promise<Writable | undefined>;
  /** Resolves when ffmpeg exited: its code (null when killed) and the end of its stderr. */
  exited: Promise<{ code: number | null; stderr: string }>;
  /** Resolves with ffmpeg's pid once it runs. */
  pid: Promise<number | undefined>;
  kill(): void;
}

export interface FfmpegRunner {
  run(path: string, args: string[]): FfmpegRun;
}

const STDERR_KEPT = 4_000;

/** ffmpeg as a child of this process. */
export const directRunner: FfmpegRunner = {
  run(path, args) {
    const feeds = args.includes(FFMPEG_INPUT);
    const child = spawn(path, args, { stdio: [feeds ? 'pipe' : 'ignore', 'pipe', 'pipe'] }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-STDERR_KEPT);
    });
    const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => {
      child.once('close', (code) => resolve({ code, stderr }));
      child.once('error', (err) => resolve({ code: -1, stderr: stderr + err.message }));
    });
    return {
      output: child.stdout as AsyncIterable<Buffer>,
      input: Promise.resolve(child.stdin ?? undefined),
      exited,
      pid: Promise.resolve(child.pid),
      kill: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    };
  },
};

let runner: FfmpegRunner = directRunner;

export function ffmpegRunner(): FfmpegRunner {
  return runner;
}

/** Messages between this process and the launcher. */
export type LauncherRequest = { op: 'run'; id: number; path: string; args: string[] } | { op: 'kill'; id: number };
export type LauncherReply = { op: 'spawned'; id: number; pid: number | undefined } | { op: 'exit'; id: number; code: number | null; stderr: string };

/**
 * From now on ffmpeg is started by a launcher process (started here, restarted if it dies).
 * Returns a function that stops it.
 */
export function useFfmpegLauncher(onProblem: (message: string) => void = () => undefined): () => void {
  const sockets = mkdtempSync(join(tmpdir(), 'roomcast-ffmpeg-'));
  const script = fileURLToPath(new URL('./ffmpegLauncher.js', import.meta.url));
  const pending = new Map<number, { spawned: (pid: number | undefined) => void; exit: (result: { code: number | null; stderr: string }) => void }>();
  let launcher: ChildProcess | undefined;
  let nextId = 1;
  let stopped = false;

  const start = (): ChildProcess => {
    const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    child.on('message', (reply: LauncherReply) => {
      const waiting = pending.get(reply.id);
      if (!waiting) return;
      if (reply.op === 'spawned') waiting.spawned(reply.pid);
      else {
        pending.delete(reply.id);
        waiting.exit({ code: reply.code, stderr: reply.stderr });
      }
    });
    child.once('exit', (code, signal) => {
      launcher = undefined;
      // Whatever it ran is orphaned or gone: fail those runs (their songs fail and the next plays).
      for (const [id, waiting] of pending) {
        pending.delete(id);
        waiting.exit({ code: -1, stderr: 'the ffmpeg launcher process exited' });
      }
      if (!stopped) onProblem(`ffmpeg launcher exited (${code ?? signal}); starting another`);
    });
    return child;
  };
  const send = (request: LauncherRequest) => {
    launcher ??= start();
    launcher.send(request);
  };

  runner = {
    run(path, args) {
      const id = nextId++;
      let spawned!: (pid: number | undefined) => void;
      const pid = new Promise<number | undefined>((resolve) => (spawned = resolve));
      let exit!: (result: { code: number | null; stderr: string }) => void;
      const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => (exit = resolve));
      pending.set(id, { spawned, exit });
      // The sockets listen before ffmpeg starts; ffmpeg connects to them as a client.
      const accept = (socketFile: string | undefined): { listening: Promise<void>; socket: Promise<Socket | undefined> } => {
        if (!socketFile) return { listening: Promise.resolve(), socket: Promise.resolve(undefined) };
        const server = createServer();
        const listening = new Promise<void>((resolve) => server.listen(socketFile, resolve));
        const socket = new Promise<Socket | undefined>((resolve) => {
          server.once('connection', (socket) => {
            server.close();
            resolve(socket);
          });
          server.once('error', () => resolve(undefined));
          void exited.then(() => setTimeout(() => resolve(undefined), 50));
        });
        void exited.then(() => {
          server.close();
          rmSync(socketFile, { force: true });
        });
        return { listening, socket };
      };
      const socketPath = args.includes(FFMPEG_OUTPUT) ? join(sockets, `${id}.sock`) : undefined;
      const inputPath = args.includes(FFMPEG_INPUT) ? join(sockets, `${id}.in.sock`) : undefined;
      const out = accept(socketPath);
      const into = accept(inputPath);
      const launch = () => send({ op: 'run', id, path, args: args.map((a) => (a === FFMPEG_OUTPUT ? `unix://${socketPath}` : a === FFMPEG_INPUT ? `unix://${inputPath}` : a)) });
      void Promise.all([out.listening, into.listening]).then(launch);
      async function* output(): AsyncGenerator<Buffer> {
        const socket = await out.socket;
        if (!socket) return;
        try {
          for await (const chunk of socket as AsyncIterable<Buffer>) yield chunk;
        } finally {
          socket.destroy();
        }
      }
      return {
        output: output(),
        input: into.socket,
        exited,
        pid,
        kill: () => {
          if (pending.has(id)) launcher?.send({ op: 'kill', id } satisfies LauncherRequest);
        },
      };
    },
  };
  launcher = start();
  return () => {
    stopped = true;
    runner = directRunner;
    launcher?.kill();
    rmSync(sockets, { recursive: true, force: true });
  };
}
