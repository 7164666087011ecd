/**
 * The music engine on the real stack with a catalog that is a folder of tagged audio files:
 * crossfades between songs heard by the listener, and a song added to the folder is playable
 * without restarting anything.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toneLevel } from '../harness/spectrum.js';
import { concatSamples } from '../../src/playout/samples.js';
import { startRoomcast, trackId, type Roomcast } from '../harness/roomcast.js';
import { taggedTone } from '../harness/tones.js';

const SAMPLE_RATE = 48_000;
const CROSSFADE_SECONDS = 1.5;
const folder = mkdtempSync(join(tmpdir(), 'roomcast-library-'));
/** Song id (the path in the folder) → tone frequency. */
const frequencies = new Map<string, number>();

function libraryTone(name: string, frequency: number, tags: Record<string, string>): void {
  taggedTone(join(folder, name), frequency, 4, tags);
  frequencies.set(name, frequency);
}

let rc: Roomcast;

beforeAll(async () => {
  libraryTone('low.mp3', 440, { title: 'Low Tone', artist: 'Sines', genre: 'Pop' });
  libraryTone('high.flac', 880, { title: 'High Tone', artist: 'Sines', genre: 'Pop' });
  rc = await startRoomcast(undefined, { CROSSFADE_SECONDS: String(CROSSFADE_SECONDS) }, folder);
});

afterAll(async () => {
  await rc?.stop();
});

describe('music engine', () => {
  it('crossfades: both songs sound together at a transition, for about the configured time', async () => {
    const { listener, sent } = await rc.startIn('crossfade', { type: 'start_continuous_music', genre: 'pop' });
    const first = trackId((await sent.final).result as unknown as Record<string, unknown>) as string;
    listener.recording = true;
    const next = await listener.waitForMessage((m) => m.type === 'track_started' && trackId(m) !== first, { since: sent.at, timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 2_500));
    listener.recording = false;
    const [f1, f2] = [frequencies.get(first) as number, frequencies.get(trackId(next.body) as string) as number];
    // 40 ms windows over what the listener heard, and the level of each tone in them.
    const samples = concatSamples(listener.recorded.map((r) => r.samples));
    const step = (SAMPLE_RATE * 40) / 1000;
    const windows: Array<[number, number]> = [];
    for (let i = 0; i + step <= samples.length; i += step) windows.push([toneLevel(samples.subarray(i, i + step), f1, SAMPLE_RATE), toneLevel(samples.subarray(i, i + step), f2, SAMPLE_RATE)]);
    const solo = Math.max(...windows.map(([a]) => a));
    const both = windows.filter(([a, b]) => a > solo * 0.2 && b > solo * 0.2).length;
    const overlapSeconds = (both * 40) / 1000;
    console.log('crossfade measurements', JSON.stringify({ configuredSeconds: CROSSFADE_SECONDS, bothTonesAudibleSeconds: overlapSeconds }));
    // Equal-power fades: each tone is above 20% of full level for ~87% of the overlap.
    expect(overlapSeconds).toBeGreaterThan(CROSSFADE_SECONDS * 0.6);
    expect(overlapSeconds).toBeLessThan(CROSSFADE_SECONDS * 1.2);
  });

  it('a song added to the folder is in the catalog moments later, tags and all', async () => {
    const listener = await rc.listen('reload');
    mkdirSync(join(folder, 'new'));
    libraryTone('new/fresh.ogg', 1320, { title: 'Fresh Song', artist: 'Newcomer', genre: 'Pop' });
    await rc.agent.waitFor(/"songs":3,"msg":"catalog reloaded"|catalog reloaded.*"songs":3/, 15_000);
    const sent = rc.app.send('reload', { type: 'play_music', song_name: 'fresh song' });
    const done = await sent.final;
    expect(done.status).toBe('done');
    expect((done.result as unknown as { track: { id: string; artist: string } }).track).toMatchObject({ id: join('new', 'fresh.ogg'), artist: 'Newcomer' });
    await listener.waitForTone(1320, { since: sent.at });
  });
});
