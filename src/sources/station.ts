/**
 * A live station of the catalog (`"live": true`): an Icecast/Shoutcast stream or an HLS live
 * playlist, decoded for as long as it plays. Unlike a song it never ends, has no length, carries
 * its title inside the stream (ICY `StreamTitle`, Ogg comments), and drops now and then: a
 * dropped or stalled connection is made again at once, then with backoff, and only a station down
 * for longer than `giveUpMs` fails (the player then plays the next entry).
 *
 * ICY streams are read here (icecast-metadata-js takes the metadata out of the bytes) and the
 * audio bytes are fed to ffmpeg; HLS playlists are read by ffmpeg itself. Only the catalog's URL is
 * ever fetched (and the redirects its server answers with): nothing a command says becomes a URL.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { AudioFrame } from '@livekit/rtc-node';
import { IcecastMetadataReader } from 'icecast-metadata-js';
import type { Logger } from '../log.js';
import type { Song } from '../music/song.js';
import { DecodeError, decodePcm } from '../playout/decoder.js';
import { toFrames } from '../playout/framer.js';
import { LiveLoudness } from '../playout/liveLoudness.js';
import { roomcastVersion } from '../version.js';

export interface StationOptions {
  /** The station's end: stops it for good. */
  signal: AbortSignal;
  ffmpegPath?: string | undefined;
  log: Logger;
  /** A connection whose first audio takes longer than this is made again. */
  startTimeoutMs: number;
  /** A connection that delivers no audio for this long is made again. */
  stallTimeoutMs: number;
  /** A station without audio for this long (every attempt failing) fails. */
  giveUpMs: number;
  /** Loudness normalisation on the fly, towards this loudness (LUFS); off when absent. */
  targetLufs?: number | undefined;
  /** The station's title changed (ICY StreamTitle, Ogg TITLE/ARTIST). */
  onTitle(title: string): void;
  /** The station dropped and is being reached again (the room hears silence meanwhile). */
  onDrop?(reason: string): void;
}

export interface Station {
  frames: AsyncGenerator<AudioFrame>;
  /** Closes the connection now; the next frame asked for comes from a new one (live again). */
  reconnect(): void;
}

/**
 * Waits before the attempts after a drop: at once, then every 250 ms for the first second (a
 * short outage costs little more than itself), then backing off to 4 s.
 */
const RETRY_DELAYS_MS = [0, 250, 250, 250, 500, 1_000, 2_000, 4_000];

const HLS_TYPES = /mpegurl/i;
/** What Node's HTTP parser says of a status line `ICY 200 OK`. */
const SHOUTCAST_V1 = /Expected HTTP\//;
const FORMATS: Array<[RegExp, string]> = [
  [/audio\/(mpeg|mp3)/i, 'mp3'],
  [/audio\/(aac|aacp|x-aac)/i, 'aac'],
  [/(audio|application)\/ogg/i, 'ogg'],
  [/audio\/(x-)?flac/i, 'flac'],
];

/** Whether a URL names an HLS playlist (read by ffmpeg rather than here). */
export const isHlsUrl = (url: string): boolean => /\.m3u8$/i.test(new URL(url).pathname);

export function openStation(song: Song, options: StationOptions): Station {
  let connection: AbortController | undefined;
  /** Set when the connection was closed on purpose: made again at once, not counted as a drop. */
  let renew = false;
  const frames = (async function* (): AsyncGenerator<AudioFrame> {
    const { signal } = options;
    // One measure for the station's life: a reconnect does not start it over.
    const loudness = options.targetLufs !== undefined ? new LiveLoudness(options.targetLufs) : undefined;
    let failures = 0;
    let downSince: number | undefined;
    try {
      while (!signal.aborted) {
        const current = new AbortController();
        connection = current;
        const end = () => current.abort();
        signal.addEventListener('abort', end, { once: true });
        renew = false;
        let reason = 'the station closed the stream';
        let delivered = false;
        try {
          for await (const frame of withinTime(toFrames(connect(song, current.signal, options)), options, current)) {
            if (current.signal.aborted) break;
            delivered = true;
            failures = 0;
            yield loudness ? loudness.apply(frame) : frame;
            if (current.signal.aborted) break; // frames decoded before a reconnect are stale
          }
        } catch (err) {
          reason = (err as Error).message;
        } finally {
          signal.removeEventListener('abort', end);
          current.abort();
        }
        if (signal.aborted) return;
        if (renew) continue;
        // The outage started when the last connection that gave audio dropped.
        downSince = delivered ? Date.now() : (downSince ?? Date.now());
        if (Date.now() - downSince >= options.giveUpMs) throw new DecodeError(`station ${song.url} unreachable for ${Math.round(options.giveUpMs / 1000)} s: ${reason}`);
        options.onDrop?.(reason);
        options.log.info({ station: song.id, reason, attempt: failures + 1 }, 'station dropped: reaching it again');
        await sleep(RETRY_DELAYS_MS[Math.min(failures, RETRY_DELAYS_MS.length - 1)] as number, signal);
        failures++;
      }
    } finally {
      connection?.abort();
    }
  })();
  return {
    frames,
    reconnect() {
      renew = true;
      connection?.abort();
    },
  };
}

