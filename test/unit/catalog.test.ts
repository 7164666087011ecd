import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../src/music/catalog.js';

const dir = mkdtempSync(join(tmpdir(), 'roomcast-catalog-'));
const write = (name: string, body: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body));
  return path;
};

const songs = [
  { id: '1', title: 'One', url: 'songs/one.mp3', language: 'English', genre: 'Pop' },
  { id: '2', title: 'Two', url: '/abs/two.ogg', language: 'Spanish', genre: 'rock' },
  { id: '3', title: 'Three', url: 'https://cdn.example/three.mp3', language: 'english', genre: 'rock' },
];

describe('Catalog', () => {
  it('loads {songs: [...]} or a bare array, resolving relative paths against the catalog', async () => {
    for (const body of [{ songs }, songs]) {
      const c = await Catalog.load(write('c.json', body));
      expect(c.songs.map((s) => s.url)).toEqual([join(dir, 'songs/one.mp3'), '/abs/two.ogg', 'https://cdn.example/three.mp3']);
    }
  });

  it('filters by language and genre, case-insensitively', async () => {
    const c = await Catalog.load(write('c.json', { songs }));
    expect(c.filter({ language: 'ENGLISH' }).map((s) => s.id)).toEqual(['1', '3']);
    expect(c.filter({ genre: 'rock', language: 'english' }).map((s) => s.id)).toEqual(['3']);
    expect(c.filter({}).length).toBe(3);
    expect(c.filter({ genre: 'jazz' })).toEqual([]);
  });

  it('explains what is wrong with a bad catalog', async () => {
    await expect(Catalog.load(write('bad.json', '{oops'))).rejects.toThrow(/not valid JSON/);
    await expect(Catalog.load(write('bad.json', { songs: [{ id: '1', url: 'x' }] }))).rejects.toThrow(/invalid at songs.0.title: .*expected string/);
    await expect(Catalog.load(write('bad.json', [songs[0], songs[0]]))).rejects.toThrow(/id "1" twice/);
    await expect(Catalog.load(write('bad.json', [{ id: 'r', title: 'Radio', url: '/music/radio.mp3', live: true }]))).rejects.toThrow(/songs.0.url: a station \("live": true\) needs an http\(s\) URL/);
    await expect(Catalog.load(join(dir, 'missing.json'))).rejects.toThrow(/ENOENT/);
  });

  it('loads over http and resolves relative song URLs against it', async () => {
    const server = createServer((_req, res) => res.end(JSON.stringify({ songs })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const c = await Catalog.load(`http://127.0.0.1:${port}/lib/catalog.json`);
      expect(c.songs[0]?.url).toBe(`http://127.0.0.1:${port}/lib/songs/one.mp3`);
    } finally {
      server.close();
    }
  });
});

describe('Catalog.find', () => {
  it('finds by song name (exact title first) or by every word of a query, within a language', async () => {
    const c = await Catalog.load(write('c.json', { songs: [...songs, { id: '4', title: 'One More', url: 'x.mp3', artist: 'Band', language: 'English' }] }));
    expect(c.find({ song_name: 'one' }).map((s) => s.id)).toEqual(['1']);
    expect(c.find({ song_name: 'ONE m' }).map((s) => s.id)).toEqual(['4']);
    expect(c.find({ query: 'english rock' }).map((s) => s.id)).toEqual(['3']);
    expect(c.find({ query: 'band', language: 'english' }).map((s) => s.id)).toEqual(['4']);
    expect(c.find({ song_name: 'missing' })).toEqual([]);
  });
});
