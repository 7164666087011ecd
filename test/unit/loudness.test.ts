import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Loudness, measureLufs } from '../../src/playout/loudness.js';
import { makeToneCatalog } from '../harness/tones.js';

const dir = mkdtempSync(join(tmpdir(), 'roomcast-loudness-'));
const { songs } = makeToneCatalog(dir, [
  { id: 'loud', frequency: 440, format: 'flac', seconds: 3 },
  { id: 'quiet', frequency: 440, format: 'flac', seconds: 3, gainDb: -12 },
]);

describe('loudness', () => {
  it('measures integrated loudness with ffmpeg', async () => {
    const [loud, quiet] = await Promise.all(songs.map((s) => measureLufs(s.url)));
    expect((loud as number) - (quiet as number)).toBeCloseTo(12, 0);
  });

  it('gives each song the gain to the target, measured once and cached on disk', async () => {
    const cacheFile = join(dir, 'cache', 'loudness.json');
    const loudness = new Loudness({ targetLufs: -24, cacheFile });
    const [loud, quiet] = songs as [(typeof songs)[0], (typeof songs)[0]];
    const loudGain = (await loudness.gainDb(loud)) as number;
    const quietGain = (await loudness.gainDb(quiet)) as number;
    expect(quietGain - loudGain).toBeCloseTo(12, 0);
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, number>;
    expect(Object.keys(cached)).toHaveLength(2);
    // A second instance reads the cache instead of measuring (a missing file would fail to measure).
    const again = new Loudness({ targetLufs: -24, cacheFile });
    expect(await again.gainDb({ ...loud })).toBeCloseTo(loudGain, 5);
  });

  it('does not boost by more than 12 dB', async () => {
    const loudness = new Loudness({ targetLufs: -5, cacheFile: join(dir, 'c2.json') });
    expect(await loudness.gainDb(songs[1] as (typeof songs)[0])).toBeLessThanOrEqual(12);
  });
});
