/**
 * Skip, pause, resume and stop as the listener hears them: each fades the music out (or in) over a
 * few milliseconds instead of cutting through the waveform, which would click.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharpestBend } from '../harness/spectrum.js';
import { startRoomcast, type Roomcast } from '../harness/roomcast.js';
import type { Listener } from '../harness/listener.js';
import { concatSamples } from '../../src/playout/samples.js';

let rc: Roomcast;

beforeAll(async () => {
  rc = await startRoomcast();
});

afterAll(async () => {
  await rc?.stop();
});

/** What the listener heard from `from` to `to` (arrival times of frames), as one run of samples. */
const heard = (listener: Listener, from: number, to: number) => concatSamples(listener.recorded.filter((f) => f.at >= from && f.at <= to).map((f) => f.samples));

describe('cuts', () => {
  it('skip, pause, resume and stop do not click', async () => {
    const { listener, sent } = await rc.startIn('cuts', { type: 'start_continuous_music', genre: 'pop' });
    await listener.waitForWindow((w) => w.level > 0.01, { since: sent.at });
    await new Promise((r) => setTimeout(r, 500));
    const bends: Record<string, number> = {};
    for (const type of ['skip_music', 'pause_music', 'resume_music', 'skip_music', 'stop_continuous_music']) {
      listener.recording = true;
      listener.recorded.length = 0;
      const command = rc.app.send('cuts', { type });
      expect((await command.final).status).toBe('done');
      await new Promise((r) => setTimeout(r, 700));
      listener.recording = false;
      const { bend } = sharpestBend(heard(listener, command.at, Date.now()));
      bends[type] = Math.max(bends[type] ?? 0, Math.round(bend * 1000) / 1000);
    }
    console.log('cut measurements (sharpest bend, fraction of peak; a 1320 Hz sine bends 0.03)', JSON.stringify(bends));
    // A cut through the waveform bends by 0.3–0.6 of the peak. The next song's own start, a sine
    // from phase 0 (the pop tones go up to 880 Hz), bends by 2πf/48000: up to 0.115.
    for (const bend of Object.values(bends)) expect(bend).toBeLessThan(0.15);
  });
});
