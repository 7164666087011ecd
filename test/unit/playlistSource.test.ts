/** The player's logic against real ffmpeg decoding, with a sink that paces like an AudioSource. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AudioFrame } from '@livekit/rtc-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/music/catalog.js';
import type { TrackEvent } from '../../src/protocol/messages.js';
import { PlaylistSource } from '../../src/sources/playlistSource.js';
import type { FrameSink } from '../../src/playout/audioFormat.js';
import { toneLevel } from '../harness/spectrum.js';
import { makeToneCatalog } from '../harness/tones.js';
import { IcyServer } from '../harness/radio.js';

/** Accepts frames at 20x real time and remembers them. */
class PacedSink implements FrameSink {
  frames = 0;
  fadedOut = 0;
  /** The left channel of every frame, when `keep` is on. */
  kept: Int16Array[] = [];
  keep = false;
  async captureFrame(frame: AudioFrame): Promise<void> {
    expect(frame.sampleRate).toBe(48_000);
    expect(frame.channels).toBe(2);
    this.frames++;
    if (this.keep) this.kept.push(frame.data.filter((_, i) => i % 2 === 0));
    await new Promise((r) => setTimeout(r, 1));
  }
  async fadeOut(): Promise<void> {
    this.fadedOut++;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'roomcast-player-'));
const tones = makeToneCatalog(dir, [
  { id: 't1', frequency: 500, format: 'mp3', seconds: 1, genre: 'a' },
  { id: 't2', frequency: 700, format: 'flac', seconds: 1, genre: 'a' },
]);
const log = pino({ level: 'silent' });
let player: PlaylistSource | undefined;

afterEach(async () => {
  await player?.stop();
});

async function makePlayer(extraSongs: Array<{ id: string; title: string; url: string; genre?: string; live?: boolean }> = [], crossfadeMs = 0) {
  const base = await Catalog.load(tones.path);
  const catalog = new Catalog([...base.songs, ...extraSongs]);
  const sink = new PacedSink();
  const events: TrackEvent[] = [];
  player = new PlaylistSource(sink, catalog, { log, crossfadeMs });
  player.on('track', (e) => events.push(e));
  return { player, sink, events };
}

