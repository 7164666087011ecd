/**
 * Music generated live by Lyria RealTime. Audio goes through a jitter buffer into the room's
 * sink, paced by the sink. The source keeps the full prompts and settings, so it can resend them
 * on every change (the API replaces the whole config) and restore them after a reconnection:
 * the SDK never reconnects, and a session that drops or goes silent is reopened with backoff.
 */
import { EventEmitter } from 'node:events';
import { AudioFrame } from '@livekit/rtc-node';
import type { Logger } from '../../log.js';
import { RESET_SETTINGS, type LyriaSettings, type WeightedPrompt } from '../../protocol/lyriaSettings.js';
import type { SourceNotice } from '../../protocol/messages.js';
import { CHANNELS, SAMPLE_RATE, SAMPLES_PER_FRAME, type FrameSink } from '../../playout/audioFormat.js';
import { JitterBuffer } from '../../playout/jitterBuffer.js';
import { gate, SourceError, type MusicSource, type SourceEvents, type SourceStatus } from '../source.js';
import { LyriaConnection, type LyriaEndpoint } from './connection.js';
import { promptSteps } from './prompts.js';

export interface LyriaOptions extends LyriaEndpoint {
  prebufferMs: number;
  maxBufferMs: number;
  silenceTimeoutMs: number;
  promptFadeMs: number;
  log: Logger;
}

export interface LyriaStatus extends SourceStatus {
  prompts: WeightedPrompt[];
  settings: LyriaSettings;
  connection: 'connected' | 'reconnecting';
  underruns: number;
  reconnects: number;
  buffered_ms: number;
  /** The last time the session was lost: why, and how long until it was back. */
  last_drop?: { reason: string; at: number; recovered_after_ms?: number };
}

const FIRST_AUDIO_TIMEOUT_MS = 20_000;
const WATCHDOG_MS = 500;

export class LyriaSource extends EventEmitter<SourceEvents> implements MusicSource {
  readonly kind = 'lyria' as const;
  private connection: LyriaConnection | undefined;
  private state: 'playing' | 'paused' | 'stopped' = 'stopped';
  private paused: ReturnType<typeof gate> | undefined;
  private readonly buffer: JitterBuffer;
  private prompts: WeightedPrompt[] = [];
  private settings: LyriaSettings = {};
  private lastAudioAt = 0;
  private reconnecting = false;
  private reconnects = 0;
  private lastDrop: LyriaStatus['last_drop'];
  private fade: AbortController | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private pumpDone: Promise<void> = Promise.resolve();
  private firstAudio = gate();

  constructor(
    private readonly sink: FrameSink,
    private readonly options: LyriaOptions,
  ) {
    super();
    const framesPerMs = SAMPLE_RATE / 1000;
    this.buffer = new JitterBuffer(CHANNELS, options.prebufferMs * framesPerMs, options.maxBufferMs * framesPerMs);
  }

  status(): LyriaStatus {
    return {
      source: this.kind,
      state: this.state,
      prompts: this.prompts,
      settings: this.settings,
      connection: this.reconnecting ? 'reconnecting' : 'connected',
      underruns: this.buffer.underruns,
      reconnects: this.reconnects,
      buffered_ms: Math.round((this.buffer.frames / SAMPLE_RATE) * 1000),
      ...(this.lastDrop ? { last_drop: this.lastDrop } : {}),
    };
  }

  /** Opens the session and starts generation; audio is buffered until start() plays it. */
  async open(prompts: WeightedPrompt[], settings: LyriaSettings): Promise<void> {
    this.prompts = prompts;
    this.settings = settings;
    await this.connect();
  }

