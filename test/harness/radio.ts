/**
 * Live radio for the tests, as stations serve it: an Icecast-style ICY server (mp3 frames in real
 * time with `icy-metaint` metadata blocks, a `StreamTitle` that changes every few seconds, a burst
 * on connect, and a drop on demand), and an HLS live playlist that ffmpeg produces with rolling
 * segments, served over HTTP.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createReadStream, existsSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { resolveFfmpeg } from '../../src/ffmpeg.js';

const BITRATE = 128_000;
const BYTES_PER_SECOND = BITRATE / 8;
const TICK_MS = 50;

export interface IcyOptions {
  frequency: number;
  /** Where the mp3 is made. */
  dir: string;
  titles: string[];
  titleEveryMs?: number;
  metaInt?: number;
  /** Audio sent at once to a new listener (Icecast's burst-on-connect), in seconds. */
  burstSeconds?: number;
  /** Level change of the tone (dB). */
  gainDb?: number;
  /** Answer as a Shoutcast v1 server: `ICY 200 OK` instead of an HTTP status line. */
  shoutcastV1?: boolean;
}

export class IcyServer {
  /** When each title last went on the air: first sent in the stream since it became current (Date.now()). */
  readonly titleSentAt = new Map<string, number>();
  /** Date.now() of each accepted connection. */
  readonly connections: number[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private downUntil = 0;
  private readonly startedAt = Date.now();

  private constructor(
    private readonly server: Server,
    private readonly audio: Buffer,
    private readonly options: Required<Omit<IcyOptions, 'gainDb' | 'shoutcastV1'>> & Pick<IcyOptions, 'shoutcastV1'>,
    readonly url: string,
  ) {}

  static async start(options: IcyOptions): Promise<IcyServer> {
    mkdirSync(options.dir, { recursive: true });
    const file = join(options.dir, `icy-${options.frequency}.mp3`);
    const gain = options.gainDb ? [`-af`, `volume=${options.gainDb}dB`] : [];
    // 10 s of CBR mp3 without a Xing header or tags, so that it loops as one endless stream.
    execFileSync(resolveFfmpeg().path, [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `sine=frequency=${options.frequency}:sample_rate=44100:duration=10`,
      ...gain,
      '-ac',
      '2',
      '-c:a',
      'libmp3lame',
      '-b:a',
      '128k',
      '-write_xing',
      '0',
      '-id3v2_version',
      '0',
      '-f',
      'mp3',
      file,
    ]);
    const full = { titleEveryMs: 3_000, metaInt: 8_000, burstSeconds: 1, ...options };
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no address');
    const icy = new IcyServer(server, readFileSync(file), full, `http://127.0.0.1:${address.port}/stream`);
    server.on('connection', (socket) => {
      if (Date.now() < icy.downUntil) return socket.destroy();
      icy.sockets.add(socket);
      socket.on('close', () => icy.sockets.delete(socket));
    });
    server.on('request', (req, res) => icy.serve(req.headers['icy-metadata'] === '1', res));
    return icy;
  }

  /** The title on the air now. */
  currentTitle(): string {
    const { titles, titleEveryMs } = this.options;
    return titles[Math.floor((Date.now() - this.startedAt) / titleEveryMs) % titles.length] as string;
  }

  /** Drops every connection, and refuses new ones for `outageMs`. */
  drop(outageMs: number): void {
    this.downUntil = Date.now() + outageMs;
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private serve(metadata: boolean, res: ServerResponse): void {
    const { metaInt, burstSeconds } = this.options;
    this.connections.push(Date.now());
    const headers = { 'Content-Type': 'audio/mpeg', 'icy-name': 'Roomcast test radio', ...(metadata ? { 'icy-metaint': String(metaInt) } : {}) };
    // Shoutcast v1's answer is not HTTP: its own status line, straight onto the socket.
    const out = this.options.shoutcastV1 ? res.socket : res;
    if (this.options.shoutcastV1)
      res.socket?.write(
        `ICY 200 OK\r\n${Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('')}\r\n`,
      );
    else res.writeHead(200, headers);
    let offset = 0;
    let untilMeta = metaInt;
    let sentTitle: string | undefined;
    const send = (bytes: number) => {
      while (bytes > 0) {
        const n = Math.min(bytes, this.audio.length - offset, metadata ? untilMeta : Infinity);
        out?.write(this.audio.subarray(offset, offset + n));
        offset = (offset + n) % this.audio.length;
        bytes -= n;
        untilMeta -= n;
        if (metadata && untilMeta === 0) {
          untilMeta = metaInt;
          const title = this.currentTitle();
          if (title === sentTitle) out?.write(Buffer.from([0]));
          else {
            sentTitle = title;
            // The first connection to carry it since it became current marks the change.
            const previous = this.titleSentAt.get(title);
            if (previous === undefined || Date.now() - previous > this.options.titleEveryMs) this.titleSentAt.set(title, Date.now());
            out?.write(metadataBlock(`StreamTitle='${title}';`));
          }
        }
      }
    };
    send(Math.round(BYTES_PER_SECOND * burstSeconds));
    let due = Date.now();
    const timer = setInterval(() => {
      // In real time, whatever the timer's jitter.
      const now = Date.now();
      send(Math.round(((now - due) / 1000) * BYTES_PER_SECOND));
      due = now;
    }, TICK_MS);
    this.timers.add(timer);
    res.on('close', () => {
      clearInterval(timer);
      this.timers.delete(timer);
    });
  }
}

/** One ICY metadata block: a length byte (×16), then the text padded with NULs. */
function metadataBlock(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const blocks = Math.ceil(body.length / 16);
  const out = Buffer.alloc(1 + blocks * 16);
  out[0] = blocks;
  body.copy(out, 1);
  return out;
}

/** An HLS live playlist: ffmpeg encodes a tone in real time into 1-s AAC segments, 5 kept. */
export class HlsStation {
  private constructor(
    private readonly ffmpeg: ChildProcess,
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(dir: string, frequency: number): Promise<HlsStation> {
    mkdirSync(dir, { recursive: true });
    const ffmpeg = spawn(
      resolveFfmpeg().path,
      [
        ...['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `sine=frequency=${frequency}:sample_rate=48000`, '-ac', '2', '-c:a', 'aac', '-b:a', '96k'],
        ...['-f', 'hls', '-hls_time', '1', '-hls_list_size', '5', '-hls_flags', 'delete_segments+omit_endlist', join(dir, 'live.m3u8')],
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const server = createServer((req, res) => {
      const name = (req.url ?? '/').split('?')[0]?.slice(1) ?? '';
      const file = join(dir, name);
      if (!/^[\w.-]+$/.test(name) || !existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Type': name.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t', 'Cache-Control': 'no-cache' });
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no address');
    const station = new HlsStation(ffmpeg, server, `http://127.0.0.1:${address.port}/live.m3u8`);
    // Live once the playlist lists a few segments.
    const deadline = Date.now() + 15_000;
    while (!(existsSync(join(dir, 'live.m3u8')) && (readFileSync(join(dir, 'live.m3u8'), 'utf8').match(/#EXTINF/g) ?? []).length >= 3)) {
      if (Date.now() > deadline) throw new Error('ffmpeg made no HLS playlist');
      await new Promise((r) => setTimeout(r, 200));
    }
    return station;
  }

  async close(): Promise<void> {
    this.ffmpeg.kill('SIGKILL');
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
