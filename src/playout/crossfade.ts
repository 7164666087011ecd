/** Crossfading two songs frame by frame: equal-power gains, so the overlap does not dip in level. */
import { AudioFrame } from '@livekit/rtc-node';
import { CHANNELS, SAMPLE_RATE, SAMPLES_PER_FRAME } from './audioFormat.js';

/**
 * `outgoing` fading out and `incoming` fading in across one frame, the fade having progressed from
 * `from` to `to` (0 → 1) over it. A missing frame is silence (a song shorter than the overlap).
 */
export function crossfadeFrame(outgoing: AudioFrame | undefined, incoming: AudioFrame | undefined, from: number, to: number): AudioFrame {
  const out = new Int16Array(SAMPLES_PER_FRAME * CHANNELS);
  const a = outgoing?.data;
  const b = incoming?.data;
  for (let i = 0; i < SAMPLES_PER_FRAME; i++) {
    const t = from + ((to - from) * i) / SAMPLES_PER_FRAME;
    const fadeOut = Math.cos((t * Math.PI) / 2);
    const fadeIn = Math.sin((t * Math.PI) / 2);
    for (let c = 0; c < CHANNELS; c++) {
      const k = i * CHANNELS + c;
      const mixed = (a ? (a[k] as number) * fadeOut : 0) + (b ? (b[k] as number) * fadeIn : 0);
      out[k] = mixed > 32767 ? 32767 : mixed < -32768 ? -32768 : mixed;
    }
  }
  return new AudioFrame(out, SAMPLE_RATE, CHANNELS, SAMPLES_PER_FRAME);
}
