/**
 * Where songs come from besides a JSON catalog (catalog.ts): an M3U/M3U8 playlist, or a folder of
 * audio files read with their tags. Each reader returns songs whose `url` is absolute (a path or
 * an http(s) URL).
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { parseFile } from 'music-metadata';
import { isUrl, type Song } from './song.js';

const AUDIO_EXTENSIONS = new Set(['.mp3', '.ogg', '.oga', '.opus', '.flac', '.wav', '.m4a', '.aac', '.wma', '.aiff', '.aif', '.webm', '.mka']);

export type CatalogFormat = 'json' | 'm3u' | 'folder';

export function formatOf(location: string, isDirectory: boolean): CatalogFormat {
  if (isDirectory) return 'folder';
  return /\.m3u8?$/i.test(new URL(location, 'file:///').pathname) ? 'm3u' : 'json';
}

/**
 * Extended M3U: `#EXTINF:<seconds> [key="value" ...],<Artist> - <Title>` before each entry, where
 * the keys `genre`, `language` and `id` (IPTV-style attributes) fill the song's fields. An entry
 * without #EXTINF is titled after its file name. A length of -1 on an http(s) entry marks a live
 * station (the convention of radio and IPTV playlists).
 */
export function parseM3u(text: string, location: string): Song[] {
  const songs: Song[] = [];
  let info: Partial<Song> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('#EXTINF:')) {
      info = parseExtinf(line.slice('#EXTINF:'.length));
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    const url = resolveSongUrl(line, location);
    const { live, ...known } = info;
    songs.push({ title: titleFromPath(line), ...known, id: info.id ?? line, url, ...(live && isUrl(url) ? { live: true } : {}) });
    info = {};
  }
  if (songs.length === 0) throw new Error(`playlist ${location} lists no songs`);
  return songs;
}

function parseExtinf(rest: string): Partial<Song> {
  // The display title follows the first comma that is not inside a quoted attribute value.
  const comma = rest.search(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/);
  const head = comma < 0 ? rest : rest.slice(0, comma);
  const display = comma < 0 ? '' : rest.slice(comma + 1).trim();
  const info: Partial<Song> = {};
  const seconds = Number.parseFloat(head);
  if (seconds > 0) info.duration = seconds;
  if (seconds === -1) info.live = true;
  for (const [, key, value] of head.matchAll(/([\w-]+)="([^"]*)"/g)) {
    if (key === 'genre' || key === 'language' || key === 'id') info[key] = value;
  }
  const dash = display.indexOf(' - ');
  if (dash > 0) [info.artist, info.title] = [display.slice(0, dash).trim(), display.slice(dash + 3).trim()];
  else if (display) info.title = display;
  return info;
}

/** Every audio file under `folder`, described by its tags; the id is the path inside the folder. */
export async function scanFolder(folder: string): Promise<Song[]> {
  const files = (await readdir(folder, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && AUDIO_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const songs: Song[] = [];
  for (const path of files) songs.push(await songFromFile(path, folder));
  if (songs.length === 0) throw new Error(`folder ${folder} holds no audio files (${[...AUDIO_EXTENSIONS].join(' ')})`);
  return songs;
}

async function songFromFile(path: string, folder: string): Promise<Song> {
  const id = relative(folder, path);
  const song: Song = { id, title: titleFromPath(path), url: path };
  try {
    const { common, format } = await parseFile(path, { duration: false, skipCovers: true });
    if (common.title) song.title = common.title;
    if (common.artist) song.artist = common.artist;
    if (common.genre?.[0]) song.genre = common.genre[0];
    const language = common.language ?? common.comment?.find((c) => c.language)?.language;
    if (language) song.language = language;
    if (format.duration) song.duration = format.duration;
  } catch {
    // Unreadable tags: the file still plays, titled after its name; ffmpeg decides if it decodes.
  }
  return song;
}

function titleFromPath(path: string): string {
  const name = decodeURIComponent(path.split(/[\\/]/).pop() ?? path);
  return name.replace(/\.[^.]+$/, '') || name;
}

/** Relative song paths are relative to the catalog, wherever the catalog lives. */
export function resolveSongUrl(url: string, catalogLocation: string): string {
  if (isUrl(url) || isAbsolute(url)) return url;
  if (url.startsWith('file://')) return new URL(url).pathname;
  if (isUrl(catalogLocation)) return new URL(url, catalogLocation).toString();
  return resolve(dirname(catalogLocation), url);
}

export async function readText(location: string): Promise<string> {
  if (!isUrl(location)) return readFile(location, 'utf8');
  const res = await fetch(location, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`catalog ${location} answered HTTP ${res.status}`);
  return res.text();
}
