/**
 * `npm start`: the whole system on this machine without Docker. Whatever the environment does not
 * point elsewhere is started here with development defaults: livekit-server (livekit.yaml),
 * Mosquitto (listening on 127.0.0.1 only), and the demo catalog; then the agent and the bridge.
 * Ctrl-C stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { listenerToken } from '../src/livekit/tokens.js';
import { livekitServerBinary, mosquittoBinary } from './binaries.js';
import { ensureDemoCatalog } from './demo-catalog.js';

const ROOT = resolve(import.meta.dirname, '../..');
const STATE = join(ROOT, '.roomcast');
const DEV_KEY = 'devkey';
const DEV_SECRET = 'roomcast-development-secret-change-me-0123';

const children: ChildProcess[] = [];

function run(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): void {
  const child = spawn(command, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`[local-stack] ${name} exited (${signal ?? code}); stopping everything`);
    stop(1);
  });
  children.push(child);
}

let stopping = false;
/** SIGTERM to every child; exits once they all have (livekit-server drains first), at most 5 s. */
function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
  for (const child of running) child.kill('SIGTERM');
  void Promise.all(running.map((c) => new Promise((r) => c.once('exit', r)))).then(() => process.exit(code));
  setTimeout(() => {
    for (const child of running) child.kill('SIGKILL');
    process.exit(code);
  }, 5_000).unref();
}

async function waitForHttp(url: string, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await fetch(url).then((r) => r.ok).catch(() => false)) return;
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
    run('livekit-server', livekitServerBinary(), ['--config', join(ROOT, 'livekit.yaml')], {
      ...env,
      LIVEKIT_KEYS: `${env.LIVEKIT_API_KEY}: ${env.LIVEKIT_API_SECRET}`,
    });
    env.LIVEKIT_URL = 'ws://localhost:7880';
    await waitForHttp('http://localhost:7880/', 'livekit-server');
  }

  if (!env.MQTT_URL) {
    const config = join(STATE, 'mosquitto.conf');
    // Development only: anonymous clients, reachable from this machine alone.
    writeFileSync(config, 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n');
    run('mosquitto', mosquittoBinary(), ['-c', config], env);
    env.MQTT_URL = 'mqtt://127.0.0.1:1883';
  }

  env.MUSIC_CATALOG ||= ensureDemoCatalog(join(STATE, 'demo'));

  // The listener page, on this machine only: it hands out listener tokens to whoever asks.
  env.LISTENER_PAGE ||= 'true';
  env.BRIDGE_HTTP_HOST ||= '127.0.0.1';
  run('agent', process.execPath, [join(ROOT, 'dist/src/agent/main.js'), 'start'], env);
  run('bridge', process.execPath, [join(ROOT, 'dist/src/bridge/main.js')], env);
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

process.once('SIGINT', () => stop(0));
process.once('SIGTERM', () => stop(0));
main().catch((err: Error) => {
  console.error(`[local-stack] ${err.message}`);
  stop(1);
});
