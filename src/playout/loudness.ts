/**
 * Loudness normalisation: each song gets the gain that brings it to the target loudness (EBU
 * R128 integrated, LUFS). The gain comes from the file's ReplayGain tag when it has one, else from
 * a measurement with ffmpeg's ebur128 filter, made once per song and cached on disk.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseFile } from 'music-metadata';
import type { Song } from '../music/song.js';
import { resolveFfmpeg } from '../ffmpeg.js';
import { ffmpegRunner } from './ffmpegRunner.js';

/** ReplayGain 2.0 values are relative to this loudness. */
const REPLAYGAIN_REFERENCE_LUFS = -18;
/** Never boost more than this: a quiet intro must not become a blast of noise. */
const MAX_BOOST_DB = 12;

export interface LoudnessOptions {
  targetLufs: number;
  cacheFile: string;
  ffmpegPath?: string | undefined;
}

type Cache = Record<string, number>;

export class Loudness {
  private cache: Cache | undefined;
  private readonly pending = new Map<string, Promise<number | undefined>>();

  constructor(private readonly options: LoudnessOptions) {}

  /** The loudness songs are brought to; stations are brought towards it on the fly (decoder.ts). */
  get targetLufs(): number {
    return this.options.targetLufs;
  }

  /**
   * The gain (dB) for a song, or undefined when its loudness is not known. A local file is
   * measured now if need be; a remote one is not downloaded twice before it plays: it is measured
   * in the background, for the next time.
   */
  async gainDb(song: Song): Promise<number | undefined> {
    const remote = /^https?:\/\//i.test(song.url);
    const known = this.load()[cacheKey(song)];
    if (remote && known === undefined) {
      void this.loudness(song);
      return undefined;
    }
    const lufs = known ?? (await this.loudness(song));
    if (lufs === undefined || !Number.isFinite(lufs)) return undefined;
    return Math.min(MAX_BOOST_DB, this.options.targetLufs - lufs);
  }

  /** Integrated loudness (LUFS) of a song: cached, tagged, or measured once. */
  loudness(song: Song): Promise<number | undefined> {
    const key = cacheKey(song);
    const known = this.load()[key];
    if (known !== undefined) return Promise.resolve(known);
    let running = this.pending.get(key);
    if (!running) {
      running = this.find(song).then((lufs) => {
        this.pending.delete(key);
        if (lufs !== undefined) this.save(key, lufs);
        return lufs;
      });
      this.pending.set(key, running);
    }
    return running;
  }

  private async find(song: Song): Promise<number | undefined> {
    return (await this.fromTags(song)) ?? (await measureLufs(song.url, this.options.ffmpegPath));
  }

  private async fromTags(song: Song): Promise<number | undefined> {
    if (/^https?:\/\//i.test(song.url)) return undefined;
    try {
      const { common } = await parseFile(song.url, { duration: false, skipCovers: true });
      const gain = common.replaygain_track_gain?.dB;
      return gain === undefined ? undefined : REPLAYGAIN_REFERENCE_LUFS - gain;
    } catch {
      return undefined;
    }
  }

  private load(): Cache {
    if (!this.cache) {
      try {
        this.cache = JSON.parse(readFileSync(this.options.cacheFile, 'utf8')) as Cache;
      } catch {
        this.cache = {};
      }
    }
    return this.cache;
  }

  private save(key: string, lufs: number): void {
    const cache = this.load();
    cache[key] = lufs;
    try {
      mkdirSync(dirname(this.options.cacheFile), { recursive: true });
      writeFileSync(this.options.cacheFile, JSON.stringify(cache));
    } catch {
      // a read-only disk only costs a measurement next time
    }
  }
}

/** The loudness cache a process's rooms share, when normalisation is on. */
export function createLoudness(config: { loudness?: { targetLufs: number; cacheFile: string } | undefined; ffmpegPath?: string | undefined }): Loudness | undefined {
  return config.loudness ? new Loudness({ ...config.loudness, ffmpegPath: config.ffmpegPath }) : undefined;
}

const cacheKey = (song: Song) => `${song.id}\u0000${song.url}`;

/** Integrated loudness of a whole input with ffmpeg's ebur128 filter; undefined when it fails. */
export async function measureLufs(input: string, ffmpegPath?: string): Promise<number | undefined> {
  const run = ffmpegRunner().run(resolveFfmpeg(ffmpegPath).path, ['-hide_banner', '-nostdin', '-i', input, '-vn', '-af', 'ebur128', '-f', 'null', '-']);
  const { code, stderr } = await run.exited;
  const match = /Integrated loudness:\s+I:\s+(-?[\d.]+|-inf) LUFS/.exec(stderr);
  return code === 0 && match && match[1] !== '-inf' ? Number(match[1]) : undefined;
}