describe('PlaylistSource', () => {
  it('plays songs one after another and reports each', async () => {
    const { player, events } = await makePlayer();
    const first = await player.start({ genre: 'a' });
    expect(['t1', 't2']).toContain(first.id);
    await new Promise<void>((resolve) => player.on('track', (e) => e.type === 'track_ended' && resolve()));
    const next = await new Promise<TrackEvent>((resolve) => player.on('track', (e) => e.type === 'track_started' && resolve(e)));
    expect(next.track.id).not.toBe(first.id);
    expect(events.find((e) => e.type === 'track_ended')).toMatchObject({ reason: 'finished', track: first });
    expect(player.status()).toMatchObject({ state: 'playing', filter: { genre: 'a' } });
  });

  it('says where the song is, how long it is, and what plays next', async () => {
    const { player, sink } = await makePlayer();
    const first = await player.start({ genre: 'a' });
    expect(first.duration_ms).toBe(1000);
    const status = player.status();
    expect(status.next?.id).toBe(first.id === 't1' ? 't2' : 't1');
    expect(status.position_ms).toBe(20);
    // The sink takes a frame a millisecond: the song (50 frames) is still on.
    await new Promise((r) => setTimeout(r, 15));
    const later = player.status();
    expect(later.track?.id).toBe(first.id);
    // Every frame the sink has taken, but the one it is taking now.
    expect(later.position_ms).toBeGreaterThanOrEqual((sink.frames - 1) * 20);
    expect(later.position_ms).toBeGreaterThan(20);
  });

  it('skip fades the song out and reports the next one', async () => {
    const { player, sink, events } = await makePlayer();
    const first = await player.start({});
    const { track: next } = await player.skip();
    expect(next.id).not.toBe(first.id);
    expect(sink.fadedOut).toBe(1);
    expect(events).toContainEqual({ type: 'track_ended', track: first, reason: 'skipped' });
  });

  it('stop ends playback; a second stop says nothing was playing', async () => {
    const { player, events } = await makePlayer();
    await player.start({});
    expect(await player.stop()).toBe(true);
    expect(await player.stop()).toBe(false);
    expect(player.status().state).toBe('stopped');
    expect(events.at(-1)).toMatchObject({ type: 'track_ended', reason: 'stopped' });
  });

  it('refuses to skip when stopped, and to start on a filter that matches nothing', async () => {
    const { player } = await makePlayer();
    await expect(player.skip()).rejects.toThrow(/no music is playing/);
    await expect(player.start({ genre: 'polka' })).rejects.toThrow(/no songs match genre "polka"/);
  });

  it('skips a song that fails to decode, and stops with an error when every song fails', async () => {
    const { player, events } = await makePlayer([{ id: 'bad', title: 'Bad', url: join(dir, 'missing.mp3'), genre: 'broken' }]);
    await expect(player.start({ genre: 'broken' })).rejects.toThrow(/every song failed/);
    expect(events[0]).toMatchObject({ type: 'track_failed', track: { id: 'bad' } });
    expect(player.status()).toMatchObject({ state: 'stopped', error: expect.stringMatching(/every song failed/) });
  });

  it('crossfades: the end of one song and the start of the next sound together, then the next alone', async () => {
    const { player, sink } = await makePlayer([], 400);
    sink.keep = true;
    const first = await player.start({ genre: 'a' });
    await new Promise<void>((resolve) => player.on('track', (e) => e.type === 'track_started' && e.track.id !== first.id && resolve()));
    await new Promise((r) => setTimeout(r, 300));
    const [f1, f2] = first.id === 't1' ? [500, 700] : [700, 500];
    const levels = sink.kept.map((frame) => [toneLevel(frame, f1, 48_000), toneLevel(frame, f2, 48_000)] as const);
    // The first overlap: consecutive frames where both tones sound.
    const overlapStart = levels.findIndex(([a, b]) => a > 0.02 && b > 0.02);
    let both = 0;
    while (levels[overlapStart + both]?.every((level) => level > 0.02)) both++;
    // 400 ms of overlap is 20 frames of 20 ms; the outer few of them hold one tone almost alone.
    expect(both).toBeGreaterThanOrEqual(12);
    expect(both).toBeLessThanOrEqual(20);
    // Equal-power gains: the overlap is about as loud as either song alone.
    const loud = (i: number) => Math.hypot(...(levels[i] as readonly [number, number]));
    expect(loud(overlapStart + 10) / loud(5)).toBeGreaterThan(0.8);
    expect(loud(overlapStart + 10) / loud(5)).toBeLessThan(1.25);
  });

  it('plays a station until skipped, tells its titles, and resumes it live after a pause', async () => {
    const icy = await IcyServer.start({ frequency: 800, dir, titles: ['Morning - Show', 'Traffic - News'], titleEveryMs: 700 });
    try {
      const { player, events } = await makePlayer([{ id: 'radio', title: 'Test Radio', url: icy.url, live: true, genre: 'radio' }]);
      const track = await player.start({ genre: 'radio' });
      expect(track).toMatchObject({ id: 'radio', live: true });
      // A song of the same length would have ended by now: a station plays on, and titles come.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(player.status()).toMatchObject({ state: 'playing', track: { id: 'radio', live: true } });
      expect(player.status().track?.stream_title).toBeTruthy();
      const titles = events.filter((e) => e.type === 'track_metadata').map((e) => e.track.stream_title);
      expect(titles.length).toBeGreaterThanOrEqual(2);
      expect(events.filter((e) => e.type === 'track_ended')).toEqual([]);
      const connections = icy.connections.length;
      await player.pause();
      await player.resume();
      await new Promise((r) => setTimeout(r, 300));
      expect(icy.connections.length).toBe(connections + 1);
    } finally {
      await player?.stop();
      await icy.close();
    }
  }, 15_000);

  it('a shuffled round plays songs and stations; a skip leaves the station for the next entry', async () => {
    const icy = await IcyServer.start({ frequency: 800, dir, titles: ['On air'] });
    try {
      const { player, events } = await makePlayer([{ id: 'radio', title: 'Test Radio', url: icy.url, live: true, genre: 'a' }]);
      await player.start({ genre: 'a' });
      const seen = new Set<string>();
      for (let i = 0; i < 6 && seen.size < 3; i++) {
        const id = player.status().track?.id;
        if (id) seen.add(id);
        if (id === 'radio') await player.skip();
        else await new Promise<void>((resolve) => player.once('track', () => resolve()));
      }
      expect([...seen].sort()).toEqual(['radio', 't1', 't2']);
      expect(events.some((e) => e.type === 'track_ended' && e.track.id === 'radio' && e.reason === 'skipped')).toBe(true);
    } finally {
      await player?.stop();
      await icy.close();
    }
  }, 20_000);
});
