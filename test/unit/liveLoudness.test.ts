/** Loudness normalisation on the fly (live stations): the measure, and the gain it leads to. */
import { AudioFrame } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { LiveLoudness } from '../../src/playout/liveLoudness.js';

/** 20-ms stereo frames of a 1 kHz sine at `amplitude` (0–1), `seconds` long. */
function* sine(amplitude: number, seconds: number): Generator<AudioFrame> {
  let n = 0;
  for (let f = 0; f < seconds * 50; f++) {
    const data = new Int16Array(960 * 2);
    for (let i = 0; i < 960; i++, n++) data[i * 2] = data[i * 2 + 1] = Math.round(32767 * amplitude * Math.sin((2 * Math.PI * 1000 * n) / 48_000));
    yield new AudioFrame(data, 48_000, 2, 960);
  }
}

const rmsDb = (frame: AudioFrame) => 10 * Math.log10(frame.data.reduce((s, v) => s + (v / 32768) ** 2, 0) / frame.data.length);

describe('LiveLoudness', () => {
  it('measures as BS.1770 does: a 1 kHz stereo sine at -20 dBFS peak is -20.0 LUFS', () => {
    const meter = new LiveLoudness(-16);
    // Peak -20 dBFS: each channel's mean square -23 dB, the two summed -20; BS.1770's -0.691 and its K-weighting at 1 kHz (+0.69) cancel.
    for (const frame of sine(0.1, 2)) meter.apply(frame);
    expect(meter.measuredLufs).toBeCloseTo(-20, 0);
  });

  it('brings a quiet station up and a loud one down, quickly at first, then slowly, at most +12 dB', () => {
    for (const [amplitude, expectedGain] of [
      [0.1, 4],
      [0.01, 12],
      [0.9, -15.1],
    ] as const) {
      const meter = new LiveLoudness(-16);
      const gains: number[] = [];
      for (const frame of sine(amplitude, 12)) {
        const before = rmsDb(frame);
        meter.apply(frame);
        gains.push(rmsDb(frame) - before);
      }
      // 8 dB/s while it starts, from the first 400-ms block: by 3 s the station is at its level.
      expect(Math.abs(gains[50] as number)).toBeLessThanOrEqual(8 * 0.65);
      expect(gains[150]).toBeCloseTo(expectedGain, 0);
      expect(gains.at(-1)).toBeCloseTo(expectedGain, 0);
    }
  });

  it('then follows the stream at 2 dB/s', () => {
    const meter = new LiveLoudness(-16);
    for (const frame of sine(0.1, 10)) meter.apply(frame);
    const settled = meter.currentGainDb;
    const gains: number[] = [];
    for (const frame of sine(0.4, 2)) {
      meter.apply(frame);
      gains.push(meter.currentGainDb);
    }
    // 12 dB louder: the gain comes down, by at most 2 dB a second.
    expect(settled - (gains.at(-1) as number)).toBeGreaterThan(2);
    for (let i = 50; i < gains.length; i++) expect((gains[i - 50] as number) - (gains[i] as number)).toBeLessThanOrEqual(2.01);
  });

  it('leaves silence alone and keeps its gain through it', () => {
    const meter = new LiveLoudness(-16);
    for (const frame of sine(0.1, 5)) meter.apply(frame);
    const gain = meter.currentGainDb;
    for (const frame of sine(0, 5)) expect(meter.apply(frame).data.every((v) => v === 0)).toBe(true);
    // Silence neither measures nor moves it (beyond the last sliver of its way to the target).
    expect(Math.abs(meter.currentGainDb - gain)).toBeLessThan(0.3);
  });
});
