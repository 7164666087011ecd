/**
 * The real stack for end-to-end tests: livekit-server, Mosquitto, and Roomcast's bridge and agent
 * as child processes on free ports. Runs inside the namespace scripts/test-e2e.sh makes; outside
 * it (no ROOMCAST_TEST_HOST) the suite refuses to run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { livekitServerBinary, mosquittoBinary } from '../../scripts/binaries.js';
import { ARTIFACTS, freePort, startProcess, waitUntil, type Proc } from './processes.js';

export const API_KEY = 'roomcast-test';
export const API_SECRET = 'roomcast-test-secret-0123456789abcdef0123456789';

export function testHost(): string {
  const host = process.env.ROOMCAST_TEST_HOST;
  if (!host) throw new Error('the end-to-end suite runs inside scripts/test-e2e.sh (npm run test:e2e), which makes its network namespace');
  return host;
}

export interface LiveKitServer {
  url: string;
  proc: Proc;
  restart(): Promise<void>;
  /** This node's id in a multi-node cluster (new on every start), from its startup log line. */
  nodeId(): string;
}

/**
 * One livekit-server. With `redis` (host:port) it is a node of a multi-node cluster: rooms are
 * placed on any node of the cluster, and each node serves every room (signalling is forwarded).
 */
export async function startLiveKit(host = testHost(), { redis }: { redis?: string } = {}): Promise<LiveKitServer> {
  const [port, rtcTcp, rtcUdp] = [await freePort(host), await freePort(host), await freePort(host)];
  const dir = join(ARTIFACTS, 'livekit');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, `livekit-${port}.yaml`);
  writeFileSync(
    config,
    [
      `port: ${port}`,
      `bind_addresses: ["${host}"]`,
      'rtc:',
      `  tcp_port: ${rtcTcp}`,
      `  udp_port: ${rtcUdp}`,
      '  use_external_ip: false',
      `  node_ip: ${host}`,
      'keys:',
      `  ${API_KEY}: ${API_SECRET}`,
      'logging:',
      '  level: info',
      'room:',
      // As in the shipped livekit.yaml: a room that only agents joined closes after empty_timeout.
      '  empty_timeout: 300',
      '  departure_timeout: 10',
      ...(redis ? ['redis:', `  address: ${redis}`] : []),
      '',
    ].join('\n'),
  );
  const url = `ws://${host}:${port}`;
  const launch = async () => {
    // The nodes of a cluster each have their own log.
    const proc = startProcess(redis ? `livekit-server-${port}` : 'livekit-server', livekitServerBinary(), ['--config', config]);
    await waitUntil(async () => (await fetch(`http://${host}:${port}/`)).ok, 20_000, 'livekit-server to answer');
    return proc;
  };
  const server: LiveKitServer = {
    url,
    proc: await launch(),
    async restart() {
      await server.proc.stop();
      server.proc = await launch();
    },
    nodeId() {
      const id = /"nodeID":\s*"(ND_[A-Za-z0-9]+)"/.exec(server.proc.output())?.[1];
      if (!id) throw new Error('livekit-server did not log its node id');
      return id;
    },
  };
  return server;
}

export interface Redis {
  /** host:port, for livekit.yaml's `redis.address`. */
  address: string;
  proc: Proc;
  /** The node id a multi-node cluster placed `room` on (its `room_node_map`), if any. */
  nodeOfRoom(room: string): string | undefined;
}

/** A private Redis (Debian's redis-server), no persistence: for a multi-node LiveKit cluster. */
export async function startRedis(host = testHost()): Promise<Redis> {
  const port = await freePort(host);
  const proc = startProcess('redis-server', 'redis-server', ['--bind', host, '--port', String(port), '--protected-mode', 'no', '--save', '', '--appendonly', 'no']);
  await proc.waitFor(/Ready to accept connections/, 10_000);
  return {
    address: `${host}:${port}`,
    proc,
    nodeOfRoom(room) {
      const out = execFileSync('redis-cli', ['-h', host, '-p', String(port), '--raw', 'HGET', 'room_node_map', room], { encoding: 'utf8' }).trim();
      return out || undefined;
    },
  };
}

