/**
 * Ducking: a sink that brings the music down by `depthDb` while someone speaks, and back up when
 * they stop, with a smooth gain: the level moves linearly in decibels, sample by sample (one
 * multiplication each), down over `attackMs` and up over `releaseMs`, so neither edge clicks and
 * the music does not pump. Passes frames through untouched while there is nothing to do. When to
 * duck is decided elsewhere (agent/ducking.ts).
 */
import type { AudioFrame } from '@livekit/rtc-node';
import { SAMPLE_RATE, type FrameSink } from './audioFormat.js';

export interface DuckEnvelope {
  depthDb: number;
  attackMs: number;
  releaseMs: number;
}

export class DuckSink implements FrameSink {
  /** Current gain in dB (0 = untouched, negative while ducked). */
  private gainDb = 0;
  private ducked = false;

  constructor(
    private readonly sink: FrameSink,
    private envelope: DuckEnvelope,
  ) {}

  /** Duck (true) or come back up (false); the gain moves there at the envelope's pace. */
  duck(on: boolean): void {
    this.ducked = on;
  }

  set settings(envelope: DuckEnvelope) {
    this.envelope = envelope;
  }

  /** The gain now, in dB (for tests and the room's state). */
  get levelDb(): number {
    return this.gainDb;
  }

  async captureFrame(frame: AudioFrame): Promise<void> {
    const target = this.ducked ? -Math.abs(this.envelope.depthDb) : 0;
    if (this.gainDb === target && target === 0) return this.sink.captureFrame(frame);
    const { attackMs, releaseMs } = this.envelope;
    const down = this.gainDb > target;
    // dB per sample towards the target; a zero time jumps there (never used with the defaults).
    const rampMs = down ? attackMs : releaseMs;
    const stepDb = rampMs > 0 ? (Math.abs(this.envelope.depthDb) || 1) / ((rampMs / 1000) * SAMPLE_RATE) : Infinity;
    const data = frame.data;
    const channels = frame.channels;
    let db = this.gainDb;
    let gain = 10 ** (db / 20);
    const ratio = 10 ** ((down ? -stepDb : stepDb) / 20);
    for (let i = 0; i < frame.samplesPerChannel; i++) {
      if (db !== target) {
        db = down ? Math.max(target, db - stepDb) : Math.min(target, db + stepDb);
        gain = db === target ? 10 ** (db / 20) : gain * ratio;
      }
      for (let c = 0; c < channels; c++) {
        const k = i * channels + c;
        data[k] = Math.round((data[k] as number) * gain);
      }
    }
    this.gainDb = db;
    return this.sink.captureFrame(frame);
  }

  fadeOut(options?: { resumes?: boolean }): Promise<void> {
    return this.sink.fadeOut(options);
  }
}
