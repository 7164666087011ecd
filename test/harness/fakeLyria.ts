/**
 * A local stand-in for Lyria RealTime that speaks its WebSocket protocol, for the real
 * @google/genai client (httpOptions.baseUrl). It generates a sine whose frequency is 4 × the bpm
 * in effect (120 bpm → 480 Hz), and like the real service a new bpm only takes effect after
 * RESET_CONTEXT. Audio comes in 2 s chunks, the first two at once (generation runs ahead of real
 * time), then one per 2 s plus scripted jitter. Tests can drop sessions, silence them, hang the
 * handshake, change the audio format, and inject filtered prompts, warnings and malformed frames.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

export const MUSIC_PATH = '/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateMusic';
const DEFAULT_BPM = 110;

export interface ClientMessage {
  at: number;
  session: number;
  body: Record<string, unknown>;
}

interface Session {
  id: number;
  ws: WebSocket;
  config: Record<string, unknown>;
  prompts: Array<{ text: string; weight: number }>;
  bpm: number | undefined;
  playing: boolean;
  silent: boolean;
  phase: number;
  timer?: NodeJS.Timeout;
}

export class FakeLyria {
  readonly messages: ClientMessage[] = [];
  connections = 0;
  jitterMs = 0;
  format = { rate: 48_000, channels: 2 };
  /** While true, handshakes are left unanswered, as a black-holed connection would be. */
  hangHandshakes = false;
  private readonly hung: Array<(ok: boolean) => void> = [];
  blockedWords = ['forbidden'];
  private readonly sessions = new Set<Session>();
  private nextId = 1;

  private readonly server: WebSocketServer;

  private constructor(
    readonly apiKey: string,
    readonly chunkSeconds: number,
    host: string,
  ) {
    this.server = new WebSocketServer({
      host,
      port: 0,
      verifyClient: (_info, done) => {
        if (this.hangHandshakes) this.hung.push(done);
        else done(true);
      },
    });
    this.server.on('connection', (ws, req) => this.accept(ws, req));
  }

  static async start(apiKey: string, { host = '127.0.0.1', chunkSeconds = 2 } = {}): Promise<FakeLyria> {
    const fake = new FakeLyria(apiKey, chunkSeconds, host);
    await new Promise<void>((resolve) => fake.server.once('listening', resolve));
    return fake;
  }

  get baseUrl(): string {
    const { address, port } = this.server.address() as { address: string; port: number };
    return `http://${address}:${port}`;
  }

  /** Client messages of one kind (setup, clientContent, musicGenerationConfig, playbackControl). */
  sent(kind: string, since = 0): ClientMessage[] {
    return this.messages.filter((m) => m.at >= since && kind in m.body);
  }

  /** Kills every open session abruptly (the client sees code 1006). */
  dropAll(): void {
    for (const s of this.sessions) s.ws.terminate();
  }

  /** Open sessions stop sending audio but stay connected. */
  silenceAll(): void {
    for (const s of this.sessions) s.silent = true;
  }

  broadcast(raw: string): void {
    for (const s of this.sessions) s.ws.send(raw);
  }

  async close(): Promise<void> {
    for (const done of this.hung.splice(0)) done(false);
    for (const s of this.sessions) s.ws.terminate();
    await new Promise((r) => this.server.close(r));
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    // The SDK joins its base URL and path with a double slash ("//ws/..."): read it as a path.
    const url = new URL((req.url ?? '/').replace(/^\/+/, '/'), 'http://fake');
    if (url.pathname !== MUSIC_PATH || url.searchParams.get('key') !== this.apiKey) {
      ws.close(1008, 'API key not valid or unknown method');
      return;
    }
    this.connections++;
    const session: Session = { id: this.nextId++, ws, config: {}, prompts: [], bpm: undefined, playing: false, silent: false, phase: 0 };
    this.sessions.add(session);
    ws.on('message', (data) => this.onMessage(session, JSON.parse(data.toString()) as Record<string, unknown>));
    ws.on('close', () => {
      clearTimeout(session.timer);
      this.sessions.delete(session);
    });
  }

  private onMessage(s: Session, body: Record<string, unknown>): void {
    this.messages.push({ at: Date.now(), session: s.id, body });
    if (body.setup) s.ws.send(JSON.stringify({ setupComplete: {} }));
    if (body.musicGenerationConfig) s.config = body.musicGenerationConfig as Record<string, unknown>;
    const content = body.clientContent as { weightedPrompts?: Session['prompts'] } | undefined;
    if (content?.weightedPrompts) {
      s.prompts = content.weightedPrompts;
      for (const p of s.prompts) {
        if (this.blockedWords.some((w) => p.text.includes(w))) s.ws.send(JSON.stringify({ filteredPrompt: { text: p.text, filteredReason: 'The prompt was filtered by the safety system.' } }));
      }
    }
    switch (body.playbackControl) {
      case 'PLAY':
        if (!s.playing) {
          s.playing = true;
          s.bpm ??= this.configuredBpm(s);
          this.generate(s, 2);
        }
        break;
      case 'PAUSE':
      case 'STOP':
        s.playing = false;
        clearTimeout(s.timer);
        break;
      case 'RESET_CONTEXT':
        s.bpm = this.configuredBpm(s);
        if (s.playing) {
          clearTimeout(s.timer);
          this.generate(s, 2);
        }
        break;
    }
  }

  private configuredBpm(s: Session): number {
    return (s.config.bpm as number | undefined) ?? DEFAULT_BPM;
  }

  /** Sends `burst` chunks now, then one chunk per chunk length plus jitter, on a fixed schedule. */
  private generate(s: Session, burst: number): void {
    const start = Date.now();
    let index = 0;
    const next = () => {
      if (!s.playing) return;
      if (!s.silent) s.ws.send(this.chunk(s));
      index++;
      const due = start + Math.max(0, index - burst + 1) * this.chunkSeconds * 1000 + Math.random() * this.jitterMs;
      s.timer = setTimeout(next, Math.max(0, due - Date.now()));
    };
    next();
  }

  private chunk(s: Session): string {
    const { rate, channels } = this.format;
    const frames = rate * this.chunkSeconds;
    const pcm = Buffer.alloc(frames * channels * 2);
    const step = (2 * Math.PI * 4 * (s.bpm ?? DEFAULT_BPM)) / rate;
    for (let i = 0; i < frames; i++) {
      const v = Math.round(Math.sin(s.phase) * 0.3 * 32767);
      s.phase += step;
      for (let c = 0; c < channels; c++) pcm.writeInt16LE(v, (i * channels + c) * 2);
    }
    s.phase %= 2 * Math.PI;
    return JSON.stringify({ serverContent: { audioChunks: [{ data: pcm.toString('base64'), mimeType: `audio/l16;rate=${rate};channels=${channels}` }] } });
  }
}
