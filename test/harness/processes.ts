/** Child processes of the real stack: started, logged to files, awaited until ready, stopped. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const ARTIFACTS = join(process.cwd(), 'test-artifacts');

export interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Everything the process printed so far. */
  output(): string;
  /** Resolves when `pattern` appears in the output. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * The child writes straight into its log file, never through a pipe to this process: a test
 * process busy with its own work would otherwise leave the pipe full, and a child logging
 * synchronously (pino) would stall on it. Output is read back from the file when asked for.
 */
export function startProcess(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  mkdirSync(ARTIFACTS, { recursive: true });
  const logFile = join(ARTIFACTS, `${name}.log`);
  const fd = openSync(logFile, 'a');
  let offset = fstatSync(fd).size;
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let output = '';
  const readNew = () => {
    const size = statSync(logFile).size;
    if (size > offset) {
      const buffer = Buffer.alloc(size - offset);
      const file = openSync(logFile, 'r');
      readSync(file, buffer, 0, buffer.length, offset);
      closeSync(file);
      offset = size;
      output += buffer.toString();
      if (output.length > 4_000_000) output = output.slice(-2_000_000);
    }
    return output;
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    child,
    logFile,
    output: readNew,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = () => {
          if (pattern.test(readNew())) {
            clearInterval(timer);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearInterval(timer);
            reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}; see ${logFile}`));
          } else if (Date.now() > deadline) {
            clearInterval(timer);
            reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms; see ${logFile}`));
          }
        };
        const timer = setInterval(check, 25);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** A port that was free a moment ago on `host`. */
export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
