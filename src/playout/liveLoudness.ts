/**
 * Loudness normalisation on the fly, for live stations, which have no end to measure beforehand
 * (loudness.ts measures songs once). It measures the stream as it plays the way EBU R128 does
 * (BS.1770 K-weighting, 400-ms blocks, an absolute gate at -70 LUFS and a relative one 10 LU below)
 * over the last 10 s, and moves the gain towards the target, never above +12 dB: quickly while the
 * station starts (8 dB/s for its first 4 s, so that it is heard at its level within seconds), then
 * at 2 dB/s: a quiet passage is not pumped up, a jingle twice as loud is brought down in seconds.
 *
 * Why by hand: ffmpeg's filters that do this add latency or cost; measured on this machine's CI
 * VM: `dynaudnorm` with a 15-s window held back its first output for 12 s of a live input (it
 * needs the window's future half); `loudnorm` in its one-pass mode costs ~45 ms of CPU per second
 * of audio (it resamples to 192 kHz) and looks 3 s ahead. This costs ~3 ms/s and delays nothing.
 */
import type { AudioFrame } from '@livekit/rtc-node';
import { CHANNELS, SAMPLE_RATE } from './audioFormat.js';
import { rampGain } from './samples.js';

/** BS.1770 K-weighting at 48 kHz: a high shelf, then a high-pass (the "RLB" curve). */
const SHELF = { b0: 1.53512485958697, b1: -2.69169618940638, b2: 1.19839281085285, a1: -1.69065929318241, a2: 0.73248077421585 };
const HIGHPASS = { b0: 1, b1: -2, b2: 1, a1: -1.99004745483398, a2: 0.99007225036621 };
type Eight = [number, number, number, number, number, number, number, number];
const BLOCK_SAMPLES = (SAMPLE_RATE * 400) / 1000;
const BLOCKS_KEPT = 25; // 10 s
const ABSOLUTE_GATE_LUFS = -70;
const RELATIVE_GATE_LU = 10;
const MAX_BOOST_DB = 12;
const MAX_CUT_DB = 24;
const SLEW_DB_PER_S = 2;
const STARTING_SLEW_DB_PER_S = 8;
const STARTING_BLOCKS = 10; // 4 s

export class LiveLoudness {
  /** Each channel's filter state: the shelf's x1, x2, y1, y2, then the high-pass's. */
  private readonly left = new Float64Array(8);
  private readonly right = new Float64Array(8);
  private blockEnergy = 0;
  private blockFill = 0;
  /** Mean square of each of the last blocks (K-weighted, summed over the channels). */
  private readonly blocks: number[] = [];
  private gainDb = 0;
  private targetGainDb = 0;
  /** Blocks measured with sound in them, since the station started. */
  private measuredBlocks = 0;

  constructor(private readonly targetLufs: number) {}

  /** The loudness of the last 10 s (LUFS), or undefined before the first block or in silence. */
  get measuredLufs(): number | undefined {
    const loud = this.blocks.filter((e) => lufs(e) > ABSOLUTE_GATE_LUFS);
    if (loud.length === 0) return undefined;
    const ungated = lufs(mean(loud));
    const gated = loud.filter((e) => lufs(e) > ungated - RELATIVE_GATE_LU);
    return lufs(mean(gated));
  }

  /** The gain being applied now (dB). */
  get currentGainDb(): number {
    return this.gainDb;
  }

  /** Measures the frame and applies the gain, in place (interleaved s16, as audioFormat.ts). */
  apply(frame: AudioFrame): AudioFrame {
    this.measure(frame.data, frame.samplesPerChannel);
    // Towards the target at the slew rate, ramped across the frame so that it never clicks.
    const n = frame.samplesPerChannel;
    const slew = this.measuredBlocks < STARTING_BLOCKS ? STARTING_SLEW_DB_PER_S : SLEW_DB_PER_S;
    const step = (slew * n) / SAMPLE_RATE;
    const from = this.gainDb;
    const to = from + Math.max(-step, Math.min(step, this.targetGainDb - from));
    this.gainDb = to;
    if (from === 0 && to === 0) return frame;
    rampGain(frame.data, CHANNELS, 10 ** (from / 20), 10 ** (to / 20));
    return frame;
  }

  /** K-weights the frame's samples into the current 400-ms block (a frame never straddles two: 20 frames a block). */
  private measure(data: Int16Array, n: number): void {
    this.blockEnergy += kWeightedEnergy(data, n, 0, this.left) + kWeightedEnergy(data, n, 1, this.right);
    this.blockFill += n;
    if (this.blockFill < BLOCK_SAMPLES) return;
    this.endBlock(this.blockEnergy / this.blockFill);
    this.blockEnergy = 0;
    this.blockFill = 0;
  }

  private endBlock(meanSquare: number): void {
    this.blocks.push(meanSquare);
    if (this.blocks.length > BLOCKS_KEPT) this.blocks.shift();
    const measured = this.measuredLufs;
    // In silence the gain stays where it was.
    if (measured === undefined) return;
    this.measuredBlocks++;
    this.targetGainDb = Math.max(-MAX_CUT_DB, Math.min(MAX_BOOST_DB, this.targetLufs - measured));
  }
}

const lufs = (energy: number) => -0.691 + 10 * Math.log10(energy);
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * The sum of squares of one channel of a frame, K-weighted (both biquads, inlined: the per-sample
 * path), carrying the filters' state `s` from frame to frame.
 */
function kWeightedEnergy(data: Int16Array, n: number, channel: number, s: Float64Array): number {
  const S = SHELF;
  const H = HIGHPASS;
  let [sx1, sx2, sy1, sy2, hx1, hx2, hy1, hy2] = s as unknown as Eight;
  let energy = 0;
  for (let i = 0, k = channel; i < n; i++, k += CHANNELS) {
    const x = (data[k] as number) / 32768;
    const y = S.b0 * x + S.b1 * sx1 + S.b2 * sx2 - S.a1 * sy1 - S.a2 * sy2;
    sx2 = sx1;
    sx1 = x;
    sy2 = sy1;
    sy1 = y;
    const z = H.b0 * y + H.b1 * hx1 + H.b2 * hx2 - H.a1 * hy1 - H.a2 * hy2;
    hx2 = hx1;
    hx1 = y;
    hy2 = hy1;
    hy1 = z;
    energy += z * z;
  }
  s.set([sx1, sx2, sy1, sy2, hx1, hx2, hy1, hy2]);
  return energy;
}
