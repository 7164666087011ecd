/**
 * The one ffmpeg resolver: FFMPEG_PATH → ffmpeg-static → `ffmpeg` on PATH → the binary bundled by
 * @livekit/av (audio only: no http input, no AAC). The first that exists and runs wins.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface FfmpegBinary {
  path: string;
  origin: 'FFMPEG_PATH' | 'ffmpeg-static' | 'PATH' | '@livekit/av';
}

function fromPackage(load: () => string | null | undefined): string | undefined {
  try {
    const p = load();
    return p && existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

function runs(path: string): boolean {
  try {
    // Generous: on a loaded machine a slow start is not a missing binary, and falling through to
    // @livekit/av's audio-only ffmpeg would lose http inputs and AAC.
    execFileSync(path, ['-hide_banner', '-version'], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

let cached: FfmpegBinary | undefined;

export function resolveFfmpeg(explicitPath = process.env.FFMPEG_PATH): FfmpegBinary {
  if (explicitPath) {
    // Probed once: every song asks, and the probe is a synchronous exec on the event loop.
    if (cached?.origin === 'FFMPEG_PATH' && cached.path === explicitPath) return cached;
    if (!runs(explicitPath)) throw new Error(`FFMPEG_PATH=${explicitPath} does not run; point it at an ffmpeg binary`);
    return (cached = { path: explicitPath, origin: 'FFMPEG_PATH' });
  }
  if (cached) return cached;
  const candidates: FfmpegBinary[] = [];
  const fromStatic = fromPackage(() => require('ffmpeg-static') as string | null);
  if (fromStatic) candidates.push({ path: fromStatic, origin: 'ffmpeg-static' });
  candidates.push({ path: 'ffmpeg', origin: 'PATH' });
  const fromAv = fromPackage(() => (require('@livekit/av') as { getFfmpegPath(): string | undefined }).getFfmpegPath());
  if (fromAv) candidates.push({ path: fromAv, origin: '@livekit/av' });
  cached = candidates.find((c) => runs(c.path));
  if (!cached) throw new Error('no ffmpeg found: set FFMPEG_PATH, or install ffmpeg (apt-get install ffmpeg)');
  return cached;
}