/** PCM of one connection to the station. */
async function* connect(song: Song, signal: AbortSignal, options: StationOptions): AsyncGenerator<Buffer> {
  const decode = { signal, ffmpegPath: options.ffmpegPath };
  if (isHlsUrl(song.url)) return yield* decodePcm(song.url, decode);
  let res: Response;
  try {
    res = await fetch(song.url, { signal, headers: { 'Icy-MetaData': '1', 'User-Agent': `Roomcast/${roomcastVersion()}` } });
  } catch (err) {
    // A Shoutcast v1 server answers `ICY 200 OK`, which Node's HTTP parser refuses; ffmpeg takes
    // it (the audio plays; its titles cannot be had from ffmpeg).
    if (!SHOUTCAST_V1.test(String((err as Error & { cause?: Error }).cause?.message))) throw err;
    options.log.info({ station: song.id }, 'Shoutcast v1 station (ICY 200 OK): played through ffmpeg, without its titles');
    return yield* decodePcm(song.url, decode);
  }
  if (!res.ok || !res.body) throw new DecodeError(`${song.url} answered ${res.status} ${res.statusText}`);
  const type = res.headers.get('content-type') ?? '';
  if (HLS_TYPES.test(type)) {
    // An HLS playlist behind a URL that does not say so: ffmpeg reads it.
    await res.body.cancel();
    return yield* decodePcm(song.url, decode);
  }
  const format = FORMATS.find(([pattern]) => pattern.test(type))?.[1];
  yield* decodePcm(song.url, { ...decode, format, feed: audioOf(res, format, options.onTitle) });
}

/** The audio bytes of an Icecast/Shoutcast response, its metadata taken out and reported. */
async function* audioOf(res: Response, format: string | undefined, onTitle: (title: string) => void): AsyncGenerator<Uint8Array> {
  const metaInt = Number(res.headers.get('icy-metaint')) || undefined;
  const metadataTypes = [...(metaInt ? ['icy'] : []), ...(format === 'ogg' ? ['ogg'] : [])];
  const body = Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>) as AsyncIterable<Uint8Array>;
  if (metadataTypes.length === 0) return yield* body;
  let last: string | undefined;
  const reader = new IcecastMetadataReader({ icyMetaInt: metaInt, metadataTypes });
  for await (const chunk of body) {
    for (const part of reader.iterator(chunk)) {
      if (part.stream) yield part.stream;
      const title = part.metadata ? titleOf(part.metadata) : undefined;
      if (title !== undefined && title !== last) {
        last = title;
        onTitle(title);
      }
    }
  }
}

function titleOf(metadata: Record<string, string>): string | undefined {
  if (metadata.StreamTitle !== undefined) return metadata.StreamTitle.trim();
  if (metadata.TITLE !== undefined) return [metadata.ARTIST, metadata.TITLE].filter(Boolean).join(' - ');
  return undefined;
}

/** Ends the connection (so that it is made again) when it gives no audio in time. */
async function* withinTime(frames: AsyncGenerator<AudioFrame>, { startTimeoutMs, stallTimeoutMs }: StationOptions, connection: AbortController): AsyncGenerator<AudioFrame> {
  let first = true;
  try {
    for (;;) {
      const ms = first ? startTimeoutMs : stallTimeoutMs;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          connection.abort();
          reject(new DecodeError(first ? `no audio within ${ms} ms` : `no audio for ${ms} ms`));
        }, ms);
      });
      try {
        const next = await Promise.race([frames.next(), late]);
        if (next.done) return;
        first = false;
        yield next.value;
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    await frames.return(undefined);
  }
}

/** Resolves after `ms`, or at once when `signal` fires. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
