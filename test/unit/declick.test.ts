import { AudioFrame } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { DeclickSink, fade } from '../../src/playout/declick.js';
import { concatSamples } from '../../src/playout/samples.js';

const frame = (value: number) => new AudioFrame(new Int16Array(960 * 2).fill(value), 48_000, 2, 960);

function native(queuedDuration = 100) {
  const sent: AudioFrame[] = [];
  return { sent, queuedDuration, captureFrame: async (f: AudioFrame) => void sent.push(f) };
}

/** The left channel of everything sent to native code, one sample after another. */
const heard = (sent: AudioFrame[]) => concatSamples(sent.map((f) => f.data)).filter((_, i) => i % 2 === 0);

describe('DeclickSink', () => {
  it('holds one frame and, to stop, plays half of it fading to silence', async () => {
    const out = native();
    const sink = new DeclickSink(out);
    for (const v of [1000, 2000, 3000]) await sink.captureFrame(frame(v));
    // Two frames go to native code in one capture.
    expect(out.sent.map((f) => f.samplesPerChannel)).toEqual([1920]);
    expect([heard(out.sent)[0], heard(out.sent)[960]]).toEqual([1000, 2000]);
    await sink.fadeOut();
    // The frame in hand (the continuation) fades out over its first 10 ms.
    const faded = out.sent[1] as AudioFrame;
    expect(faded.samplesPerChannel).toBe(480);
    expect(faded.data[0]).toBeGreaterThan(2990);
    expect(faded.data.at(-1)).toBe(0);
    await sink.fadeOut();
    expect(out.sent).toHaveLength(2);
    // A new song after a skip starts as it is.
    for (const v of [500, 600, 700]) await sink.captureFrame(frame(v));
    expect(heard(out.sent.slice(2))[0]).toBe(500);
  });

  it('to stop, fades out a frame waiting for its pair, the continuation of what the room heard', async () => {
    const out = native();
    const sink = new DeclickSink(out);
    for (const v of [1000, 2000]) await sink.captureFrame(frame(v));
    expect(out.sent).toHaveLength(0);
    await sink.fadeOut();
    // 10 ms of the waiting frame, not 20 ms of it and 10 of the next: a skip waits no longer.
    expect(heard(out.sent).length).toBe(480);
    expect(heard(out.sent)[0]).toBeGreaterThan(990);
  });

  it('after a pause, the music fades back in', async () => {
    const out = native();
    const sink = new DeclickSink(out);
    for (const v of [1000, 1000]) await sink.captureFrame(frame(v));
    await sink.fadeOut({ resumes: true });
    for (const v of [1000, 1000, 1000]) await sink.captureFrame(frame(v));
    const resumed = heard(out.sent.slice(-1));
    expect(resumed[0]).toBeLessThan(10);
    expect(resumed[959]).toBe(1000);
  });

  it('reports a native queue that ran dry while music played, not when music starts', async () => {
    let starved = 0;
    const sink = new DeclickSink(native(0), () => starved++);
    for (let i = 0; i < 4; i++) await sink.captureFrame(frame(1));
    expect(starved).toBe(2);
    await sink.fadeOut();
    for (let i = 0; i < 2; i++) await sink.captureFrame(frame(1));
    expect(starved).toBe(2);
  });

  it('fades along a half cosine, with no step at either end', () => {
    const faded = fade(frame(10_000), 1, 0);
    const steps = [...faded.data].filter((_, i) => i % 2 === 0).map((x, i, all) => Math.abs(x - (all[i - 1] ?? 10_000)));
    expect(Math.max(...steps)).toBeLessThan(20);
  });
});
