/** The song catalog: a JSON file (path or http(s) URL) listing songs, filtered by language and genre. */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

export const songSchema = z.object({
  id: z.string().min(1),
  title: z.string().min(1),
  artist: z.string().optional(),
  url: z.string().min(1),
  language: z.string().optional(),
  genre: z.string().optional(),
  duration: z.number().positive().optional(),
});

/** `{ "songs": [...] }`, or just the array. */
export const catalogSchema = z.preprocess((v) => (Array.isArray(v) ? { songs: v } : v), z.object({ songs: z.array(songSchema) })).transform((c) => c.songs);

export type Song = z.infer<typeof songSchema>;

export interface SongFilter {
  language?: string | undefined;
  genre?: string | undefined;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

export class Catalog {
  constructor(readonly songs: readonly Song[]) {}

  static async load(location: string): Promise<Catalog> {
    const text = isUrl(location) ? await fetchText(location) : await readFile(location, 'utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new Error(`catalog ${location} is not valid JSON: ${(err as Error).message}`);
    }
    const parsed = catalogSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`catalog ${location} is invalid at ${issue?.path.join('.') || 'top level'}: ${issue?.message}`);
    }
    const ids = new Set<string>();
    for (const song of parsed.data) {
      if (ids.has(song.id)) throw new Error(`catalog ${location} has the id "${song.id}" twice`);
      ids.add(song.id);
    }
    return new Catalog(parsed.data.map((song) => ({ ...song, url: resolveSongUrl(song.url, location) })));
  }

  /**
   * Songs for `play_music` / `enqueue_music`: by song name (titles equal to it first, else titles
   * containing it), or by a free-text query whose every word appears in title, artist, genre or
   * language. Case-insensitive; `language` narrows either.
   */
  find({ song_name, query, language }: { song_name?: string | undefined; query?: string | undefined; language?: string | undefined }): Song[] {
    const pool = this.filter({ language });
    if (song_name) {
      const name = song_name.toLowerCase();
      const exact = pool.filter((s) => s.title.toLowerCase() === name);
      return exact.length ? exact : pool.filter((s) => s.title.toLowerCase().includes(name));
    }
    const words = (query ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    return pool.filter((s) => {
      const text = [s.title, s.artist, s.genre, s.language].join(' ').toLowerCase();
      return words.every((w) => text.includes(w));
    });
  }

  /** Songs matching every given filter, case-insensitively. */
  filter({ language, genre }: SongFilter): Song[] {
    return this.songs.filter((s) => matches(s.language, language) && matches(s.genre, genre));
  }
}

function matches(value: string | undefined, wanted: string | undefined): boolean {
  return wanted === undefined || value?.toLowerCase() === wanted.toLowerCase();
}

/** Relative song paths are relative to the catalog, wherever the catalog lives. */
function resolveSongUrl(url: string, catalogLocation: string): string {
  if (isUrl(url) || isAbsolute(url)) return url;
  if (url.startsWith('file://')) return new URL(url).pathname;
  if (isUrl(catalogLocation)) return new URL(url, catalogLocation).toString();
  return resolve(dirname(catalogLocation), url);
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`catalog ${url} answered HTTP ${res.status}`);
  return res.text();
}
