/** The song catalog (see catalogFormats.ts for where songs come from), filtered and searched. */
import { watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { z } from 'zod';
import { formatOf, type CatalogFormat, parseM3u, readText, resolveSongUrl, scanFolder } from './catalogFormats.js';
import { isUrl, songSchema, type Song } from './song.js';

/** `{ "songs": [...] }`, or just the array. */
export const catalogSchema = z.preprocess((v) => (Array.isArray(v) ? { songs: v } : v), z.object({ songs: z.array(songSchema) })).transform((c) => c.songs);

export interface SongFilter {
  language?: string | undefined;
  genre?: string | undefined;
}

export class Catalog {
  private current: readonly Song[];

  constructor(
    songs: readonly Song[],
    readonly location = '',
    readonly format: CatalogFormat = 'json',
  ) {
    this.current = checkIds(songs, location);
  }

  /** The genres its songs have, each once, as first written, in catalog order. */
  get genres(): string[] {
    return distinct(this.current.map((s) => s.genre));
  }

  /** The languages its songs have, likewise. */
  get languages(): string[] {
    return distinct(this.current.map((s) => s.language));
  }

  get songs(): readonly Song[] {
    return this.current;
  }

  /** A JSON catalog, an M3U/M3U8 playlist (path or http(s) URL), or a folder of audio files. */
  static async load(location: string): Promise<Catalog> {
    const format = formatOf(location, !isUrl(location) && (await stat(location)).isDirectory());
    return new Catalog(await readSongs(location, format), location, format);
  }

  /**
   * Reloads the catalog whenever its file or folder changes (local catalogs only). A reload that
   * fails keeps the songs there were and says why; a room plays on with what it has.
   */
  watch(onReload: (result: { songs: number } | { error: string }) => void, debounceMs = 500): () => void {
    if (!this.location || isUrl(this.location)) return () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const reload = () => {
      readSongs(this.location, this.format)
        .then((songs) => {
          this.current = checkIds(songs, this.location);
          onReload({ songs: songs.length });
        })
        .catch((err: Error) => onReload({ error: err.message }));
    };
    // A file is watched through its folder: editors replace files rather than write them in place.
    const folder = this.format === 'folder';
    const watcher = watch(folder ? this.location : dirname(this.location), { recursive: folder }, (_event, name) => {
      if (!folder && name !== basename(this.location)) return;
      clearTimeout(timer);
      timer = setTimeout(reload, debounceMs);
    });
    watcher.on('error', (err) => onReload({ error: err.message }));
    watcher.unref();
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
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

function parseJsonCatalog(text: string, location: string): Song[] {
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
  return parsed.data.map((song) => ({ ...song, url: resolveSongUrl(song.url, location) }));
}

async function readSongs(location: string, format: CatalogFormat): Promise<Song[]> {
  if (format === 'folder') return scanFolder(location);
  const text = await readText(location);
  return format === 'm3u' ? parseM3u(text, location) : parseJsonCatalog(text, location);
}

function checkIds(songs: readonly Song[], location: string): readonly Song[] {
  const ids = new Set<string>();
  for (const song of songs) {
    if (ids.has(song.id)) throw new Error(`catalog ${location} has the id "${song.id}" twice`);
    ids.add(song.id);
  }
  return songs;
}

/** Each value once (case-insensitively), as first written. */
function distinct(values: Array<string | undefined>): string[] {
  const seen = new Map<string, string>();
  for (const v of values) if (v && !seen.has(v.toLowerCase())) seen.set(v.toLowerCase(), v);
  return [...seen.values()];
}
