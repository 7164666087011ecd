/**
 * `npm start`: the whole system on this machine without Docker. Whatever the environment does not
 * point elsewhere is started here with development defaults: livekit-server (livekit.yaml),
 * Mosquitto (listening on 127.0.0.1 only), and the demo catalog; then the agent and the bridge.
 * The console shows Roomcast's own logs (pretty) and only the warnings of livekit-server and
 * Mosquitto. Ctrl-C stops the bridge and the agent first (they leave their rooms and say so over
 * MQTT), then the broker and the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { listenerToken } from '../src/livekit/tokens.js';
import { livekitServerBinary, mosquittoBinary } from './binaries.js';
import { ensureDemoCatalog } from './demo-catalog.js';

const ROOT = resolve(import.meta.dirname, '../..');
const STATE = join(ROOT, '.roomcast');
const DEV_KEY = 'devkey';
const DEV_SECRET = 'roomcast-development-secret-change-me-0123';

/** What runs, in the order it started: the infrastructure first, Roomcast's processes last. */
const children: Array<{ name: string; child: ChildProcess; infrastructure: boolean }> = [];

/**
 * Each child runs in a process group of its own, so that Ctrl-C (SIGINT to the terminal's
 * foreground group) reaches this process alone, and it stops them in order.
 */
function run(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, infrastructure = false): void {
  const child = spawn(command, args, { env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`[local-stack] ${name} exited (${signal ?? code}); stopping everything`);
    void stop(1);
  });
  children.push({ name, child, infrastructure });
}

const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

/** SIGTERM to a group of children; resolves once they have all exited, or after `graceMs` (then SIGKILL). */
async function stopAll(group: ChildProcess[], graceMs: number): Promise<void> {
  const live = group.filter(running);
  for (const child of live) child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(live.map((c) => new Promise((r) => c.once('exit', r)))),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const child of live.filter(running)) child.kill('SIGKILL');
        resolve();
      }, graceMs);
    }),
  ]);
  clearTimeout(timer);
}

let stopping = false;
/**
 * The agent and the bridge first (the agent's host processes leave their rooms within 10 s), while
 * the broker and livekit-server they talk to are still there; then those two.
 */
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\n[local-stack] stopping the agent and the bridge, then Mosquitto and livekit-server');
  await stopAll(
    children.filter((c) => !c.infrastructure).map((c) => c.child),
    12_000,
  );
  await stopAll(
    children.filter((c) => c.infrastructure).map((c) => c.child),
    5_000,
  );
  process.exit(code);
}
// Whatever ends this process, its children (in groups of their own) do not outlive it.
process.on('exit', () => {
  for (const { child } of children) if (running(child)) child.kill('SIGKILL');
});

async function waitForHttp(url: string, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(url)
        .then((r) => r.ok)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer at ${url}`);
}

async function main(): Promise<void> {
  mkdirSync(STATE, { recursive: true });
  const dotenv = join(ROOT, '.env');
  if (existsSync(dotenv)) process.loadEnvFile(dotenv);
  const env: NodeJS.ProcessEnv = { LOG_PRETTY: 'true', ...process.env };

  if (!env.LIVEKIT_URL) {
    env.LIVEKIT_API_KEY ||= DEV_KEY;
    env.LIVEKIT_API_SECRET ||= DEV_SECRET;
    // livekit.yaml as shipped, logging warnings only: at info it prints a line for every server API call.
    const config = join(STATE, 'livekit.yaml');
    writeFileSync(config, readFileSync(join(ROOT, 'livekit.yaml'), 'utf8').replace(/^(logging:\n\s+level:) \w+/m, '$1 warn'));
    run(
      'livekit-server',
      livekitServerBinary(),
      ['--config', config],
      {
        ...env,
        LIVEKIT_KEYS: `${env.LIVEKIT_API_KEY}: ${env.LIVEKIT_API_SECRET}`,
      },
      true,
    );
    env.LIVEKIT_URL = 'ws://localhost:7880';
    await waitForHttp('http://localhost:7880/', 'livekit-server');
  }

  if (!env.MQTT_URL) {
    const config = join(STATE, 'mosquitto.conf');
    // Development only: anonymous clients, reachable from this machine alone; warnings and errors only.
    writeFileSync(config, 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nlog_type error\nlog_type warning\n');
    run('mosquitto', mosquittoBinary(), ['-c', config], env, true);
    env.MQTT_URL = 'mqtt://127.0.0.1:1883';
  }

  env.MUSIC_CATALOG ||= ensureDemoCatalog(join(STATE, 'demo'));

  // The listener page, on this machine only: it hands out listener tokens to whoever asks.
  env.LISTENER_PAGE ||= 'true';
  env.BRIDGE_HTTP_HOST ||= '127.0.0.1';
  run('agent', process.execPath, [join(ROOT, 'dist/agent/main.js'), 'start'], env);
  run('bridge', process.execPath, [join(ROOT, 'dist/bridge/main.js')], env);
  await printHowTo(env);
}

async function printHowTo(env: NodeJS.ProcessEnv): Promise<void> {
  const token = await listenerToken({ apiKey: env.LIVEKIT_API_KEY as string, apiSecret: env.LIVEKIT_API_SECRET as string, room: 'demo', ttl: '2h' });
  console.log(`
Roomcast is up.
  LiveKit   ${env.LIVEKIT_URL}
  MQTT      ${env.MQTT_URL}
  Catalog   ${env.MUSIC_CATALOG}

Open the listener page, join room "demo" and press Start:
  http://localhost:${env.BRIDGE_HTTP_PORT || 8090}/listen?room=demo

Or start music in room "demo" over MQTT:
  mosquitto_pub -L ${env.MQTT_URL}/roomcast/demo/command -m '{"type":"start_continuous_music"}'
Listen with any LiveKit client, using this listener token for room "demo" (valid 2 hours):
  ${token}
Stop with Ctrl-C.
`);
}

process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));
main().catch((err: Error) => {
  console.error(`[local-stack] ${err.message}`);
  void stop(1);
});
