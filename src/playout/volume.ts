/**
 * A sink that scales the audio on its way to the room. A volume change ramps across one frame,
 * so it never clicks.
 */
import { AudioFrame } from '@livekit/rtc-node';
import type { FrameSink } from './audioFormat.js';
import { rampGain } from './samples.js';

export class VolumeSink implements FrameSink {
  private gain = 1;
  private target = 1;

  constructor(private readonly sink: FrameSink) {}

  /** 0–100, the room's volume; applied linearly (100 = as decoded). */
  set volume(percent: number) {
    this.target = Math.min(100, Math.max(0, percent)) / 100;
  }

  get volume(): number {
    return Math.round(this.target * 100);
  }

  async captureFrame(frame: AudioFrame): Promise<void> {
    if (this.gain === 1 && this.target === 1) return this.sink.captureFrame(frame);
    rampGain(frame.data, frame.channels, this.gain, this.target);
    this.gain = this.target;
    return this.sink.captureFrame(frame);
  }

  fadeOut(options?: { resumes?: boolean }): Promise<void> {
    return this.sink.fadeOut(options);
  }
}
