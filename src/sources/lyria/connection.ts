/**
 * One Lyria RealTime session through the real @google/genai client, with what the SDK leaves out:
 * a connect that can fail (the SDK's never settles on a refused connection), a wait for
 * setupComplete, audio decoded to 48 kHz stereo whatever the chunk's mimeType says, and handlers
 * that cannot throw into the SDK.
 */
import { AudioFrame, AudioResampler } from '@livekit/rtc-node';
import { GoogleGenAI, type LiveMusicGenerationConfig, type LiveMusicServerMessage, type LiveMusicSession } from '@google/genai';
import { scrub } from '../../log.js';
import { toGenerationConfig, type LyriaSettings, type WeightedPrompt } from '../../protocol/lyriaSettings.js';
import { concatSamples } from '../../playout/samples.js';
import { CHANNELS, SAMPLE_RATE } from '../../playout/audioFormat.js';

export interface LyriaEndpoint {
  apiKey: string;
  model: string;
  /** The service's base URL; tests point it at a local fake. */
  baseUrl?: string | undefined;
  connectTimeoutMs: number;
}

export interface LyriaHandlers {
  /** 48 kHz interleaved stereo samples. */
  audio(samples: Int16Array): void;
  filtered(text: string, reason: string): void;
  warning(message: string): void;
  /** The session ended without close() being called. */
  closed(reason: string): void;
}

export class LyriaConnectError extends Error {
  override name = 'LyriaConnectError';
}

/** "audio/l16;rate=44100;channels=1" → { rate: 44100, channels: 1 }; Lyria's default is 48 kHz stereo. */
export function parseAudioMime(mime: string | undefined): { rate: number; channels: number } {
  const rate = Number(/rate=(\d+)/i.exec(mime ?? '')?.[1] ?? SAMPLE_RATE);
  const channels = Number(/channels=(\d+)/i.exec(mime ?? '')?.[1] ?? CHANNELS);
  return { rate, channels };
}

export class LyriaConnection {
  private closing = false;
  private resampler: AudioResampler | undefined;

  private constructor(
    private readonly session: LiveMusicSession,
    private readonly handlers: LyriaHandlers,
  ) {}

  static async open(endpoint: LyriaEndpoint, handlers: LyriaHandlers): Promise<LyriaConnection> {
    const ai = new GoogleGenAI({ apiKey: endpoint.apiKey, httpOptions: { apiVersion: 'v1alpha', ...(endpoint.baseUrl ? { baseUrl: endpoint.baseUrl } : {}) } });
    let connection: LyriaConnection | undefined;
    let settled = false;
    let fail: (err: Error) => void = () => undefined;
    let ready: () => void = () => undefined;
    const setup = new Promise<void>((resolve, reject) => {
      ready = () => {
        settled = true;
        resolve();
      };
      fail = (err) => {
        settled = true;
        reject(err);
      };
    });
    const safe = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        handlers.warning(`${what} failed: ${(err as Error).message}`);
      }
    };
    const pending = ai.live.music.connect({
      model: endpoint.model,
      callbacks: {
        onmessage: (message) =>
          safe('handling a Lyria message', () => {
            if (message.setupComplete) ready();
            connection?.onMessage(message);
          }),
        onerror: (event) => {
          const reason = scrub(`Lyria connection error: ${(event as { message?: string }).message ?? 'unknown'}`, [endpoint.apiKey]);
          if (settled) safe('closing', () => connection?.onClosed(reason));
          else fail(new LyriaConnectError(reason));
        },
        onclose: (event) => {
          const reason = scrub(`Lyria closed the session (code ${event.code}${event.reason ? `: ${event.reason}` : ''})`, [endpoint.apiKey]);
          if (settled) safe('closing', () => connection?.onClosed(reason));
          else fail(new LyriaConnectError(reason));
        },
      },
    });
    const timer = setTimeout(() => fail(new LyriaConnectError(`no Lyria session within ${endpoint.connectTimeoutMs} ms`)), endpoint.connectTimeoutMs);
    try {
      const session = await Promise.race([pending, setup.then(() => pending)]);
      connection = new LyriaConnection(session, handlers);
      await setup;
      return connection;
    } catch (err) {
      // A connect that settles after we gave up must not leak a session.
      void pending.then((s) => s.close()).catch(() => undefined);
      throw err instanceof LyriaConnectError ? err : new LyriaConnectError(scrub((err as Error).message, [endpoint.apiKey]));
    } finally {
      clearTimeout(timer);
    }
  }

  async configure(prompts: WeightedPrompt[], settings: LyriaSettings): Promise<void> {
    await this.setPrompts(prompts);
    await this.setSettings(settings);
  }

  async setPrompts(prompts: WeightedPrompt[]): Promise<void> {
    await this.session.setWeightedPrompts({ weightedPrompts: prompts.map((p) => ({ text: p.text, weight: p.weight })) });
  }

  /** The API replaces the whole config on every update: always send all of it. */
  async setSettings(settings: LyriaSettings): Promise<void> {
    await this.session.setMusicGenerationConfig({ musicGenerationConfig: toGenerationConfig(settings) as LiveMusicGenerationConfig });
  }

  play(): void {
    this.session.play();
  }

  pause(): void {
    this.session.pause();
  }

  resetContext(): void {
    this.session.resetContext();
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    try {
      this.session.stop();
      this.session.close();
    } catch {
      // already closed
    }
    this.resampler?.close();
  }

  private onClosed(reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.resampler?.close();
    this.handlers.closed(reason);
  }

  private onMessage(message: LiveMusicServerMessage): void {
    if (message.filteredPrompt) {
      this.handlers.filtered(message.filteredPrompt.text ?? '', message.filteredPrompt.filteredReason ?? 'filtered');
    }
    const warning = (message as { warning?: unknown }).warning;
    if (warning !== undefined) this.handlers.warning(typeof warning === 'string' ? warning : JSON.stringify(warning));
    for (const chunk of message.serverContent?.audioChunks ?? []) {
      if (chunk.data) this.handlers.audio(this.decode(chunk.data, chunk.mimeType));
    }
  }

  /** base64 s16le at any rate and channel count → 48 kHz stereo. */
  private decode(base64: string, mime: string | undefined): Int16Array {
    const { rate, channels } = parseAudioMime(mime);
    const bytes = Buffer.from(base64, 'base64');
    // One copy into an aligned buffer (Buffer.from may hand out an odd offset into its pool);
    // s16le matches the byte order of every platform Node and rtc-node run on.
    const samples = new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + (bytes.length & ~1)));
    const stereo = channels === CHANNELS ? samples : toStereo(samples, channels);
    if (rate === SAMPLE_RATE) return stereo;
    if (this.resampler?.inputRate !== rate) {
      this.resampler?.close();
      this.resampler = new AudioResampler(rate, SAMPLE_RATE, CHANNELS);
    }
    const frames = this.resampler.push(new AudioFrame(stereo, rate, CHANNELS, stereo.length / CHANNELS));
    return concatSamples(frames.map((f) => f.data));
  }
}

function toStereo(samples: Int16Array, channels: number): Int16Array {
  const frames = Math.floor(samples.length / channels);
  const out = new Int16Array(frames * 2);
  for (let i = 0; i < frames; i++) {
    const left = samples[i * channels] as number;
    out[i * 2] = left;
    out[i * 2 + 1] = channels > 1 ? (samples[i * channels + 1] as number) : left;
  }
  return out;
}
