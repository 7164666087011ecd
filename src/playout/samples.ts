/** Small helpers on 16-bit PCM sample arrays. */

/** One array holding `parts` one after another. */
export function concatSamples(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Scales interleaved samples by a gain that moves in a straight line from `from` to `to` across
 * them (equal gains: a plain scale), rounding and clamping to 16 bits: a level change that never
 * clicks. The room's volume (volume.ts), a station's loudness (liveLoudness.ts) and the ducker
 * while held down (duck.ts) all scale through it.
 */
export function rampGain(data: Int16Array, channels: number, from: number, to: number): void {
  const frames = data.length / channels;
  const step = (to - from) / frames;
  for (let i = 0, k = 0; i < frames; i++) {
    const g = from + step * (i + 1);
    for (let c = 0; c < channels; c++, k++) {
      const v = Math.round((data[k] as number) * g);
      data[k] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
  }
}
