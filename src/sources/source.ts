/**
 * What the room plays from. A source writes 48 kHz stereo frames to the room's sink at the pace
 * the sink takes them, reports track and state events, and takes the transport commands.
 */
import type { EventEmitter } from 'node:events';
import type { SourceKind, SourceNotice, SourceStateEvent, TrackEvent, TrackInfo } from '../protocol/messages.js';

export type PlaybackState = 'playing' | 'paused' | 'stopped';

export interface SourceStatus {
  source: SourceKind;
  state: PlaybackState;
  track?: TrackInfo;
  error?: string;
}

export interface SourceEvents {
  track: [TrackEvent];
  state: [SourceStatus];
  notice: [SourceNotice];
  sourceState: [SourceStateEvent];
  /** The source ran dry while playing (the room heard a gap). */
  underrun: [];
}

export interface MusicSource extends EventEmitter<SourceEvents> {
  readonly kind: SourceKind;
  status(): SourceStatus;
  /** Moves on (next song, or a new musical idea); resolves with a message for the confirmation. */
  skip(): Promise<{ message: string; track?: TrackInfo }>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stops for good and frees everything; resolves false when nothing was playing. */
  stop(): Promise<boolean>;
}

/** A command that the current source cannot carry out (the message says why). */
export class SourceError extends Error {
  override name = 'SourceError';
}

/** A promise with its resolver, for gates such as pause. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
