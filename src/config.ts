/**
 * The one config loader. Every setting comes from the environment, is validated here, and a bad
 * or missing one fails the start with a message that names the variable and the fix.
 */
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().positive();
/** A comma-separated list; blanks dropped. */
const commaList = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

const livekitSchema = z.object({
  LIVEKIT_URL: z.string({ message: 'is required, e.g. ws://localhost:7880' }).regex(/^(wss?|https?):\/\/.+/, 'must be a ws://, wss://, http:// or https:// URL'),
  LIVEKIT_API_KEY: z.string({ message: 'is required (an API key from livekit.yaml)' }).min(1),
  LIVEKIT_API_SECRET: z.string({ message: 'is required (the secret of LIVEKIT_API_KEY)' }).min(1),
  ROOMCAST_AGENT_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"')
    .default('roomcast'),
});

const commonSchema = z.object({
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  LOG_PRETTY: z.stringbool().default(false),
});

const mqttSchema = z.object({
  MQTT_URL: z.string({ message: 'is required, e.g. mqtt://localhost:1883' }).regex(/^(mqtts?|wss?|tcp|ssl):\/\/.+/, 'must be an mqtt://, mqtts://, ws:// or wss:// URL'),
  MQTT_USERNAME: z.string().optional(),
  MQTT_PASSWORD: z.string().optional(),
  MQTT_BASE_TOPIC: z
    .string()
    .regex(/^[^+#]+$/, 'must not contain MQTT wildcards (+ or #)')
    .transform((s) => s.replace(/\/+$/, ''))
    .default('roomcast'),
  MQTT_CLIENT_ID: z
    .string()
    .regex(/^[^/+#]{1,128}$/, 'must be 1-128 characters without "/", "+" or "#"')
    .optional(),
  MQTT_SHARE_GROUP: z
    .string()
    .regex(/^[^/+#]*$/, 'must not contain "/", "+" or "#"')
    .default(''),
});

const bridgeSchema = commonSchema
  .extend(livekitSchema.shape)
  .extend(mqttSchema.shape)
  .extend({
    AGENT_JOIN_TIMEOUT_MS: positiveMs.default(20_000),
    COMMAND_RESULT_TIMEOUT_MS: positiveMs.default(30_000),
    BRIDGE_HTTP_HOST: z.string().default('0.0.0.0'),
    BRIDGE_HTTP_PORT: port.default(8090),
    STATE_POLL_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
    STATE_CHECK_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
    BRIDGE_RATE_LIMIT: z.coerce.number().min(0).max(100_000).default(20),
    BRIDGE_RATE_BURST: z.coerce.number().int().min(1).max(100_000).default(40),
    LISTENER_PAGE: z.stringbool().default(false),
    LISTENER_LIVEKIT_URL: z
      .string()
      .regex(/^wss?:\/\/.+/, 'must be a ws:// or wss:// URL that browsers reach')
      .optional(),
    // Home Assistant MQTT discovery (bridge/homeAssistant.ts) for these rooms; none: off.
    HA_DISCOVERY_ROOMS: commaList.pipe(z.array(z.string().regex(/^[A-Za-z0-9._:@-]{1,128}$/, 'must be session ids ([A-Za-z0-9._:@-], 1-128 characters), comma-separated'))),
    HA_DISCOVERY_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'must be an MQTT topic prefix without wildcards')
      .default('homeassistant'),
    // Optional for the bridge: the catalog the agents play, for the genres Home Assistant and the listener page offer.
    MUSIC_CATALOG: z.string().optional(),
  });

const agentSchema = commonSchema.extend(livekitSchema.shape).extend({
  // Optional for the agent: with it, each host process reports its rooms to the bridges over MQTT.
  MQTT_URL: mqttSchema.shape.MQTT_URL.optional(),
  MQTT_BASE_TOPIC: mqttSchema.shape.MQTT_BASE_TOPIC,
  AGENT_MQTT_USERNAME: z.string().optional(),
  AGENT_MQTT_PASSWORD: z.string().optional(),
  MUSIC_CATALOG: z.string({ message: 'is required: a JSON or M3U catalog (path or http(s) URL), or a folder of audio files' }).min(1),
  AGENT_HTTP_HOST: z.string().default('0.0.0.0'),
  AGENT_METRICS_PORT: port.default(8091),
  AGENT_PROCESSES: z.coerce.number().int().min(1).max(256).default(availableParallelism()),
  AGENT_MAX_ROOMS: z.coerce.number().int().min(1).max(10_000).default(25),
  AGENT_IDLE_TRACK_MS: z.coerce.number().int().min(0).max(3_600_000).default(5_000),
  // A host process with no rooms left restarts once this many tracks were left to rtc-node (0: never).
  AGENT_RECYCLE_AFTER_LEAKS: z.coerce.number().int().min(0).max(100_000).default(20),
  AGENT_CONTROL_IDENTITIES: commaList,
  AGENT_EMPTY_ROOM_MS: z.coerce.number().int().min(0).default(60_000),
  AUDIO_BITRATE: z.coerce.number().int().min(16_000).max(510_000).default(128_000),
  AUDIO_QUEUE_MS: z.coerce.number().int().min(20).max(5_000).default(20),
  FFMPEG_PATH: z.string().min(1).optional(),
  SONG_START_TIMEOUT_MS: positiveMs.default(5_000),
  LOUDNESS_NORMALIZATION: z.stringbool().default(true),
  LOUDNESS_TARGET_LUFS: z.coerce.number().min(-40).max(-5).default(-16),
  LOUDNESS_CACHE: z
    .string()
    .min(1)
    .default(join(homedir(), '.cache', 'roomcast', 'loudness.json')),
  SONG_STALL_TIMEOUT_MS: positiveMs.default(2_000),
  STATION_GIVE_UP_MS: positiveMs.default(15_000),
  CROSSFADE_SECONDS: z.coerce.number().min(0).max(12).default(0),
  GOOGLE_API_KEY: z.string().min(1).optional(),
  GEMINI_API_KEY: z.string().min(1).optional(),
  LYRIA_MODEL: z.string().min(1).default('models/lyria-realtime-exp'),
  LYRIA_BASE_URL: z.url({ message: 'must be an http(s) URL' }).optional(),
  LYRIA_PREBUFFER_MS: z.coerce.number().int().min(100).max(10_000).default(1_000),
  LYRIA_MAX_BUFFER_MS: z.coerce.number().int().min(2_000).max(120_000).default(30_000),
  LYRIA_CONNECT_TIMEOUT_MS: positiveMs.default(10_000),
  LYRIA_SILENCE_TIMEOUT_MS: positiveMs.default(6_000),
  LYRIA_PROMPT_FADE_MS: z.coerce.number().int().min(0).max(60_000).default(3_000),
  DUCKING: z.stringbool().default(true),
  DUCKING_MODE: z.enum(['duck', 'pause']).default('duck'),
  DUCKING_DEPTH_DB: z.coerce.number().min(-60).max(-1).default(-15),
  DUCKING_ATTACK_MS: z.coerce.number().int().min(0).max(5_000).default(50),
  DUCKING_HOLD_MS: z.coerce.number().int().min(0).max(10_000).default(500),
  DUCKING_RELEASE_MS: z.coerce.number().int().min(0).max(10_000).default(600),
});

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee .env.example for every variable.`);
    this.name = 'ConfigError';
  }
}

function parse<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  // Treat empty strings as unset, as docker compose and shells often pass them.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      const value = cleaned[name];
      const shown = value === undefined || /SECRET|PASSWORD|KEY/.test(name) ? '' : ` (got "${value}")`;
      return `${name} ${issue.message}${shown}`;
    }),
  );
}

function livekitSection(e: z.output<typeof livekitSchema>) {
  return {
    url: e.LIVEKIT_URL,
    apiKey: e.LIVEKIT_API_KEY,
    apiSecret: e.LIVEKIT_API_SECRET,
    agentName: e.ROOMCAST_AGENT_NAME,
  };
}

function logSection(e: z.output<typeof commonSchema>) {
  return { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY };
}

export type LiveKitConfig = ReturnType<typeof livekitSection>;
export type LogConfig = ReturnType<typeof logSection>;

export function loadBridgeConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parse(bridgeSchema, env);
  return {
    log: logSection(e),
    livekit: livekitSection(e),
    mqtt: {
      url: e.MQTT_URL,
      username: e.MQTT_USERNAME,
      password: e.MQTT_PASSWORD,
      baseTopic: e.MQTT_BASE_TOPIC,
      clientId: e.MQTT_CLIENT_ID,
      shareGroup: e.MQTT_SHARE_GROUP,
    },
    agentJoinTimeoutMs: e.AGENT_JOIN_TIMEOUT_MS,
    resultTimeoutMs: e.COMMAND_RESULT_TIMEOUT_MS,
    http: { host: e.BRIDGE_HTTP_HOST, port: e.BRIDGE_HTTP_PORT },
    statePollMs: e.STATE_POLL_MS,
    stateCheckMs: e.STATE_CHECK_MS,
    rateLimit: { perSecond: e.BRIDGE_RATE_LIMIT, burst: e.BRIDGE_RATE_BURST },
    listenerPage: e.LISTENER_PAGE ? { livekitUrl: e.LISTENER_LIVEKIT_URL ?? e.LIVEKIT_URL.replace(/^http/, 'ws') } : undefined,
    homeAssistant: e.HA_DISCOVERY_ROOMS.length > 0 ? { rooms: e.HA_DISCOVERY_ROOMS, prefix: e.HA_DISCOVERY_PREFIX } : undefined,
    catalog: e.MUSIC_CATALOG,
  };
}

export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parse(agentSchema, env);
  return {
    log: logSection(e),
    livekit: livekitSection(e),
    catalog: e.MUSIC_CATALOG,
    mqtt: e.MQTT_URL ? { url: e.MQTT_URL, username: e.AGENT_MQTT_USERNAME, password: e.AGENT_MQTT_PASSWORD, baseTopic: e.MQTT_BASE_TOPIC } : undefined,
    http: { host: e.AGENT_HTTP_HOST, port: e.AGENT_METRICS_PORT },
    processes: e.AGENT_PROCESSES,
    maxRooms: e.AGENT_MAX_ROOMS,
    recycleAfterLeaks: e.AGENT_RECYCLE_AFTER_LEAKS,
    controlIdentities: e.AGENT_CONTROL_IDENTITIES,
    emptyRoomMs: e.AGENT_EMPTY_ROOM_MS,
    audio: { bitrate: e.AUDIO_BITRATE, queueMs: e.AUDIO_QUEUE_MS, idleMs: e.AGENT_IDLE_TRACK_MS },
    ffmpegPath: e.FFMPEG_PATH,
    songTimeouts: { startTimeoutMs: e.SONG_START_TIMEOUT_MS, stallTimeoutMs: e.SONG_STALL_TIMEOUT_MS, stationGiveUpMs: e.STATION_GIVE_UP_MS },
    crossfadeMs: Math.round(e.CROSSFADE_SECONDS * 1000),
    ducking: { enabled: e.DUCKING, mode: e.DUCKING_MODE, depthDb: e.DUCKING_DEPTH_DB, attackMs: e.DUCKING_ATTACK_MS, holdMs: e.DUCKING_HOLD_MS, releaseMs: e.DUCKING_RELEASE_MS },
    loudness: e.LOUDNESS_NORMALIZATION ? { targetLufs: e.LOUDNESS_TARGET_LUFS, cacheFile: e.LOUDNESS_CACHE } : undefined,
    lyria: {
      apiKey: e.GOOGLE_API_KEY ?? e.GEMINI_API_KEY,
      model: e.LYRIA_MODEL,
      baseUrl: e.LYRIA_BASE_URL,
      prebufferMs: e.LYRIA_PREBUFFER_MS,
      maxBufferMs: e.LYRIA_MAX_BUFFER_MS,
      connectTimeoutMs: e.LYRIA_CONNECT_TIMEOUT_MS,
      silenceTimeoutMs: e.LYRIA_SILENCE_TIMEOUT_MS,
      promptFadeMs: e.LYRIA_PROMPT_FADE_MS,
    },
  };
}

/** What `roomcast send` needs: the broker. */
export function loadMqttClientConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parse(commonSchema.extend(mqttSchema.shape), env);
  return { url: e.MQTT_URL, username: e.MQTT_USERNAME, password: e.MQTT_PASSWORD, baseTopic: e.MQTT_BASE_TOPIC };
}

/** What `roomcast token` needs: the LiveKit key and secret (and the URL, for a join link). */
export function loadTokenConfig(env: NodeJS.ProcessEnv = process.env) {
  return livekitSection(parse(livekitSchema, env));
}

export type BridgeConfig = ReturnType<typeof loadBridgeConfig>;
export type AgentConfig = ReturnType<typeof loadAgentConfig>;
