/**
 * The small demo catalog `npm start` plays when MUSIC_CATALOG is unset: a few short synthesized
 * pieces made once with ffmpeg (nothing is downloaded), cached in .roomcast/demo.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveFfmpeg } from '../src/ffmpeg.js';

const PIECES = [
  { id: 'demo-c-major', title: 'C Major Drift', notes: [261.63, 329.63, 392.0], genre: 'ambient', language: 'Instrumental' },
  { id: 'demo-a-minor', title: 'A Minor Pulse', notes: [220.0, 261.63, 329.63], genre: 'ambient', language: 'Instrumental' },
  { id: 'demo-f-major', title: 'F Major Glow', notes: [174.61, 220.0, 261.63], genre: 'pop', language: 'Instrumental' },
];
const SECONDS = 20;

/** A soft chord with a slow tremolo, one note entering each second. */
function expression(notes: number[]): string {
  const voices = notes.map((f, i) => `gte(t,${i})*sin(2*PI*${f}*t)`).join('+');
  return `0.25*(${voices})*(0.75+0.25*sin(2*PI*0.5*t))*min(1,(${SECONDS}-t)/2)`;
}

export function ensureDemoCatalog(dir: string): string {
  const catalog = join(dir, 'catalog.json');
  if (existsSync(catalog)) return catalog;
  mkdirSync(dir, { recursive: true });
  const ffmpeg = resolveFfmpeg().path;
  const songs = PIECES.map((piece) => {
    const file = join(dir, `${piece.id}.ogg`);
    const source = `aevalsrc='${expression(piece.notes)}|${expression(piece.notes.map((f) => f * 1.003))}':s=48000:d=${SECONDS}`;
    execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', source, '-c:a', 'libvorbis', '-q:a', '5', file]);
    return { id: piece.id, title: piece.title, artist: 'Roomcast demo', url: `${piece.id}.ogg`, language: piece.language, genre: piece.genre, duration: SECONDS };
  });
  writeFileSync(catalog, JSON.stringify({ songs }, null, 2));
  return catalog;
}
