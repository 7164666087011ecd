/**
 * Rooms past capacity are refused, not lost (issues "Glitch-free at full load" and "No command and
 * no room lost"): a worker of one host process that takes one room (AGENT_MAX_ROOMS=1) plays a
 * room; a start for a second room gets `no_capacity` within seconds while the first plays on
 * without a gap; when the first room empties and its agent leaves, the second, whose listener
 * waited, plays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatSamples } from '../../src/playout/samples.js';
import type { Listener } from '../harness/listener.js';
import { startRoomcast, type Roomcast } from '../harness/roomcast.js';
import { longestSilence } from '../harness/spectrum.js';

let rc: Roomcast;
const figures: Record<string, number> = {};

beforeAll(async () => {
  rc = await startRoomcast(
    [
      { id: 'long440', frequency: 440, format: 'flac', seconds: 60, genre: 'pop' },
      { id: 'long660', frequency: 660, format: 'flac', seconds: 60, genre: 'pop' },
    ],
    { AGENT_PROCESSES: '1', AGENT_MAX_ROOMS: '1', AGENT_EMPTY_ROOM_MS: '2000' },
  );
});

afterAll(async () => {
  console.log('capacity measurements', JSON.stringify(figures));
  await rc?.stop();
});

describe('capacity', () => {
  it('a room past capacity is refused with no_capacity; the playing room hears no gap; it plays once capacity is back', async () => {
    const { listener: first } = await rc.startIn('cap-first', { type: 'start_continuous_music', genre: 'pop' });
    await first.waitForWindow((w) => w.level > 0.01);
    first.recording = true;
    first.recorded.length = 0;

    const second: Listener = await rc.listen('cap-second');
    const refused = rc.app.send('cap-second', { type: 'start_continuous_music', genre: 'pop' });
    const reply = await refused.final;
    figures.refusedMs = Date.now() - refused.at;
    expect(reply).toMatchObject({ ok: false, status: 'error', error: { code: 'no_capacity' } });
    expect(figures.refusedMs).toBeLessThan(5_000);
    expect(rc.bridge.output()).toMatch(/refused: every agent worker is at capacity/);

    // The playing room noticed nothing: not one silent stretch of 20 ms while the refusal happened.
    await new Promise((r) => setTimeout(r, 500));
    first.recording = false;
    const heard = concatSamples(first.recorded.map((f) => f.samples));
    expect(heard.length).toBeGreaterThan(48_000);
    figures.longestSilenceMs = (longestSilence(heard) / 48_000) * 1000;
    expect(figures.longestSilenceMs).toBeLessThan(20);

    // Capacity comes back (the first room empties; its agent leaves): the second room, which
    // should play and has a listener, is started by the bridge.
    const freed = Date.now();
    await first.leave();
    const back = await second.waitForWindow((w) => w.level > 0.01, { since: freed, timeoutMs: 45_000, what: 'music in the second room' });
    figures.playsAfterFreedMs = back.firstFrameAt - freed;
  }, 120_000);
});
