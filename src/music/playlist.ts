/**
 * A shuffled cycle over a pool of songs: every song plays once before any repeats, and a new
 * round never starts with the song that ended the last one.
 */
import type { Song } from './song.js';

export type Random = () => number;

export class Playlist {
  private queue: Song[] = [];
  private last: Song | undefined;

  constructor(
    private readonly pool: readonly Song[],
    private readonly random: Random = Math.random,
  ) {
    if (pool.length === 0) throw new Error('a playlist needs at least one song');
  }

  get size(): number {
    return this.pool.length;
  }

  includes(songId: string): boolean {
    return this.pool.some((s) => s.id === songId);
  }

  /** Puts a song back so that it comes next (a song taken ahead of time and not played). */
  putBack(song: Song): void {
    this.queue.unshift(song);
  }

  next(): Song {
    if (this.queue.length === 0) this.queue = this.newRound();
    const song = this.queue.shift() as Song;
    this.last = song;
    return song;
  }

  private newRound(): Song[] {
    const round = [...this.pool];
    for (let i = round.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [round[i], round[j]] = [round[j] as Song, round[i] as Song];
    }
    if (round.length > 1 && round[0] === this.last) round.push(round.shift() as Song);
    return round;
  }
}