  /** Plays into the sink; resolves once the first generated audio is playing. */
  async start(): Promise<void> {
    this.state = 'playing';
    this.lastAudioAt = Date.now();
    this.pumpDone = this.pump();
    this.watchdog = setInterval(() => this.checkSilence(), WATCHDOG_MS);
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new SourceError(`no audio from Lyria within ${FIRST_AUDIO_TIMEOUT_MS} ms`)), FIRST_AUDIO_TIMEOUT_MS).unref());
    await Promise.race([this.firstAudio.promise, timeout]);
    this.emit('state', this.status());
  }

  /** Moves smoothly to new prompts: weights are interpolated over `promptFadeMs`. */
  async setPrompts(prompts: WeightedPrompt[]): Promise<void> {
    this.requireOpen();
    const from = this.prompts;
    this.prompts = prompts;
    this.fade?.abort();
    const fade = new AbortController();
    this.fade = fade;
    const steps = promptSteps(from, prompts, this.options.promptFadeMs);
    for (const step of steps) {
      if (fade.signal.aborted) return;
      if (step.delayMs > 0) await new Promise((r) => setTimeout(r, step.delayMs));
      if (fade.signal.aborted || !this.connection) return;
      await this.connection.setPrompts(step.prompts);
    }
    this.emit('state', this.status());
  }

  /** Merges and resends the whole config; a bpm or scale change also resets the context. */
  async setSettings(changes: LyriaSettings): Promise<{ contextReset: boolean }> {
    this.requireOpen();
    const next = { ...this.settings, ...changes };
    const contextReset = RESET_SETTINGS.some((k) => changes[k] !== undefined && changes[k] !== this.settings[k]);
    this.settings = next;
    await this.connection?.setSettings(next);
    if (contextReset) this.resetContext();
    this.emit('state', this.status());
    return { contextReset };
  }

  async skip(): Promise<{ message: string }> {
    this.requireOpen();
    this.resetContext();
    return { message: 'Lyria context reset: a new musical idea starts' };
  }

  async pause(): Promise<void> {
    this.requireOpen();
    if (this.paused) return;
    this.paused = gate();
    this.state = 'paused';
    this.connection?.pause();
    await this.sink.fadeOut({ resumes: true });
    this.emit('state', this.status());
  }

  async resume(): Promise<void> {
    this.requireOpen();
    const paused = this.paused;
    if (!paused) return;
    this.paused = undefined;
    this.state = 'playing';
    this.lastAudioAt = Date.now();
    this.connection?.play();
    paused.open();
    this.emit('state', this.status());
  }

  async stop(): Promise<boolean> {
    if (this.state === 'stopped' && !this.connection) return false;
    this.state = 'stopped';
    this.fade?.abort();
    clearInterval(this.watchdog);
    this.connection?.close();
    this.connection = undefined;
    this.paused?.open();
    await this.sink.fadeOut();
    await this.pumpDone;
    this.buffer.clear();
    this.emit('state', this.status());
    return true;
  }

  private get stopped(): boolean {
    return this.state === 'stopped';
  }

  private requireOpen(): void {
    if (this.state === 'stopped') throw new SourceError('Lyria is not playing');
  }

  private resetContext(): void {
    this.connection?.resetContext();
    // What is buffered belongs to the old context: drop it so the change is heard now.
    this.buffer.clear();
    void this.sink.fadeOut();
  }

  private async connect(): Promise<void> {
    const connection = await LyriaConnection.open(this.options, {
      audio: (samples) => {
        this.lastAudioAt = Date.now();
        this.buffer.push(samples);
      },
      filtered: (text, reason) => this.notice({ type: 'prompt_filtered', text, reason }),
      warning: (message) => this.notice({ type: 'source_warning', message }),
      closed: (reason) => void this.reconnect(reason),
    });
    try {
      await connection.configure(this.prompts, this.settings);
      if (!this.paused) connection.play();
    } catch (err) {
      connection.close();
      throw err;
    }
    this.connection = connection;
  }

  private notice(notice: SourceNotice): void {
    this.options.log.warn({ notice }, 'Lyria notice');
    this.emit('notice', notice);
  }

  private checkSilence(): void {
    if (this.state !== 'playing' || this.reconnecting) return;
    const silentMs = Date.now() - this.lastAudioAt;
    if (silentMs > this.options.silenceTimeoutMs) void this.reconnect(`no audio from Lyria for ${silentMs} ms`);
  }

  /** Reopens the session with backoff, restoring prompts, settings and playback. */
  private async reconnect(reason: string): Promise<void> {
    if (this.reconnecting || this.stopped) return;
    this.reconnecting = true;
    const since = Date.now();
    this.lastDrop = { reason, at: since };
    this.options.log.warn({ reason }, 'Lyria session lost; reconnecting');
    this.emit('sourceState', { type: 'source_state', source: this.kind, state: 'reconnecting', error: reason });
    this.emit('state', this.status());
    this.connection?.close();
    this.connection = undefined;
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.connect();
        this.reconnects++;
        this.lastAudioAt = Date.now();
        this.lastDrop = { reason, at: since, recovered_after_ms: Date.now() - since };
        this.options.log.info({ attempt, downMs: Date.now() - since }, 'Lyria session restored');
        this.emit('sourceState', { type: 'source_state', source: this.kind, state: 'connected', recovered_after_ms: Date.now() - since });
        break;
      } catch (err) {
        const delay = Math.min(10_000, 250 * 2 ** attempt) * (0.75 + Math.random() / 2);
        this.options.log.warn({ attempt, err: (err as Error).message, retryInMs: Math.round(delay) }, 'Lyria reconnect failed');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    this.reconnecting = false;
    this.emit('state', this.status());
  }

  /** Writes one frame per 20 ms into the sink: buffered audio, or silence while (re)buffering. */
  private async pump(): Promise<void> {
    while (this.state !== 'stopped') {
      if (this.paused) {
        await this.paused.promise;
        continue;
      }
      const data = new Int16Array(SAMPLES_PER_FRAME * CHANNELS);
      const underruns = this.buffer.underruns;
      const audible = this.buffer.read(data);
      if (this.buffer.underruns > underruns) this.emit('underrun');
      await this.sink.captureFrame(new AudioFrame(data, SAMPLE_RATE, CHANNELS, SAMPLES_PER_FRAME));
      if (audible) this.firstAudio.open();
    }
  }
}
