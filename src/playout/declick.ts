/**
 * The last stage before the room's AudioSource: it keeps one frame in hand, so that when the
 * music has to stop at once (skip, pause, stop, a Lyria context reset) it can play that frame, the
 * exact continuation of what the room heard, fading to silence. Cutting through a waveform, or
 * flushing what is queued, makes a click. After a pause, the music fades back in.
 *
 * Flushing the native queue is no longer needed: it is kept short (AUDIO_QUEUE_MS), and a stop is
 * heard once it has played out.
 *
 * Frames reach native code two at a time: every capture costs the same JS, protobuf and FFI work
 * whatever its length, and going from 20 to 40 ms captures took a fifth off a playing room's CPU
 * (docs/BENCHMARKS.md). Songs are still cut in 20 ms frames, so a song's padded last frame adds
 * no more than 20 ms of silence.
 */
import { AudioFrame } from '@livekit/rtc-node';
import { concatSamples } from './samples.js';
import type { NativeAudioSink } from './audioFormat.js';

const FRAMES_PER_CAPTURE = 2;

export class DeclickSink {
  private held: AudioFrame | undefined;
  /** Set after a pause: the music resumes mid-waveform, so its first frame fades in. */
  private fadeInNext = false;
  /** Nothing was playing before the next frame: an empty native queue is then no gap. */
  private fromSilence = true;
  /** Frames waiting to go to native code together. */
  private batch: AudioFrame[] = [];
  private sending: Promise<void> = Promise.resolve();

  /** `onStarved`: the native queue ran dry while music played (the room heard a gap). */
  constructor(
    private readonly native: NativeAudioSink,
    private readonly onStarved: () => void = () => undefined,
  ) {}

  async captureFrame(frame: AudioFrame): Promise<void> {
    const previous = this.held;
    this.held = frame;
    if (!previous) return;
    if (this.native.queuedDuration === 0 && !this.fromSilence) this.onStarved();
    this.fromSilence = false;
    this.batch.push(this.fadeInNext ? fade(previous, 0, 1) : previous);
    this.fadeInNext = false;
    if (this.batch.length < FRAMES_PER_CAPTURE) return;
    return this.sendBatch();
  }

  /**
   * Stops the music at once: the first half of the next frame the room would hear (one waiting
   * for its pair, else the one in hand) plays fading to silence (10 ms is enough not to click,
   * and a skip waits no longer); the rest is dropped. `resumes`: the music will go on from the
   * next frame (a pause), which then fades in.
   */
  async fadeOut({ resumes = false } = {}): Promise<void> {
    const next = this.batch[0] ?? this.held;
    this.batch = [];
    this.held = undefined;
    this.fadeInNext = resumes;
    this.fromSilence = true;
    if (next) this.batch.push(fade(firstHalf(next), 1, 0));
    await this.sendBatch();
  }

  /** One native capture at a time (rtc-node rejects a second while one waits for queue room). */
  private sendBatch(): Promise<void> {
    if (this.batch.length === 0) return this.sending;
    const frames = this.batch;
    this.batch = [];
    const frame = frames.length === 1 ? (frames[0] as AudioFrame) : joinFrames(frames);
    const sent = this.sending.then(() => this.native.captureFrame(frame));
    this.sending = sent.catch(() => undefined);
    return sent;
  }
}

function joinFrames(frames: AudioFrame[]): AudioFrame {
  const { sampleRate, channels } = frames[0] as AudioFrame;
  const samples = frames.reduce((n, f) => n + f.samplesPerChannel, 0);
  return new AudioFrame(concatSamples(frames.map((f) => f.data)), sampleRate, channels, samples);
}

function firstHalf(frame: AudioFrame): AudioFrame {
  const samples = Math.floor(frame.samplesPerChannel / 2);
  return new AudioFrame(frame.data.subarray(0, samples * frame.channels), frame.sampleRate, frame.channels, samples);
}

/** A copy of `frame` with its gain going from `from` to `to` along a half cosine (no kink at either end). */
export function fade(frame: AudioFrame, from: number, to: number): AudioFrame {
  const { channels, samplesPerChannel } = frame;
  const out = new Int16Array(frame.data.length);
  for (let i = 0; i < samplesPerChannel; i++) {
    const t = (i + 1) / samplesPerChannel;
    const gain = from + (to - from) * (0.5 - 0.5 * Math.cos(Math.PI * t));
    for (let c = 0; c < channels; c++) out[i * channels + c] = Math.round((frame.data[i * channels + c] as number) * gain);
  }
  return new AudioFrame(out, frame.sampleRate, channels, samplesPerChannel);
}
