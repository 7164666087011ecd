/**
 * The room's `music` track as the end of the sink chain. It is published when the first frame
 * comes and unpublished once no frame has come for `idleMs`: rtc-node feeds a published track 10 ms
 * of silence every 10 ms when nothing is queued (rust-sdks #433), and WebRTC encodes and sends it,
 * so a paused or stopped room cost as much CPU as a playing one (~44 ms/s). Listeners' SDKs
 * subscribe to the new track by themselves when the music comes back.
 */
import { AudioSource, LocalAudioTrack, TrackPublishOptions, TrackSource, type AudioFrame, type LocalParticipant } from '@livekit/rtc-node';
import type { Logger } from '../src/log.js';
import { CHANNELS, SAMPLE_RATE, type NativeAudioSink } from '../src/playout/audioFormat.js';

export const MUSIC_TRACK_NAME = 'music';
const FIRST_FRAME_GRACE_MS = 30_000;

export interface MusicTrackOptions {
  bitrate: number;
  queueMs: number;
  /** Unpublish after this long without a frame; 0 keeps the track published. */
  idleMs: number;
}

export class MusicTrack implements NativeAudioSink {
  private source: AudioSource | undefined;
  private track: LocalAudioTrack | undefined;
  private trackSid: string | undefined;
  /** One publish at a time. An unpublish runs on its own: a frame never waits for one. */
  private publishing: Promise<void> = Promise.resolve();
  private lastFrameAt = 0;
  /** No frame yet since the track was published: the first song may take a while on a busy host. */
  private awaitingFirstFrame = true;
  private idleCheck: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly participant: LocalParticipant,
    private readonly options: MusicTrackOptions,
    private readonly log: Logger,
    /** A track was left behind (see unpublish): rtc-node keeps its capture task running. */
    private readonly onLeaked: () => void = () => undefined,
  ) {}

  get published(): boolean {
    return this.trackSid !== undefined;
  }

  get queuedDuration(): number {
    return this.source?.queuedDuration ?? 0;
  }

  async captureFrame(frame: AudioFrame): Promise<void> {
    this.lastFrameAt = performance.now();
    this.awaitingFirstFrame = false;
    if (!this.source) await this.publish();
    // Closed meanwhile: the frame goes nowhere.
    await this.source?.captureFrame(frame);
  }

  /** Publishes now (the room's first start would otherwise wait for it). */
  publish(): Promise<void> {
    this.publishing = this.publishing.then(async () => {
      if (this.source || this.closed) return;
      const source = new AudioSource(SAMPLE_RATE, CHANNELS, this.options.queueMs);
      const track = LocalAudioTrack.createAudioTrack(MUSIC_TRACK_NAME, source);
      const options = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE, dtx: false, red: false, audioEncoding: { maxBitrate: BigInt(this.options.bitrate) } });
      const startedAt = performance.now();
      const publication = await this.participant.publishTrack(track, options);
      this.source = source;
      this.track = track;
      this.trackSid = publication.sid;
      this.lastFrameAt = performance.now();
      this.watchIdle();
      this.log.info({ bitrate: this.options.bitrate, ms: Math.round(performance.now() - startedAt) }, 'music track published');
    });
    return this.publishing;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.idleCheck);
    await this.publishing;
    await this.unpublish('closing');
  }

  /**
   * Idle: no frame for `idleMs`. A track that has had no frame at all since it was published
   * waits FIRST_FRAME_GRACE_MS at least: a room's first song can take seconds to come out of
   * ffmpeg on a loaded host, and unpublishing just before it only costs a second publish.
   */
  private watchIdle(): void {
    const { idleMs } = this.options;
    if (idleMs <= 0) return;
    this.awaitingFirstFrame = true;
    clearInterval(this.idleCheck);
    this.idleCheck = setInterval(
      () => {
        const limit = this.awaitingFirstFrame ? Math.max(idleMs, FIRST_FRAME_GRACE_MS) : idleMs;
        if (performance.now() - this.lastFrameAt >= limit) void this.unpublish('idle');
      },
      Math.min(1_000, idleMs / 2),
    );
    this.idleCheck.unref();
  }

  /**
   * The track is gone at once: a frame from now on publishes a new one without waiting for this
   * one's teardown (on a loaded host, unpublishTrack was seen taking seconds).
   */
  private async unpublish(why: 'idle' | 'closing'): Promise<void> {
    clearInterval(this.idleCheck);
    const { track, trackSid } = this;
    this.source = undefined;
    this.track = undefined;
    this.trackSid = undefined;
    if (!track || !trackSid) return;
    const startedAt = performance.now();
    try {
      if (this.participant.trackPublications.has(trackSid)) await this.participant.unpublishTrack(trackSid, true);
    } catch (err) {
      // The room went away under the track (deleted, or this agent removed): rtc-node then keeps
      // the track's audio source capture task feeding silence for the life of the process, ~4 ms/s
      // (docs/ARCHITECTURE.md, "What is left at rest"), whatever is closed here. On close the agent
      // is leaving the room, which may be gone already: no fault (the host still counts the leak).
      this.log[why === 'closing' ? 'debug' : 'warn']({ err: (err as Error).message }, 'could not unpublish the music track');
      this.onLeaked();
    }
    // Closing the track (and its source with it) frees the native audio source. Closing only the
    // source left its capture task feeding silence for the life of the process: 3–4 ms/s for
    // every track a host process had ever published.
    await track.close(true).catch(() => undefined);
    if (why === 'idle') this.log.info({ idleMs: this.options.idleMs, ms: Math.round(performance.now() - startedAt) }, 'music track unpublished while idle');
  }
}
