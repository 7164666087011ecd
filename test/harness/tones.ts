/** Test music made at test time with ffmpeg: pure tones of distinct frequencies in several formats. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveFfmpeg } from '../../src/ffmpeg.js';
import type { Song } from '../../src/music/song.js';

export interface ToneSpec {
  id: string;
  frequency: number;
  /** A different frequency on the right channel (the left one plays `frequency`). */
  rightFrequency?: number;
  format: 'mp3' | 'ogg' | 'flac';
  seconds: number;
  /** Level change from ffmpeg's sine (dB), e.g. -12 for a quieter song. */
  gainDb?: number;
  language?: string;
  genre?: string;
}

export interface ToneSong extends Song {
  frequency: number;
}

const codec = { mp3: ['-c:a', 'libmp3lame', '-b:a', '192k'], ogg: ['-c:a', 'libvorbis', '-q:a', '6'], flac: ['-c:a', 'flac'] };

export function makeTone(dir: string, spec: ToneSpec): string {
  const file = join(dir, `${spec.id}.${spec.format}`);
  const sine = (f: number) => `sine=frequency=${f}:sample_rate=48000:duration=${spec.seconds}`;
  const input = spec.rightFrequency
    ? ['-filter_complex', `${sine(spec.frequency)}[l];${sine(spec.rightFrequency)}[r];[l][r]join=inputs=2:channel_layout=stereo`]
    : ['-f', 'lavfi', '-i', sine(spec.frequency), '-ac', '2'];
  const gain = spec.gainDb ? ['-af', `volume=${spec.gainDb}dB`] : [];
  execFileSync(resolveFfmpeg().path, ['-hide_banner', '-loglevel', 'error', '-y', ...input, ...gain, ...codec[spec.format], file], { stdio: 'inherit' });
  return file;
}

/** Writes the tone files and a catalog.json listing them; returns the catalog's path and songs. */
export function makeToneCatalog(dir: string, specs: ToneSpec[]): { path: string; songs: ToneSong[] } {
  mkdirSync(dir, { recursive: true });
  const songs = specs.map((spec) => ({
    id: spec.id,
    title: `Tone ${spec.frequency} Hz`,
    artist: 'Roomcast test',
    url: makeTone(dir, spec),
    language: spec.language,
    genre: spec.genre,
    duration: spec.seconds,
    frequency: spec.frequency,
  }));
  const path = join(dir, 'catalog.json');
  writeFileSync(path, JSON.stringify({ songs: songs.map(({ frequency: _f, ...song }) => song) }, null, 2));
  return { path, songs };
}

/** A sine tone file at `path` with the given tags (title, artist, genre, …), made by ffmpeg. */
export function taggedTone(path: string, frequency: number, seconds: number, tags: Record<string, string>): void {
  const metadata = Object.entries(tags).flatMap(([k, v]) => ['-metadata', `${k}=${v}`]);
  execFileSync(resolveFfmpeg().path, ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${frequency}:duration=${seconds}`, ...metadata, path]);
}
