/** `roomcast check-catalog`: every entry is loaded, reachable and decodable, with a progress bar. */
import { Catalog } from '../music/catalog.js';
import type { Song } from '../music/song.js';
import { decodePcm } from '../playout/decoder.js';
import { openStation } from '../sources/station.js';
import { createLogger } from '../log.js';

const PROBE_BYTES = 48_000 * 2 * 2; // one second of audio
const PROBE_TIMEOUT_MS = 20_000;

/** One second of a song's PCM, or of a station's as the agent reads it (its ICY title aside). */
async function* firstSecond(song: Song, signal: AbortSignal, ffmpegPath: string | undefined): AsyncGenerator<Uint8Array> {
  if (!song.live) return yield* decodePcm(song.url, { signal, ffmpegPath });
  const log = createLogger('check-catalog', { level: 'silent', pretty: false });
  const station = openStation(song, { signal, ffmpegPath, log, startTimeoutMs: PROBE_TIMEOUT_MS, stallTimeoutMs: PROBE_TIMEOUT_MS, giveUpMs: PROBE_TIMEOUT_MS, onTitle: () => undefined });
  for await (const frame of station.frames) yield new Uint8Array(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
}

/** Decodes the first second of a song or station; resolves undefined when it plays, else the reason. */
async function probe(song: Song, ffmpegPath: string | undefined): Promise<string | undefined> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), PROBE_TIMEOUT_MS);
  let bytes = 0;
  try {
    for await (const chunk of firstSecond(song, abort.signal, ffmpegPath)) {
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
  const stations = catalog.songs.filter((s) => s.live).length;
  console.log(`${catalog.songs.length - failures.length} of ${catalog.songs.length} entries play${stations ? ` (${stations} of them stations)` : ''}`);
  return failures.length ? 1 : 0;
}
