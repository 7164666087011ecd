import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../src/music/catalog.js';
import { taggedTone } from '../harness/tones.js';

const dir = mkdtempSync(join(tmpdir(), 'roomcast-formats-'));

describe('catalog formats', () => {
  it('reads an extended M3U: durations, "Artist - Title", genre/language/id attributes, relative paths, stations (-1 on a URL)', async () => {
    const path = join(dir, 'list.m3u8');
    writeFileSync(
      path,
      [
        '#EXTM3U',
        '#EXTINF:215 genre="Pop" language="English" id="sunny",The Band - Sunny, Again',
        'music/sunny.mp3',
        '',
        '#EXTINF:-1,Radio Example',
        'https://radio.example/live.mp3',
        '#EXTINF:-1,Unknown length',
        '/abs/bare%20name.flac',
      ].join('\r\n'),
    );
    const catalog = await Catalog.load(path);
    expect(catalog.format).toBe('m3u');
    expect(catalog.songs).toEqual([
      { id: 'sunny', title: 'Sunny, Again', artist: 'The Band', genre: 'Pop', language: 'English', duration: 215, url: join(dir, 'music/sunny.mp3') },
      { id: 'https://radio.example/live.mp3', title: 'Radio Example', url: 'https://radio.example/live.mp3', live: true },
      { id: '/abs/bare%20name.flac', title: 'Unknown length', url: '/abs/bare%20name.flac' },
    ]);
    expect(catalog.filter({ genre: 'pop' }).map((s) => s.id)).toEqual(['sunny']);
  });

  it('an M3U with no entries is refused with the reason', async () => {
    const path = join(dir, 'empty.m3u');
    writeFileSync(path, '#EXTM3U\n');
    await expect(Catalog.load(path)).rejects.toThrow(/lists no songs/);
  });

  it('reads a folder of audio files with their tags; files without tags are titled after their name', async () => {
    const folder = join(dir, 'library');
    mkdirSync(join(folder, 'rock'), { recursive: true });
    taggedTone(join(folder, 'rock', 'a.mp3'), 440, 1, { title: 'Loud Song', artist: 'Amps', genre: 'Rock', language: 'spa' });
    taggedTone(join(folder, 'untagged.flac'), 440, 1, {});
    writeFileSync(join(folder, 'cover.jpg'), 'not audio');
    const catalog = await Catalog.load(folder);
    expect(catalog.format).toBe('folder');
    const [tagged, untagged] = catalog.songs;
    expect(tagged).toMatchObject({ id: join('rock', 'a.mp3'), title: 'Loud Song', artist: 'Amps', genre: 'Rock', url: join(folder, 'rock', 'a.mp3') });
    expect(tagged?.duration).toBeCloseTo(1, 0);
    expect(untagged).toMatchObject({ id: 'untagged.flac', title: 'untagged' });
    expect(catalog.find({ query: 'amps loud' }).map((s) => s.id)).toEqual([join('rock', 'a.mp3')]);
  });

  it('reloads when the catalog file is replaced, and keeps its songs when the new one is broken', async () => {
    const path = join(dir, 'live.json');
    writeFileSync(path, JSON.stringify([{ id: '1', title: 'One', url: '/one.mp3' }]));
    const catalog = await Catalog.load(path);
    const results: Array<{ songs: number } | { error: string }> = [];
    const stop = catalog.watch((r) => results.push(r), 50);
    const next = () =>
      new Promise<void>((resolve) => {
        const count = results.length;
        const timer = setInterval(() => results.length > count && (clearInterval(timer), resolve()), 20);
      });
    try {
      writeFileSync(
        `${path}.tmp`,
        JSON.stringify([
          { id: '1', title: 'One', url: '/one.mp3' },
          { id: '2', title: 'Two', url: '/two.mp3' },
        ]),
      );
      renameSync(`${path}.tmp`, path);
      await next();
      expect(results.at(-1)).toEqual({ songs: 2 });
      expect(catalog.songs.map((s) => s.id)).toEqual(['1', '2']);
      writeFileSync(path, '{ broken');
      await next();
      expect(results.at(-1)).toMatchObject({ error: expect.stringMatching(/not valid JSON/) });
      expect(catalog.songs).toHaveLength(2);
    } finally {
      stop();
    }
  });
});
