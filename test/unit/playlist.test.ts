import { describe, expect, it } from 'vitest';
import type { Song } from '../../src/music/song.js';
import { Playlist } from '../../src/music/playlist.js';

const song = (id: string): Song => ({ id, title: id, url: `/music/${id}.mp3` });
const pool = ['a', 'b', 'c', 'd', 'e'].map(song);

describe('Playlist', () => {
  it('plays every song once per round', () => {
    const p = new Playlist(pool);
    for (let round = 0; round < 20; round++) {
      const ids = pool.map(() => p.next().id);
      expect(new Set(ids).size).toBe(pool.length);
    }
  });

  it('never repeats a song across the boundary of two rounds', () => {
    const p = new Playlist(pool);
    let last = '';
    for (let i = 0; i < 500; i++) {
      const id = p.next().id;
      expect(id).not.toBe(last);
      last = id;
    }
  });

  it('repeats the only song when there is one', () => {
    const p = new Playlist([song('solo')]);
    expect([p.next().id, p.next().id]).toEqual(['solo', 'solo']);
  });

  it('refuses an empty pool', () => {
    expect(() => new Playlist([])).toThrow(/at least one song/);
  });
});
