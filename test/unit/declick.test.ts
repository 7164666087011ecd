import { AudioFrame } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { DeclickSink, fade } from '../../src/playout/declick.js';

const frame = (value: number) => new AudioFrame(new Int16Array(960 * 2).fill(value), 48_000, 2, 960);

function native() {
  const sent: AudioFrame[] = [];
  return { sent, queuedDuration: 100, captureFrame: async (f: AudioFrame) => void sent.push(f) };
}

describe('DeclickSink', () => {
  it('holds one frame, fades in after silence, and fades out the frame in hand', async () => {
    const out = native();
    const sink = new DeclickSink(out);
    for (const v of [1000, 2000, 3000]) await sink.captureFrame(frame(v));
    expect(out.sent).toHaveLength(2);
    // The first frame after silence fades in from 0; the next plays as it is.
    expect(out.sent[0]?.data[0]).toBeLessThan(10);
    expect(out.sent[0]?.data.at(-1)).toBe(1000);
    expect(out.sent[1]?.data.every((x) => x === 2000)).toBe(true);
    await sink.fadeOut();
    // The frame in hand (the continuation) fades to silence.
    expect(out.sent[2]?.data[0]).toBeGreaterThan(2990);
    expect(out.sent[2]?.data.at(-1)).toBe(0);
    await sink.fadeOut();
    expect(out.sent).toHaveLength(3);
    await sink.captureFrame(frame(500));
    await sink.captureFrame(frame(500));
    expect(out.sent[3]?.data[0]).toBeLessThan(10);
  });

  it('reports a native queue that ran dry while music played', async () => {
    const out = { ...native(), queuedDuration: 0 };
    let starved = 0;
    const sink = new DeclickSink(out, () => starved++);
    for (let i = 0; i < 4; i++) await sink.captureFrame(frame(1));
    // The first frame after silence starts from an empty queue by nature.
    expect(starved).toBe(2);
  });

  it('fades along a half cosine, with no step at either end', () => {
    const faded = fade(frame(10_000), 1, 0);
    const steps = [...faded.data].filter((_, i) => i % 2 === 0).map((x, i, all) => Math.abs(x - (all[i - 1] ?? 10_000)));
    expect(Math.max(...steps)).toBeLessThan(20);
  });
});