export interface Broker {
  url: string;
  port: number;
  proc: Proc;
  /** Stops the broker and starts it again on the same port. */
  restart(downMs?: number): Promise<void>;
}

/** `verbose`: log every packet (the tests' diagnostics; it costs the broker CPU under load). */
export async function startMosquitto(host = testHost(), extraConfig: string[] = ['allow_anonymous true'], { verbose = true } = {}): Promise<Broker> {
  const port = await freePort(host);
  const dir = join(ARTIFACTS, 'mosquitto');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, `mosquitto-${port}.conf`);
  // max_queued_messages as in the shipped mosquitto.conf (bursts of commands and replies).
  writeFileSync(config, [`listener ${port} ${host}`, 'persistence false', 'max_queued_messages 100000', ...extraConfig, ''].join('\n'));
  const launch = async () => {
    const proc = startProcess('mosquitto', mosquittoBinary(), ['-c', config, ...(verbose ? ['-v'] : [])]);
    await proc.waitFor(/running|Opening ipv4 listen socket/, 10_000);
    return proc;
  };
  const broker: Broker = {
    url: `mqtt://${host}:${port}`,
    port,
    proc: await launch(),
    async restart(downMs = 0) {
      await broker.proc.stop();
      await new Promise((r) => setTimeout(r, downMs));
      broker.proc = await launch();
    },
  };
  return broker;
}

/** The agent name the stack's agents register with, unless told otherwise. */
export const TEST_AGENT_NAME = 'roomcast-test';

export interface RoomcastEnv {
  livekitUrl: string;
  mqttUrl: string;
  catalog: string;
  agentName?: string;
  extra?: NodeJS.ProcessEnv;
}

function roomcastEnv(env: RoomcastEnv): NodeJS.ProcessEnv {
  return {
    LIVEKIT_URL: env.livekitUrl,
    LIVEKIT_API_KEY: API_KEY,
    LIVEKIT_API_SECRET: API_SECRET,
    MQTT_URL: env.mqttUrl,
    MUSIC_CATALOG: env.catalog,
    ROOMCAST_AGENT_NAME: env.agentName ?? TEST_AGENT_NAME,
    LOG_LEVEL: 'debug',
    // A fresh loudness cache per stack: every run measures, as a new machine would.
    LOUDNESS_CACHE: join(ARTIFACTS, `loudness-${process.pid}-${Date.now()}.json`),
    ...env.extra,
  };
}

const DIST = join(process.cwd(), 'dist');

/** A Roomcast process, with the URL of its /metrics and /healthz server. */
export interface RoomcastProc extends Proc {
  opsUrl: string;
}

export async function startAgent(env: RoomcastEnv, name = 'agent', script = 'agent/main.js'): Promise<RoomcastProc> {
  const metricsPort = await freePort('127.0.0.1');
  const proc = startProcess(name, process.execPath, [join(DIST, script), 'start'], {
    ...roomcastEnv(env),
    AGENT_HTTP_HOST: '127.0.0.1',
    // The stock agent of the bench (@livekit/agents) serves its own health endpoint there.
    AGENT_HTTP_PORT: String(await freePort('127.0.0.1')),
    AGENT_METRICS_PORT: String(metricsPort),
  });
  await proc.waitFor(/registered worker/, 30_000);
  return Object.assign(proc, { opsUrl: `http://127.0.0.1:${metricsPort}` });
}

export async function startBridge(env: RoomcastEnv, name = 'bridge'): Promise<RoomcastProc> {
  const port = await freePort('127.0.0.1');
  const proc = startProcess(name, process.execPath, [join(DIST, 'bridge/main.js')], { ...roomcastEnv(env), BRIDGE_HTTP_HOST: '127.0.0.1', BRIDGE_HTTP_PORT: String(port) });
  await proc.waitFor(/bridge ready/, 20_000);
  return Object.assign(proc, { opsUrl: `http://127.0.0.1:${port}` });
}
