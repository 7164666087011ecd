/**
 * The room's `music` track as the end of the sink chain. It is published when the first frame
 * comes and unpublished once no frame has come for `idleMs`: rtc-node feeds a published track 10 ms
 * of silence every 10 ms when nothing is queued (rust-sdks #433), and WebRTC encodes and sends it,
 * so a paused or stopped room cost as much CPU as a playing one (~44 ms/s). Listeners' SDKs
 * subscribe to the new track by themselves when the music comes back.
 */
import { AudioSource, LocalAudioTrack, TrackPublishOptions, TrackSource, type AudioFrame, type LocalParticipant } from '@livekit/rtc-node';
import type { Logger } from '../log.js';
import { CHANNELS, SAMPLE_RATE, type NativeAudioSink } from '../playout/audioFormat.js';

export const MUSIC_TRACK_NAME = 'music';

export interface MusicTrackOptions {
  bitrate: number;
  queueMs: number;
  /** Unpublish after this long without a frame; 0 keeps the track published. */
  idleMs: number;
}

export class MusicTrack implements NativeAudioSink {
  private source: AudioSource | undefined;
  private trackSid: string | undefined;
  /** Publishing and unpublishing happen one at a time, in order. */
  private transition: Promise<void> = Promise.resolve();
  private lastFrameAt = 0;
  private idleCheck: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly participant: LocalParticipant,
    private readonly options: MusicTrackOptions,
    private readonly log: Logger,
  ) {}

  get published(): boolean {
    return this.trackSid !== undefined;
  }

  get queuedDuration(): number {
    return this.source?.queuedDuration ?? 0;
  }

  async captureFrame(frame: AudioFrame): Promise<void> {
    this.lastFrameAt = performance.now();
    if (!this.source) await this.publish();
    // Closed meanwhile: the frame goes nowhere.
    await this.source?.captureFrame(frame);
  }

  /** Publishes now (the room's first start would otherwise wait for it). */
  publish(): Promise<void> {
    this.transition = this.transition.then(async () => {
      if (this.source || this.closed) return;
      const source = new AudioSource(SAMPLE_RATE, CHANNELS, this.options.queueMs);
      const track = LocalAudioTrack.createAudioTrack(MUSIC_TRACK_NAME, source);
      const options = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE, dtx: false, red: false, audioEncoding: { maxBitrate: BigInt(this.options.bitrate) } });
      const startedAt = performance.now();
      const publication = await this.participant.publishTrack(track, options);
      this.source = source;
      this.trackSid = publication.sid;
      this.lastFrameAt = performance.now();
      this.watchIdle();
      this.log.info({ bitrate: this.options.bitrate, ms: Math.round(performance.now() - startedAt) }, 'music track published');
    });
    return this.transition;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.idleCheck);
    await this.unpublish('closing');
  }

  private watchIdle(): void {
    const { idleMs } = this.options;
    if (idleMs <= 0) return;
    clearInterval(this.idleCheck);
    this.idleCheck = setInterval(() => {
      if (performance.now() - this.lastFrameAt >= idleMs) void this.unpublish('idle');
    }, Math.min(1_000, idleMs / 2));
    this.idleCheck.unref();
  }

  /** The track is gone at once (a frame from now on publishes anew); its teardown is queued. */
  private unpublish(why: string): Promise<void> {
    clearInterval(this.idleCheck);
    const { source, trackSid } = this;
    this.source = undefined;
    this.trackSid = undefined;
    this.transition = this.transition.then(async () => {
      if (!source || !trackSid) return;
      try {
        if (this.participant.trackPublications.has(trackSid)) await this.participant.unpublishTrack(trackSid, true);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'could not unpublish the music track');
      }
      await source.close().catch(() => undefined);
      if (why === 'idle') this.log.info({ idleMs: this.options.idleMs }, 'music track unpublished while idle');
    });
    return this.transition;
  }
}
