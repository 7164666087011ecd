/**
 * Decodes any input ffmpeg reads (file path, http(s) URL, HLS playlist, or bytes this process
 * feeds it: a live station's stream) to 48 kHz stereo s16le PCM, as it arrives.
 */
import { pipeline } from 'node:stream/promises';
import { resolveFfmpeg } from '../ffmpeg.js';
import { isUrl } from '../music/song.js';
import { CHANNELS, SAMPLE_RATE } from './audioFormat.js';
import { FFMPEG_INPUT, FFMPEG_OUTPUT, ffmpegRunner } from './ffmpegRunner.js';

export interface DecodeOptions {
  signal: AbortSignal;
  ffmpegPath?: string | undefined;
  /** Gain applied while decoding (loudness normalisation of a song measured beforehand). */
  gainDb?: number | undefined;
  /** The bytes to decode, fed by this process; `input` then only names them in errors. */
  feed?: AsyncIterable<Uint8Array> | undefined;
  /** ffmpeg's name of the fed bytes' format (mp3, aac, ogg…), when known: it saves the probing. */
  format?: string | undefined;
  /** Told the ffmpeg process's pid once it is spawned (logs, tests that check it exits). */
  onSpawn?: ((pid: number | undefined) => void) | undefined;
}

export class DecodeError extends Error {
  override name = 'DecodeError';
}

function ffmpegArgs(input: string, { gainDb, feed, format }: Omit<DecodeOptions, 'signal'>): string[] {
  // Reconnect after a dropped connection, but give up within seconds: a song that cannot be had
  // fails and the next one plays (the player also fails a decoder that goes quiet).
  const network = !feed && isUrl(input) ? ['-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '2', '-rw_timeout', '10000000'] : [];
  // Fed bytes are a live stream: start on the first frames instead of analysing seconds of it.
  const fed = feed ? [...(format ? ['-f', format] : []), '-probesize', '65536', '-analyzeduration', '500000', '-i', FFMPEG_INPUT] : ['-i', input];
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    ...network,
    ...fed,
    '-vn',
    ...(gainDb ? ['-af', `volume=${gainDb.toFixed(2)}dB`] : []),
    '-f',
    's16le',
    '-acodec',
    'pcm_s16le',
    '-ac',
    String(CHANNELS),
    '-ar',
    String(SAMPLE_RATE),
    FFMPEG_OUTPUT,
  ];
}

/**
 * Yields raw PCM chunks. Ends when the input ends; throws DecodeError when ffmpeg fails or
 * produces no audio. Aborting the signal kills ffmpeg and ends the iteration quietly.
 */
export async function* decodePcm(input: string, options: DecodeOptions): AsyncGenerator<Buffer> {
  const { signal, ffmpegPath, onSpawn, feed } = options;
  if (signal.aborted) return;
  const run = ffmpegRunner().run(resolveFfmpeg(ffmpegPath).path, ffmpegArgs(input, options));
  void run.pid.then(onSpawn);
  // ffmpeg takes the fed bytes at the pace it decodes; when it exits, the feeding stops.
  if (feed) {
    void run.input.then((into) => (into ? pipeline(feed, into).catch(() => run.kill()) : undefined));
  }
  const onAbort = () => run.kill();
  signal.addEventListener('abort', onAbort, { once: true });
  let bytes = 0;
  try {
    for await (const chunk of run.output) {
      bytes += chunk.length;
      yield chunk;
    }
    const { code, stderr } = await run.exited;
    if (signal.aborted) return;
    if (code !== 0) throw new DecodeError(`ffmpeg failed on ${input} (exit ${code}): ${stderr.trim().split('\n').pop() ?? ''}`);
    if (bytes === 0) throw new DecodeError(`no audio decoded from ${input}`);
  } finally {
    signal.removeEventListener('abort', onAbort);
    run.kill();
  }
}
