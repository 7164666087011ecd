/**
 * Ducking: a sink that brings the music down by `depthDb` while someone speaks, and back up when
 * they stop, with a smooth gain, sample by sample: down over `attackMs` on an eased-out curve,
 * up over `releaseMs` on a straight line in decibels, so neither edge clicks and the music does not
 * pump. Passes frames through untouched while there is nothing to do. When to duck is decided
 * elsewhere (agent/ducking.ts).
 *
 * It is the last stage before native code: the gain is applied to a frame the moment it is handed
 * to the AudioSource, so only the native queue (AUDIO_QUEUE_MS) stands between the decision and the
 * room. Placed before the declicker, which keeps a frame in hand and sends two at a time, it heard
 * 20–40 ms later (docs/BENCHMARKS.md, ducking).
 */
import type { AudioFrame } from '@livekit/rtc-node';
import { SAMPLE_RATE, type NativeAudioSink } from './audioFormat.js';
import { rampGain } from './samples.js';

export interface DuckEnvelope {
  depthDb: number;
  attackMs: number;
  releaseMs: number;
}

export class DuckSink implements NativeAudioSink {
  /** Current gain in dB (0 = untouched, negative while ducked). */
  private gainDb = 0;
  private ducked = false;

  constructor(
    private readonly sink: NativeAudioSink,
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
    if (this.gainDb === target) {
      // Steady: untouched, or held down at the depth (one multiplication a sample).
      if (target !== 0) rampGain(frame.data, frame.channels, 10 ** (target / 20), 10 ** (target / 20));
    } else this.gainDb = ramp(frame, this.gainDb, target, this.gainDb > target ? this.attackStep(target) : this.releaseStep(target));
    return this.sink.captureFrame(frame);
  }

  /**
   * Down, eased out: the level falls fastest at first and lands gently, dB = depth·(1 − (1 − x)²)
   * over the attack (x from 0 to 1; it may start part-way, from a release or a shallower depth): 12
   * of 15 dB are gone after 55% of it (a straight line in dB took 80%), and speech is heard over the
   * music that much sooner. The steepest step is twice the straight line's, still a few thousandths
   * of a dB per sample.
   */
  private attackStep(target: number): (db: number) => number {
    const samples = (this.envelope.attackMs / 1000) * SAMPLE_RATE;
    const dx = samples > 0 ? 1 / samples : 1;
    return (db) => {
      const x = Math.min(1, 1 - Math.sqrt(Math.max(0, 1 - db / target)) + dx);
      return x === 1 ? target : target * (1 - (1 - x) ** 2);
    };
  }

  /** Up (or to a shallower depth), a straight line in dB over the release; a zero time jumps there. */
  private releaseStep(target: number): (db: number) => number {
    const { releaseMs, depthDb } = this.envelope;
    const stepDb = releaseMs > 0 ? (Math.abs(depthDb) || 1) / ((releaseMs / 1000) * SAMPLE_RATE) : Infinity;
    return (db) => Math.min(target, db + stepDb);
  }

  get queuedDuration(): number {
    return this.sink.queuedDuration;
  }
}

/**
 * Moves the gain from `fromDb` towards `targetDb` one step a sample (`step`; ramps last tens to
 * hundreds of milliseconds, so the one power a sample is paid only then), and returns where it got.
 */
function ramp(frame: AudioFrame, fromDb: number, targetDb: number, step: (db: number) => number): number {
  const { data, channels } = frame;
  let db = fromDb;
  let gain = 10 ** (db / 20);
  for (let i = 0; i < frame.samplesPerChannel; i++) {
    if (db !== targetDb) {
      db = step(db);
      gain = 10 ** (db / 20);
    }
    for (let c = 0; c < channels; c++) data[i * channels + c] = Math.round((data[i * channels + c] as number) * gain);
  }
  return db;
}
