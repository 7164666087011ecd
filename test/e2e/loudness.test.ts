/**
 * Loudness normalisation on the real stack: two songs 12 dB apart arrive at the listener within
 * 1 dB of each other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTone } from '../harness/listener.js';
import { startRoomcast, type Roomcast } from '../harness/roomcast.js';

let rc: Roomcast;

beforeAll(async () => {
  rc = await startRoomcast([
    { id: 'loud', frequency: 440, format: 'mp3', seconds: 4, gainDb: 6, genre: 'levels' },
    { id: 'quiet', frequency: 660, format: 'ogg', seconds: 4, gainDb: -6, genre: 'levels' },
  ]);
});

afterAll(async () => {
  await rc?.stop();
});

describe('loudness normalisation', () => {
  it('songs 12 dB apart arrive within 1 dB', async () => {
    const listener = await rc.listen('levels');
    const sent = rc.app.send('levels', { type: 'start_continuous_music', genre: 'levels' });
    await sent.final;
    // Both songs, whichever comes first.
    await listener.waitForTone(440, { since: sent.at, timeoutMs: 15_000, count: 6 });
    await listener.waitForTone(660, { since: sent.at, timeoutMs: 15_000, count: 6 });
    const level = (f: number) => {
      const ws = listener.windows.filter((w) => w.at >= sent.at && isTone(w, f));
      // The middle of the song: away from the transitions.
      const middle = ws.slice(2, -2);
      return middle.reduce((n, w) => n + w.level, 0) / middle.length;
    };
    const apartDb = 20 * Math.log10(level(440) / level(660));
    console.log(`loudness: songs 12 dB apart in the files arrive ${apartDb.toFixed(2)} dB apart`);
    expect(Math.abs(apartDb)).toBeLessThan(1);
    rc.app.send('levels', { type: 'stop_continuous_music' });
  });
});
