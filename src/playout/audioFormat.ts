/**
 * The audio contract every part of a room's playout keeps: one sample format (48 kHz, stereo,
 * signed 16-bit), one frame length (20 ms), and the two sink interfaces frames flow through. Every
 * module that makes, shapes or sends frames takes these from here, so they cannot drift apart.
 */
import type { AudioFrame } from '@livekit/rtc-node';

export const SAMPLE_RATE = 48_000;
export const CHANNELS = 2;
export const BYTES_PER_SAMPLE = 2;
export const FRAME_MS = 20;
export const SAMPLES_PER_FRAME = (SAMPLE_RATE * FRAME_MS) / 1000;

/** Where sources write: the head of the room's sink chain (`playout/sinkChain.ts`). */
export interface FrameSink {
  captureFrame(frame: AudioFrame): Promise<void>;
  /** Stops the music at once without a click; `resumes`: it will go on where it stopped (pause). */
  fadeOut(options?: { resumes?: boolean }): Promise<void>;
}

/** The end of the chain: what paces the frames and hands them to the room (an rtc-node AudioSource). */
export interface NativeAudioSink {
  /** Resolves when the frame is queued, i.e. when the queue has room: this paces playout. */
  captureFrame(frame: AudioFrame): Promise<void>;
  /** Audio queued natively and not played yet (ms). */
  readonly queuedDuration: number;
}
