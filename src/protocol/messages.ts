/** What travels back: MQTT replies to the app, and events the agent publishes on `music_control`. */
import type { CommandType } from './commands.js';

/** Data-channel topic shared by commands (bridge → agent) and confirmations/events (agent → room). */
export const MUSIC_CONTROL_TOPIC = 'music_control';

/** Participant attribute that marks the Roomcast agent in a room; its value is the agent name. */
export const AGENT_ATTRIBUTE = 'roomcast.agent';

export type ErrorCode = 'invalid_command' | 'session_mismatch' | 'no_agent' | 'delivery_failed' | 'internal';

export interface Reply {
  type: 'reply';
  /** The command type this answers, when it could be read. */
  command?: CommandType | string;
  ok: boolean;
  /** accepted: delivered to the room's agent. error: not delivered, see `error`. */
  status: 'accepted' | 'error';
  message: string;
  request_id?: string;
  session_id: string;
  error?: { code: ErrorCode; reason: string };
}

export interface TrackInfo {
  id: string;
  title: string;
  artist?: string;
}

/** Confirmation types from the seed, one per command. */
export const CONFIRMATION_TYPE = {
  start_continuous_music: 'continuous_music_started',
  stop_continuous_music: 'continuous_music_stopped',
  skip_music: 'music_skipped',
} as const satisfies Record<CommandType, string>;

export interface Confirmation {
  type: (typeof CONFIRMATION_TYPE)[CommandType];
  ok: boolean;
  message: string;
  request_id?: string;
  language?: string;
  genre?: string;
  track?: TrackInfo;
}

export type TrackEndReason = 'finished' | 'skipped' | 'stopped' | 'failed';

export type TrackEvent =
  | { type: 'track_started'; track: TrackInfo }
  | { type: 'track_ended'; track: TrackInfo; reason: TrackEndReason }
  | { type: 'track_failed'; track: TrackInfo; error: string };

export function encodeJson(message: object): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message));
}
