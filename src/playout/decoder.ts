/** Decodes any input ffmpeg reads (file path or http(s) URL) to 48 kHz stereo s16le PCM, as it arrives. */
import { resolveFfmpeg } from '../ffmpeg.js';
import { isUrl } from '../music/song.js';
import { CHANNELS, SAMPLE_RATE } from './audioFormat.js';
import { FFMPEG_OUTPUT, ffmpegRunner } from './ffmpegRunner.js';

export interface DecodeOptions {
  signal: AbortSignal;
  ffmpegPath?: string | undefined;
  /** Gain applied while decoding (loudness normalisation). */
  gainDb?: number | undefined;
  /** Told the ffmpeg process's pid once it is spawned (logs, tests that check it exits). */
  onSpawn?: ((pid: number | undefined) => void) | undefined;
}

export class DecodeError extends Error {
  override name = 'DecodeError';
}

function ffmpegArgs(input: string, gainDb: number | undefined): string[] {
  // Reconnect after a dropped connection, but give up within seconds: a song that cannot be had
  // fails and the next one plays (the player also fails a decoder that goes quiet).
  const network = isUrl(input) ? ['-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '2', '-rw_timeout', '10000000'] : [];
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    ...network,
    '-i',
    input,
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
export async function* decodePcm(input: string, { signal, ffmpegPath, gainDb, onSpawn }: DecodeOptions): AsyncGenerator<Buffer> {
  if (signal.aborted) return;
  const run = ffmpegRunner().run(resolveFfmpeg(ffmpegPath).path, ffmpegArgs(input, gainDb));
  void run.pid.then(onSpawn);
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
