/** The whole Roomcast system on the real stack, as most end-to-end test files want it. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type Sent } from './app.js';
import { Listener } from './listener.js';
import { API_KEY, API_SECRET, startAgent, startBridge, startLiveKit, startMosquitto, startRedis, type Broker, type LiveKitServer, type Redis, type RoomcastEnv, type RoomcastProc } from './stack.js';
import { makeToneCatalog, type ToneSong, type ToneSpec } from './tones.js';

export interface Roomcast {
  /** The LiveKit server, or the first node of a multi-node cluster (the one `env` points at). */
  livekit: LiveKitServer;
  /** Every node: one, or two sharing `redis` (`nodes: 2`). */
  livekitNodes: LiveKitServer[];
  redis?: Redis | undefined;
  broker: Broker;
  agent: RoomcastProc;
  bridge: RoomcastProc;
  app: App;
  songs: ToneSong[];
  env: RoomcastEnv;
  /** The tone frequency of a catalog track id (NaN when unknown). */
  frequencyOf(trackId: unknown): number;
  /** A new rtc-node listener in `room`; left automatically by stop(). */
  listen(room: string, options?: { identity?: string; canPublishData?: boolean; trackName?: string }): Promise<Listener>;
  /** A listener joins `room`, then the playlist starts there; resolves once the agent confirmed. */
  startIn(room: string, command?: object): Promise<{ listener: Listener; sent: Sent }>;
  stop(): Promise<void>;
}

export const DEFAULT_TONES: ToneSpec[] = [
  { id: 'a440', frequency: 440, format: 'mp3', seconds: 4, language: 'English', genre: 'pop' },
  { id: 'a660', frequency: 660, format: 'ogg', seconds: 4, language: 'English', genre: 'pop' },
  { id: 'a880', frequency: 880, format: 'flac', seconds: 4, language: 'English', genre: 'pop' },
  { id: 'b1320', frequency: 1320, format: 'mp3', seconds: 4, language: 'Spanish', genre: 'rock' },
];

/**
 * The stack with a catalog of generated tones, or with the catalog at `catalogPath`.
 * `agentScript`: another agent worker than Roomcast's (the bench's stock agent), under dist/.
 * `quiet`: the shipped log levels (info, a broker that does not log every packet) instead of the
 * tests' debug logs: what the bench measures.
 * `nodes: 2`: LiveKit's distributed mode, two livekit-server nodes sharing a Redis.
 */
export async function startRoomcast(
  tones: ToneSpec[] = DEFAULT_TONES,
  agentEnv: NodeJS.ProcessEnv = {},
  catalogPath?: string,
  bridgeEnv: NodeJS.ProcessEnv = {},
  { agentScript, quiet = false, nodes = 1 }: { agentScript?: string; quiet?: boolean; nodes?: 1 | 2 } = {},
): Promise<Roomcast> {
  const catalog = catalogPath ? { path: catalogPath, songs: [] } : makeToneCatalog(mkdtempSync(join(tmpdir(), 'roomcast-tones-')), tones);
  const redis = nodes > 1 ? await startRedis() : undefined;
  const startNodes = () => Promise.all(Array.from({ length: nodes }, () => startLiveKit(undefined, { redis: redis?.address })));
  const [livekitNodes, broker] = await Promise.all([startNodes(), startMosquitto(undefined, undefined, { verbose: !quiet })]);
  const livekit = livekitNodes[0] as LiveKitServer;
  const env = { livekitUrl: livekit.url, mqttUrl: broker.url, catalog: catalog.path };
  const logLevel = quiet ? { LOG_LEVEL: 'info' } : {};
  const [agent, bridge] = await Promise.all([startAgent({ ...env, extra: { ...logLevel, ...agentEnv } }, 'agent', agentScript), startBridge({ ...env, extra: { ...logLevel, ...bridgeEnv } })]);
  const app = await App.connect(broker.url);
  const listeners: Listener[] = [];
  const rc: Roomcast = {
    livekit,
    livekitNodes,
    redis,
    broker,
    agent,
    bridge,
    app,
    env,
    songs: catalog.songs,
    frequencyOf: (trackId) => catalog.songs.find((s) => s.id === trackId)?.frequency ?? NaN,
    async listen(room, options) {
      const listener = await Listener.join(livekit.url, API_KEY, API_SECRET, room, options);
      listeners.push(listener);
      return listener;
    },
    async startIn(room, command = { type: 'start_continuous_music', genre: 'pop' }) {
      const listener = await rc.listen(room);
      const sent = app.send(room, command);
      await sent.final;
      return { listener, sent };
    },
    async stop() {
      await Promise.allSettled(listeners.map((l) => l.leave()));
      await app.close().catch(() => undefined);
      await Promise.allSettled([agent.stop(), bridge.stop()]);
      await Promise.allSettled([...livekitNodes.map((n) => n.proc.stop()), broker.proc.stop(), redis?.proc.stop()]);
    },
  };
  return rc;
}

/** The track id in a confirmation or track event body. */
export const trackId = (body: Record<string, unknown>) => (body.track as { id?: string } | undefined)?.id;
