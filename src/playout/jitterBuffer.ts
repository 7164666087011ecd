/**
 * A PCM jitter buffer for audio that arrives in large, irregular chunks (Lyria: ~2 s, faster than
 * real time, with network jitter). Frames are handed out only once `prebufferSamples` are held;
 * running dry counts one underrun and re-arms the pre-buffer, so a late chunk causes one clean
 * gap instead of a stutter.
 */
export class JitterBuffer {
  private chunks: Int16Array[] = [];
  private offset = 0; // samples already read from chunks[0]
  private held = 0; // interleaved samples held
  private primed = false;
  underruns = 0;
  /** Interleaved samples dropped because the buffer was over its limit. */
  overflowed = 0;

  constructor(
    private readonly channels: number,
    private readonly prebufferFrames: number,
    private readonly maxFrames: number,
  ) {}

  /** Buffered audio, in frames (samples per channel). */
  get frames(): number {
    return this.held / this.channels;
  }

  get playing(): boolean {
    return this.primed;
  }

  push(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.chunks.push(samples);
    this.held += samples.length;
    const excess = this.held - this.maxFrames * this.channels;
    if (excess > 0) this.discard(excess);
    if (!this.primed && this.frames >= this.prebufferFrames) this.primed = true;
  }

  /**
   * Fills `out` (interleaved) with the next audio and returns true, or returns false while the
   * buffer is pre-buffering (the caller plays silence then).
   */
  read(out: Int16Array): boolean {
    if (!this.primed) return false;
    if (this.held < out.length) {
      this.primed = false;
      this.underruns++;
      return false;
    }
    let written = 0;
    while (written < out.length) {
      const chunk = this.chunks[0] as Int16Array;
      const n = Math.min(out.length - written, chunk.length - this.offset);
      out.set(chunk.subarray(this.offset, this.offset + n), written);
      written += n;
      this.consume(n);
    }
    return true;
  }

  clear(): void {
    this.chunks = [];
    this.offset = 0;
    this.held = 0;
    this.primed = false;
  }

  private discard(samples: number): void {
    this.overflowed += samples;
    let left = samples - (samples % this.channels);
    while (left > 0) {
      const available = (this.chunks[0] as Int16Array).length - this.offset;
      const n = Math.min(left, available);
      this.consume(n);
      left -= n;
    }
  }

  private consume(samples: number): void {
    this.offset += samples;
    this.held -= samples;
    if (this.offset === (this.chunks[0] as Int16Array).length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
