/** What travels back: MQTT replies to the app, and events the agent publishes on `music_control`. */
import type { CommandType } from './commands.js';

/** Data-channel topic shared by commands (bridge → agent) and confirmations/events (agent → room). */
export const MUSIC_CONTROL_TOPIC = 'music_control';

/** The participant name of a Roomcast agent, from the moment it joins. */
export const agentParticipantName = (agentName: string) => `roomcast:${agentName}`;

/** Participant attribute that marks the Roomcast agent in a room; its value is the agent name. */
export const AGENT_ATTRIBUTE = 'roomcast.agent';

/** Participant attribute with the agent's music state (JSON), for every client and the bridge. */
export const STATE_ATTRIBUTE = 'roomcast.state';

/**
 * Participant attribute `true` on an agent whose worker is stopping: it plays on until another
 * Roomcast agent plays in the room, then leaves. A joining agent does not give way to it.
 */
export const DRAINING_ATTRIBUTE = 'roomcast.draining';

/** Participant attribute with the agent's last confirmations (JSON array, newest last). */
export const RESULTS_ATTRIBUTE = 'roomcast.results';
/**
 * Enough for a whole burst of commands between two readings of the bridge, within LiveKit's
 * 64 KiB for all of a participant's attributes.
 */
export const RESULTS_KEPT = 256;
export const RESULTS_MAX_BYTES = 40_000;

/**
 * Participant attribute with the request_ids of the last packets the agent received (JSON array,
 * newest last), set as soon as they arrive: the bridge's acknowledgement that a packet got through.
 * 32 ids of at most 128 characters stay within the 64 KiB with the results and the state.
 */
export const RECEIVED_ATTRIBUTE = 'roomcast.received';
export const RECEIVED_KEPT = 32;

/**
 * The bridge reads a room whose receipts or confirmations it awaits this often (ms), so an agent
 * in a burst of commands updates its attributes no more often than that.
 */
export const BRIDGE_READ_INTERVAL_MS = 100;

/**
 * Commands queued for one room while the previous packet was being sent travel together, as a
 * JSON array, in packets of at most this size (LiveKit's reliable data packets stay under 15 KiB).
 */
export const MAX_PACKET_BYTES = 14_000;

export type ErrorCode = 'invalid_command' | 'session_mismatch' | 'rate_limited' | 'no_agent' | 'no_capacity' | 'delivery_failed' | 'command_failed' | 'no_confirmation';

export interface Reply {
  type: 'reply';
  /** The command type this answers, when it could be read. */
  command?: CommandType | string;
  ok: boolean;
  /** accepted: delivered to the room's agent; done: the agent applied it; error: see `error`. */
  status: 'accepted' | 'done' | 'error';
  /** With done (and command_failed): the agent's confirmation, as the room saw it. */
  result?: Confirmation;
  message: string;
  request_id?: string;
  session_id: string;
  error?: { code: ErrorCode; reason: string };
}

export interface TrackInfo {
  id: string;
  title: string;
  artist?: string;
  /** The song's length, when the catalog tells it. */
  duration_ms?: number;
  /** A live station: it plays until skipped. */
  live?: true;
  /** A station's current title, from its stream (ICY StreamTitle, Ogg comments). */
  stream_title?: string;
}

/**
 * What the agent answers when no music plays; the bridge gives the same answers for a room without
 * an agent (src/mqtt/bridge.ts, withoutMusic), so the app cannot tell the two apart.
 */
export const NO_MUSIC = {
  notPlaying: 'no music is playing',
  notActive: 'Music streaming is not active',
  lyriaOnly: (commandType: string) => `${commandType} applies to Lyria music; start it with "source": "lyria"`,
};

/** Confirmation types from the seed, one per command. */
export const CONFIRMATION_TYPE = {
  start_continuous_music: 'continuous_music_started',
  stop_continuous_music: 'continuous_music_stopped',
  skip_music: 'music_skipped',
  pause_music: 'music_paused',
  resume_music: 'music_resumed',
  set_music_prompts: 'music_prompts_set',
  set_music_config: 'music_config_set',
  previous_music: 'music_previous',
  play_music: 'music_playing',
  enqueue_music: 'music_enqueued',
  set_volume: 'music_volume_set',
  get_music_status: 'music_status',
  set_ducking: 'music_ducking_set',
} as const satisfies Record<CommandType, string>;

export type SourceKind = 'playlist' | 'lyria';

export interface Confirmation {
  type: (typeof CONFIRMATION_TYPE)[CommandType];
  ok: boolean;
  message: string;
  request_id?: string;
  source?: SourceKind;
  language?: string;
  genre?: string;
  track?: TrackInfo;
  /** Lyria: the command's bpm or scale change was applied through a context reset. */
  context_reset?: boolean;
  /** Lyria: prompts the service filtered out, and its warnings, seen while applying the command. */
  filtered_prompts?: Array<{ text: string; reason: string }>;
  warnings?: string[];
  /** enqueue_music: the song's place in the queue (1 = next). */
  position?: number;
  volume?: number;
  /** get_music_status: the room's state, as in the retained state topic. */
  status?: object;
  /** set_ducking: the room's ducking settings as they now are. */
  ducking?: object;
}

/** A music source's condition, as the agent announces it on `music_control`. */
export interface SourceStateEvent {
  type: 'source_state';
  source: SourceKind;
  state: 'connected' | 'reconnecting' | 'failed';
  error?: string;
  /** After a reconnection: how long the room was without the source's audio. */
  recovered_after_ms?: number;
}

/** Lyria's notices: a filtered prompt, or a warning from the service. */
export type SourceNotice = { type: 'prompt_filtered'; text: string; reason: string } | { type: 'source_warning'; message: string };

export type TrackEndReason = 'finished' | 'skipped' | 'stopped' | 'failed';

export type TrackEvent =
  | { type: 'track_started'; track: TrackInfo }
  | { type: 'track_ended'; track: TrackInfo; reason: TrackEndReason }
  | { type: 'track_failed'; track: TrackInfo; error: string }
  /** A station's title changed (track.stream_title). */
  | { type: 'track_metadata'; track: TrackInfo };

export function encodeJson(message: object): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message));
}
