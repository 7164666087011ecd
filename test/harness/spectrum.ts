/** Sound checks for the listener: dominant frequency (FFT peak) and loudness of a window of samples. */
import FFT from 'fft.js';

export const WINDOW = 4096;
const fft = new FFT(WINDOW);
const hann = Float64Array.from({ length: WINDOW }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (WINDOW - 1)));
const input = new Array<number>(WINDOW).fill(0);
const spectrum = fft.createComplexArray() as number[];

/** Root mean square of 16-bit samples, as a fraction of full scale. */
export function rms(samples: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += (samples[i] as number) ** 2;
  return Math.sqrt(sum / Math.max(1, samples.length)) / 32768;
}

/** The strongest frequency in the first WINDOW samples, refined by parabolic interpolation. */
export function dominantFrequency(samples: ArrayLike<number>, sampleRate: number): number {
  for (let i = 0; i < WINDOW; i++) input[i] = ((samples[i] as number) ?? 0) * (hann[i] as number);
  fft.realTransform(spectrum, input);
  const power = (bin: number) => (spectrum[2 * bin] as number) ** 2 + (spectrum[2 * bin + 1] as number) ** 2;
  let peak = 1;
  for (let bin = 2; bin < WINDOW / 2; bin++) if (power(bin) > power(peak)) peak = bin;
  const [a, b, c] = [Math.log(power(peak - 1) + 1e-12), Math.log(power(peak) + 1e-12), Math.log(power(peak + 1) + 1e-12)];
  const shift = (a - c) / (2 * (a - 2 * b + c) || 1);
  return ((peak + shift) * sampleRate) / WINDOW;
}

/** Amplitude (fraction of full scale) of one frequency in 16-bit samples (Goertzel). */
export function toneLevel(samples: ArrayLike<number>, frequency: number, sampleRate: number): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * frequency) / sampleRate);
  let [s1, s2] = [0, 0];
  for (let i = 0; i < samples.length; i++) [s1, s2] = [(samples[i] as number) + coefficient * s1 - s2, s1];
  return (2 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - coefficient * s1 * s2))) / samples.length / 32768;
}

/** Longest run of near-silent samples (|x| < 64, about −54 dBFS). */
export function longestSilence(samples: Int16Array): number {
  let longest = 0;
  let run = 0;
  for (const x of samples) {
    run = Math.abs(x) < 64 ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  // A sine crosses zero: runs of a few samples are not silence.
  return longest > 8 ? longest : 0;
}

/**
 * The sharpest bend in a stretch of samples: max |x[i-1] − 2x[i] + x[i+1]| as a fraction of the
 * stretch's peak level. A sine of frequency f bends by (2πf/48000)² of its peak at most (0.03 at
 * 1320 Hz); a cut through a waveform (a click) bends far more.
 */
export function sharpestBend(samples: Int16Array): { bend: number; at: number } {
  let peak = 1;
  for (const x of samples) peak = Math.max(peak, Math.abs(x));
  let bend = 0;
  let at = 0;
  for (let i = 1; i + 1 < samples.length; i++) {
    const b = Math.abs((samples[i - 1] as number) - 2 * (samples[i] as number) + (samples[i + 1] as number));
    if (b > bend) [bend, at] = [b, i];
  }
  return { bend: bend / peak, at };
}
