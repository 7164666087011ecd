/** `roomcast check-catalog`: every entry is loaded, reachable and decodable, with a progress bar. */
import { Catalog } from '../music/catalog.js';
import type { Song } from '../music/song.js';
import { decodePcm } from '../playout/decoder.js';

const PROBE_BYTES = 48_000 * 2 * 2; // one second of audio
const PROBE_TIMEOUT_MS = 20_000;

/** Decodes the first second of a song; resolves undefined when it plays, else the reason. */
async function probe(song: Song, ffmpegPath: string | undefined): Promise<string | undefined> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), PROBE_TIMEOUT_MS);
  let bytes = 0;
  try {
    for await (const chunk of decodePcm(song.url, { signal: abort.signal, ffmpegPath })) {
      bytes += chunk.length;
      if (bytes >= PROBE_BYTES) break;
    }
    if (abort.signal.aborted) return `no audio within ${PROBE_TIMEOUT_MS / 1000} s`;
    return bytes > 0 ? undefined : 'no audio decoded';
  } catch (err) {
    return (err as Error).message;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

function progress(done: number, total: number): string {
  const width = 30;
  const filled = Math.round((done / Math.max(1, total)) * width);
  return `[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`;
}

export async function checkCatalog(location: string | undefined, ffmpegPath: string | undefined): Promise<number> {
  if (!location) throw new Error('no catalog: pass one, or set MUSIC_CATALOG');
  const catalog = await Catalog.load(location);
  const failures: Array<[Song, string]> = [];
  const tty = process.stderr.isTTY;
  for (const [index, song] of catalog.songs.entries()) {
    const problem = await probe(song, ffmpegPath);
    if (problem) failures.push([song, problem]);
    if (tty) process.stderr.write(`\r${progress(index + 1, catalog.songs.length)} ${song.id.slice(0, 30).padEnd(30)}`);
    else console.error(`${problem ? 'FAIL' : 'ok  '} ${song.id}${problem ? `: ${problem}` : ''}`);
  }
  if (tty) process.stderr.write('\n');
  for (const [song, problem] of failures) console.log(`FAIL ${song.id} (${song.url}): ${problem}`);
  console.log(`${catalog.songs.length - failures.length} of ${catalog.songs.length} songs play`);
  return failures.length ? 1 : 0;
}
