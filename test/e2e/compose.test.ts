/**
 * Issue "`docker compose up`, for real": the project's Dockerfile and docker-compose.yml, unchanged,
 * on a real Docker engine (test/harness/docker.ts), with stand-ins for the upstream images this
 * machine cannot pull (test/docker/standins: they stand in for node, livekit-server, Mosquitto,
 * Alpine and Redis; this test proves the project's own files, not those images). An override only
 * where the test machine needs one: builds reach the package sources through the suite's proxy.
 * Then it acts as an app: over MQTT over TLS it starts music, a LiveKit listener hears the tone,
 * skip and stop act, `docker compose restart agent` brings the music back, and `down` ends it.
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../harness/app.js';
import { ensureStandIns, startDockerEngine, type DockerEngine, type StandInTimes } from '../harness/docker.js';
import { Listener } from '../harness/listener.js';
import { ARTIFACTS, waitUntil } from '../harness/processes.js';
import { API_KEY, API_SECRET, testHost } from '../harness/stack.js';
import { makeToneCatalog } from '../harness/tones.js';

const ROOM = 'compose-room';
const APP_PASSWORD = 'app-password-0123456789';
const MQTT_PASSWORD = 'bridge-password-0123456789';
const AGENT_MQTT_PASSWORD = 'agent-password-0123456789';
const SECRETS = [API_SECRET, APP_PASSWORD, MQTT_PASSWORD, AGENT_MQTT_PASSWORD];
const TONES = [
  { id: 'low', frequency: 440, format: 'mp3' as const, seconds: 40 },
  { id: 'mid', frequency: 660, format: 'ogg' as const, seconds: 40 },
  { id: 'high', frequency: 880, format: 'flac' as const, seconds: 40 },
];
const frequencyOf = (id: unknown) => TONES.find((t) => t.id === id)?.frequency ?? 0;

const host = testHost();
let engine: DockerEngine | undefined;
let work: string;
let app: App | undefined;
let listener: Listener | undefined;
const figures: Record<string, unknown> = {};

function compose(args: string[], timeoutMs = 600_000): Promise<string> {
  if (!engine) throw new Error('no engine');
  const files = ['-f', 'docker-compose.yml', '-f', join(work, 'compose.test.yml')];
  return engine.docker(['compose', '--project-name', 'roomcast-test', '--env-file', join(work, '.env'), ...files, ...args], { timeoutMs, log: 'compose.log' });
}

interface PsRow {
  Service: string;
  State: string;
  Health: string;
}
async function services(): Promise<PsRow[]> {
  const out = (await compose(['--profile', 'multinode', 'ps', '--all', '--format', 'json'], 30_000)).trim();
  if (!out) return [];
  return out.startsWith('[') ? (JSON.parse(out) as PsRow[]) : out.split('\n').map((line) => JSON.parse(line) as PsRow);
}

async function waitHealthy(names: string[], timeoutMs: number): Promise<void> {
  let last: PsRow[] = [];
  await waitUntil(
    async () => {
      last = await services();
      return names.every((name) => last.some((s) => s.Service === name && s.Health === 'healthy'));
    },
    timeoutMs,
    `${names.join(', ')} healthy`,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last.map((s) => [s.Service, s.State, s.Health]))}`);
  });
}

beforeAll(async () => {
  const started = Date.now();
  engine = await startDockerEngine(host);
  const standIns: StandInTimes = await ensureStandIns(engine);
  figures.standInsMade = standIns.made;
  figures.standInsSeconds = (Date.now() - started) / 1000;

  work = mkdtempSync(join(tmpdir(), 'roomcast-compose-'));
  chmodSync(work, 0o755);
  const music = join(work, 'music');
  const catalog = makeToneCatalog(music, TONES);
  // The catalog as the containers see it: the music folder is mounted at /music.
  const songs = (JSON.parse(readFileSync(catalog.path, 'utf8')) as { songs: Array<{ url: string }> }).songs.map((s) => ({ ...s, url: `/music/${basename(s.url)}` }));
  writeFileSync(catalog.path, JSON.stringify({ songs }, null, 2));
  for (const file of readdirSync(music)) chmodSync(join(music, file), 0o644);
  chmodSync(music, 0o755);

  const env = {
    LIVEKIT_API_KEY: API_KEY,
    LIVEKIT_API_SECRET: API_SECRET,
    MQTT_PASSWORD,
    AGENT_MQTT_PASSWORD,
    // An app account is named after its session (the ACL confines it there).
    MQTT_DEMO_ACCOUNT: `${ROOM}:${APP_PASSWORD}`,
    MQTT_TLS_HOST: host,
    MQTT_CERTS_DIR: join(work, 'certs'),
    MUSIC_DIR: music,
    LOG_LEVEL: 'info',
  };
  writeFileSync(
    join(work, '.env'),
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n',
  );
  // What this machine needs and a user's does not: builds reach the package sources through the
  // proxy (apt through http_proxy, npm with the proxy as its registry).
  const build = { context: process.cwd(), network: 'host', args: { http_proxy: engine.proxy, no_proxy: host, NPM_REGISTRY: `${engine.proxy}/` } };
  writeFileSync(join(work, 'compose.test.yml'), JSON.stringify({ services: { agent: { build } } }, null, 2));

  const buildStarted = Date.now();
  await compose(['build'], 1_800_000);
  figures.buildSeconds = (Date.now() - buildStarted) / 1000;
  const size = async (image: string) => Number((await engine!.docker(['image', 'inspect', '--format', '{{.Size}}', image], { timeoutMs: 30_000 })).trim());
  figures.imageMiB = Math.round((await size('roomcast:local')) / 2 ** 20);
  figures.imageOverNodeMiB = (figures.imageMiB as number) - Math.round((await size('node:20-bookworm-slim')) / 2 ** 20);

  const upStarted = Date.now();
  await compose(['up', '--detach'], 300_000);
  await waitHealthy(['livekit', 'mosquitto', 'agent', 'bridge'], 180_000);
  figures.upToHealthySeconds = (Date.now() - upStarted) / 1000;

  app = await App.connect(`mqtts://${host}:8883`, 'roomcast', {
    username: ROOM,
    password: APP_PASSWORD,
    ca: readFileSync(join(work, 'certs/ca.crt')),
  });
  listener = await Listener.join(`ws://${host}:7880`, API_KEY, API_SECRET, ROOM);
}, 2_400_000);

afterAll(async () => {
  await listener?.leave().catch(() => undefined);
  await app?.close().catch(() => undefined);
  if (engine && work) {
    const logs = await compose(['--profile', 'multinode', 'logs', '--no-color', '--timestamps'], 60_000).catch((err: Error) => err.message);
    writeFileSync(join(ARTIFACTS, 'compose-services.log'), logs);
    await compose(['--profile', 'multinode', 'down', '--volumes', '--remove-orphans', '--timeout', '10'], 120_000).catch(() => undefined);
    writeFileSync(join(ARTIFACTS, 'compose-measurements.json'), JSON.stringify(figures, null, 2));
    console.log('compose figures', figures);
  }
  await engine?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 300_000);

describe('docker compose up, for real', () => {
  it('an app over MQTT over TLS starts music and a listener hears it; skip and stop act', async () => {
    const sent = app!.send(ROOM, { type: 'start_continuous_music' }, 60_000);
    const done = await sent.final;
    expect(done).toMatchObject({ ok: true, status: 'done' });
    const first = frequencyOf((done.result as { track?: { id?: string } }).track?.id);
    expect(first).toBeGreaterThan(0);
    const heard = await listener!.waitForTone(first, { since: sent.at, timeoutMs: 30_000 });
    figures.startToSoundMs = heard.firstFrameAt - sent.at;

    const skip = app!.send(ROOM, { type: 'skip_music' });
    const skipped = await skip.final;
    expect(skipped).toMatchObject({ ok: true, status: 'done' });
    const next = frequencyOf((skipped.result as { track?: { id?: string } }).track?.id);
    expect(next).toBeGreaterThan(0);
    expect(next).not.toBe(first);
    const skipHeard = await listener!.waitForTone(next, { since: skip.at, timeoutMs: 15_000 });
    figures.skipToNextMs = skipHeard.firstFrameAt - skip.at;

    const stop = app!.send(ROOM, { type: 'stop_continuous_music' });
    expect(await stop.final).toMatchObject({ ok: true, status: 'done' });
    await listener!.waitForSilence({ since: stop.at, timeoutMs: 10_000 });
  });

  it('docker compose restart agent: the music comes back in the room', async () => {
    const start = app!.send(ROOM, { type: 'start_continuous_music' }, 60_000);
    const done = await start.final;
    await listener!.waitForTone(frequencyOf((done.result as { track?: { id?: string } }).track?.id), { since: start.at, timeoutMs: 30_000 });

    const restarted = Date.now();
    await compose(['restart', 'agent'], 120_000);
    // Back: any of the songs, heard after the restart began (the old agent's audio ends first).
    const back = await listener!.waitForWindow((w) => w.firstFrameAt > restarted + 500 && TONES.some((t) => Math.abs(w.frequency - t.frequency) <= t.frequency * 0.03 && w.level > 0.01), {
      since: restarted,
      timeoutMs: 90_000,
      what: 'music after the restart',
    });
    figures.restartToMusicMs = back.firstFrameAt - restarted;
    await waitHealthy(['agent'], 60_000);
  }, 240_000);

  it('the multinode profile: a Redis and a second LiveKit node come up healthy beside the first', async () => {
    await compose(['--profile', 'multinode', 'up', '--detach', 'redis', 'livekit-2'], 180_000);
    await waitHealthy(['redis', 'livekit-2'], 120_000);
    await compose(['--profile', 'multinode', 'stop', 'redis', 'livekit-2'], 60_000);
  }, 300_000);

  it('the services log no secret, and no raw debug JSON at LOG_LEVEL=info', async () => {
    const logs = await compose(['logs', '--no-color', 'agent', 'bridge'], 60_000);
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of SECRETS) expect(logs).not.toContain(secret);
    expect(logs).not.toMatch(/"level":(10|20),/);
  });
});
