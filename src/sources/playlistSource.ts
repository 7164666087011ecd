/**
 * The continuous playlist source: picks the next song, decodes it, and feeds its frames to the
 * sink at the pace the sink accepts them (captureFrame backpressure; no timers). Skip, pause and
 * stop fade the music out (the sink's fadeOut) instead of cutting through it.
 */
import { EventEmitter } from 'node:events';
import type { AudioFrame } from '@livekit/rtc-node';
import type { Catalog, SongFilter } from '../music/catalog.js';
import type { Song } from '../music/song.js';
import { Playlist } from '../music/playlist.js';
import { NO_MUSIC, type TrackEndReason, type TrackEvent, type TrackInfo } from '../protocol/messages.js';
import type { Logger } from '../log.js';
import { DecodeError, decodePcm } from '../playout/decoder.js';
import type { Loudness } from '../playout/loudness.js';
import { toFrames } from '../playout/framer.js';
import { FRAME_MS, type FrameSink } from '../playout/audioFormat.js';
import { crossfadeFrame } from '../playout/crossfade.js';
import { gate, SourceError, type MusicSource, type SourceEvents, type SourceStatus } from './source.js';
import { openStation, type Station } from './station.js';

export interface PlaylistStatus extends SourceStatus {
  filter: SongFilter;
  /** Songs asked for explicitly that play before the shuffle resumes. */
  queue: TrackInfo[];
  /** What plays after the current song: the queue's first, else the song opened ahead. */
  next?: TrackInfo;
  /** How far into the current song the room is (ms), as of this status. */
  position_ms?: number;
}

const HISTORY_KEPT = 50;

interface OpenedTrack {
  song: Song;
  /** Taken from the explicit queue (enqueue, play, previous) rather than the shuffle. */
  queued: boolean;
  info: TrackInfo;
  abort: AbortController;
  frames: AsyncGenerator<AudioFrame>;
  /** The first frame, decoded ahead (songs; a station connects only when it plays). */
  first?: Promise<IteratorResult<AudioFrame>>;
  /** A live station's connection, made again to play live after a pause. */
  station?: Station;
  endReason?: TrackEndReason;
  /** Frames handed to the sink so far: the song's position. */
  played: number;
}

interface Run {
  abort: AbortController;
  playlist: Playlist;
  /** The next song, opened ahead while the current one plays. */
  upcoming?: OpenedTrack;
  /** Songs that failed in this run: the shuffle passes over them until the next start. */
  failed: Set<string>;
  filter: SongFilter;
  done: Promise<void>;
  /** Ended by stop() rather than by errors. */
  stopped: boolean;
  error?: string;
}

interface Standby {
  key: string;
  playlist: Playlist;
  track: OpenedTrack;
}

export interface PlayerOptions {
  ffmpegPath?: string | undefined;
  log: Logger;
  /** A song whose first audio takes longer than this fails (slow or dead server). */
  startTimeoutMs?: number;
  /** A song that stops delivering audio for this long while playing fails (stalled stream); a station's connection is made again. */
  stallTimeoutMs?: number;
  /** A station without audio for this long fails (station.ts). */
  stationGiveUpMs?: number;
  /** Loudness normalisation; off when absent. */
  loudness?: Loudness | undefined;
  /** Overlap of consecutive songs (ms); 0 plays them back to back. */
  crossfadeMs?: number;
}

export function trackInfo(song: Song): TrackInfo {
  const length = song.live ? { live: true as const } : song.duration ? { duration_ms: Math.round(song.duration * 1000) } : {};
  return { id: song.id, title: song.title, ...(song.artist ? { artist: song.artist } : {}), ...length };
}

export class PlaylistSource extends EventEmitter<SourceEvents> implements MusicSource {
  readonly kind = 'playlist' as const;
  private run: Run | undefined;
  private current: OpenedTrack | undefined;
  private lastError: string | undefined;
  private paused: ReturnType<typeof gate> | undefined;
  private standby: Standby | undefined;
  /** Songs asked for explicitly, played before the shuffle resumes. */
  private queued: Song[] = [];
  /** Songs that started, oldest first (for previous_music). */
  private readonly history: Song[] = [];

  constructor(
    private readonly sink: FrameSink,
    private readonly catalog: Catalog,
    private readonly options: PlayerOptions,
  ) {
    super();
  }

  status(): PlaylistStatus {
    const base = { source: this.kind, filter: this.run?.filter ?? {}, queue: this.queued.map(trackInfo) };
    if (!this.run) return { ...base, state: 'stopped', ...(this.lastError ? { error: this.lastError } : {}) };
    const next = this.queued[0] ? trackInfo(this.queued[0]) : this.run.upcoming?.info;
    const current = this.current ? { track: this.current.info, position_ms: this.current.played * FRAME_MS } : {};
    return { ...base, state: this.paused ? 'paused' : 'playing', ...current, ...(next ? { next } : {}) };
  }

  /** Starts (or restarts with a new filter) and resolves with the first track once it is playing. */
  async start(filter: SongFilter, first?: Song): Promise<TrackInfo> {
    const pool = this.catalog.filter(filter);
    if (pool.length === 0) throw new SourceError(`no songs match ${describe(filter)}`);
    await this.stop();
    this.queued = first ? [first] : [];
    const standby = this.takeStandby(first ? undefined : filterKey(filter));
    const abort = new AbortController();
    const run: Run = { abort, playlist: standby?.playlist ?? new Playlist(pool), filter, done: Promise.resolve(), stopped: false, failed: new Set() };
    const started = this.nextTrackStart();
    this.run = run;
    this.lastError = undefined;
    run.done = this.loop(run, standby?.track);
    return started;
  }

  /** Closes the song kept open after a stop (see loop). */
  release(): void {
    this.takeStandby(undefined);
  }

  /** The standby for `key`, if it matches; any other is closed. */
  private takeStandby(key: string | undefined): Standby | undefined {
    const standby = this.standby;
    this.standby = undefined;
    if (standby && standby.key === key) return standby;
    standby?.track.abort.abort();
    return undefined;
  }

  /** Cuts the current song and resolves once the next one is playing (a pause ends). */
  async skip(): Promise<{ message: string; track: TrackInfo }> {
    const current = this.current;
    if (!this.run || !current) throw new SourceError(NO_MUSIC.notPlaying);
    const started = this.nextTrackStart();
    this.cut(current, 'skipped');
    this.openGate();
    const track = await started;
    return { message: `Skipped to "${track.title}"`, track };
  }

  /** Plays `song` now, cutting the current one; resolves once it is playing. */
  async playNow(song: Song): Promise<TrackInfo> {
    const run = this.requireRun();
    this.returnUpcoming(run);
    this.queued.unshift(song);
    return this.cutTo();
  }

  /** Plays `song` after the current one and any songs queued before it; returns its place. */
  enqueue(song: Song): number {
    const run = this.requireRun();
    if (run.upcoming && !run.upcoming.queued) this.returnUpcoming(run);
    this.queued.push(song);
    return this.queued.length + (run.upcoming?.queued ? 1 : 0);
  }

  /** Goes back to the song before the current one; the current one follows it again. */
  async previous(): Promise<TrackInfo> {
    const run = this.requireRun();
    const current = this.history.at(-1);
    const before = this.history.at(-2);
    if (!current || !before) throw new SourceError('there is no previous song');
    this.history.splice(-2, 2);
    this.returnUpcoming(run);
    this.queued.unshift(before, current);
    return this.cutTo();
  }

  private requireRun(): Run {
    if (!this.run || !this.current) throw new SourceError(NO_MUSIC.notPlaying);
    return this.run;
  }

  /** Cuts the current song; the loop moves on to what is next. */
  private cutTo(): Promise<TrackInfo> {
    const started = this.nextTrackStart();
    if (this.current) this.cut(this.current, 'skipped');
    this.openGate();
    return started;
  }

  /** Closes the song opened ahead and gives it back to where it came from. */
  private returnUpcoming(run: Run): void {
    const upcoming = run.upcoming;
    if (!upcoming) return;
    run.upcoming = undefined;
    upcoming.abort.abort();
    if (upcoming.queued) this.queued.unshift(upcoming.song);
    else run.playlist.putBack(upcoming.song);
  }

  /** Holds the song where it is, fading out; resuming fades back in where it stopped. */
  async pause(): Promise<void> {
    if (!this.run) throw new SourceError(NO_MUSIC.notPlaying);
    if (this.paused) return;
    this.paused = gate();
    await this.sink.fadeOut({ resumes: true });
    // A station lets its connection go while paused.
    this.current?.station?.reconnect();
    this.emit('state', this.status());
  }

  /** Resumes where the song was; a station resumes live, not where it paused. */
  async resume(): Promise<void> {
    if (!this.run) throw new SourceError(NO_MUSIC.notPlaying);
    if (this.paused) this.current?.station?.reconnect();
    this.openGate();
  }

  /** Stops playback; resolves false when nothing was playing. */
  async stop(): Promise<boolean> {
    const run = this.run;
    if (!run) return false;
    if (this.current) this.cut(this.current, 'stopped');
    run.stopped = true;
    run.abort.abort();
    this.openGate();
    await run.done;
    return true;
  }

  private openGate(): void {
    const paused = this.paused;
    if (!paused) return;
    this.paused = undefined;
    paused.open();
    this.emit('state', this.status());
  }

  private cut(track: OpenedTrack, reason: TrackEndReason): void {
    track.endReason = reason;
    track.abort.abort();
    void this.sink.fadeOut();
  }

  /** Resolves on the next track_started; rejects when the run ends first. */
  private nextTrackStart(): Promise<TrackInfo> {
    return new Promise((resolve, reject) => {
      const onTrack = (e: TrackEvent) => {
        if (e.type !== 'track_started') return;
        cleanup();
        resolve(e.track);
      };
      const onState = (s: SourceStatus) => {
        if (s.state !== 'stopped') return;
        cleanup();
        reject(new SourceError(s.error ?? 'playback stopped'));
      };
      const cleanup = () => {
        this.off('track', onTrack);
        this.off('state', onState);
      };
      this.on('track', onTrack);
      this.on('state', onState);
    });
  }

  private async loop(run: Run, first?: OpenedTrack): Promise<void> {
    let failuresInARow = 0;
    run.upcoming = first;
    const openNext = () => {
      const song = this.queued.shift();
      return song ? this.open(song, true) : this.open(this.nextUnfailed(run), false);
    };
    // Opens the next song while this one plays, so that a transition or a skip waits for nothing.
    const prefetch = () => (run.upcoming ??= openNext());
    // With a crossfade, the end of the song that finished, to be mixed into the next one's start.
    let tail: AudioFrame[] = [];
    while (!run.abort.signal.aborted) {
      const track = run.upcoming ?? openNext();
      run.upcoming = undefined;
      const forward = () => track.abort.abort();
      run.abort.signal.addEventListener('abort', forward, { once: true });
      this.current = track;
      try {
        tail = await this.play(track, prefetch, tail);
        failuresInARow = 0;
        this.emit('track', { type: 'track_ended', track: track.info, reason: track.endReason ?? 'finished' });
      } catch (err) {
        failuresInARow++;
        // The previous song's end, not mixed into a song that failed to start, fades out alone.
        await this.fadeOutTail(tail);
        tail = [];
        const error = (err as Error).message;
        this.options.log.warn({ track: track.info, err: error }, 'track failed');
        this.emit('track', { type: 'track_failed', track: track.info, error });
        this.emit('track', { type: 'track_ended', track: track.info, reason: 'failed' });
        run.failed.add(track.song.id);
        // The same song opened ahead would fail the same way.
        const ahead = run.upcoming as OpenedTrack | undefined; // (set by prefetch meanwhile)
        if (ahead?.song.id === track.song.id) {
          ahead.abort.abort();
          run.upcoming = undefined;
        }
        // Queued songs may come from outside the pool: only the pool's failures can exhaust it.
        const poolFailures = [...run.failed].filter((id) => run.playlist.includes(id)).length;
        if (failuresInARow > run.playlist.size || poolFailures >= run.playlist.size) run.error = `every song failed to play; last error: ${error}`;
      } finally {
        run.abort.signal.removeEventListener('abort', forward);
        track.abort.abort();
      }
      if (run.error) break;
    }
    // Nothing is left in hand to play when the next run starts.
    await this.sink.fadeOut();
    // After a stop, the next song stays open (its decoder waits, costing no CPU): a start with the
    // same filter then plays at once instead of waiting for a new decoder.
    const next = run.upcoming;
    run.upcoming = undefined;
    if (run.stopped && next && !next.queued) this.standby = { key: filterKey(run.filter), playlist: run.playlist, track: next };
    else next?.abort.abort();
    this.current = undefined;
    this.run = undefined;
    this.lastError = run.error;
    this.emit('state', this.status());
  }

  /**
   * The shuffle's next song that has not failed in this run (any, if all have), and is not the one
   * playing now (a song asked for by name is one the shuffle does not know it just played).
   */
  private nextUnfailed(run: Run): Song {
    const playing = this.current?.song.id;
    const unwanted = (song: Song) => run.failed.has(song.id) || song.id === playing;
    let song = run.playlist.next();
    for (let tries = 1; unwanted(song) && tries < run.playlist.size; tries++) song = run.playlist.next();
    return song;
  }

  /** Starts decoding a song; its first frame is decoded ahead and waits in `first`. */
  private open(song: Song, queued: boolean): OpenedTrack {
    if (song.live) return this.openStation(song, queued);
    const abort = new AbortController();
    const { ffmpegPath, loudness, log } = this.options;
    const onSpawn = (pid: number | undefined) => log.debug({ decoderPid: pid, track: song.id }, 'decoder started');
    const frames = (async function* () {
      const gainDb = await loudness?.gainDb(song).catch(() => undefined);
      yield* toFrames(decodePcm(song.url, { signal: abort.signal, ffmpegPath, gainDb, onSpawn }));
    })();
    const first = frames.next();
    first.catch(() => undefined); // reported when the track is played
    return { song, queued, info: trackInfo(song), abort, frames, first, played: 0 };
  }

  /** A live station: nothing is fetched until it plays (opened ahead, it would fall behind live). */
  private openStation(song: Song, queued: boolean): OpenedTrack {
    const abort = new AbortController();
    const { ffmpegPath, loudness, log, startTimeoutMs = 5_000, stallTimeoutMs = 2_000, stationGiveUpMs = 15_000 } = this.options;
    const station = openStation(song, {
      signal: abort.signal,
      ffmpegPath,
      log,
      startTimeoutMs,
      stallTimeoutMs,
      giveUpMs: stationGiveUpMs,
      targetLufs: loudness?.targetLufs,
      onTitle: (title) => this.retitle(track, title),
    });
    const track: OpenedTrack = { song, queued, info: trackInfo(song), abort, frames: station.frames, station, played: 0 };
    return track; // (named: onTitle above refers to it)
  }

  /** A station's new title: in its track info, and told to the room once it plays. */
  private retitle(track: OpenedTrack, title: string): void {
    track.info = { ...track.info, stream_title: title };
    if (this.current !== track || track.played === 0) return;
    this.emit('track', { type: 'track_metadata', track: track.info });
    this.emit('state', this.status());
  }

  /**
   * Plays one opened song to its end, or until its abort signal fires. With a crossfade, the song
   * starts mixed with `incoming` (the previous song's end, consumed from the array), and its own
   * last frames are held back and returned instead of played, for the next song to mix in.
   */
  private async play(track: OpenedTrack, onStarted: () => void, incoming: AudioFrame[] = []): Promise<AudioFrame[]> {
    const { signal } = track.abort;
    const { startTimeoutMs = 5_000, stallTimeoutMs = 2_000 } = this.options;
    const holdBack = Math.round((this.options.crossfadeMs ?? 0) / FRAME_MS);
    const held: AudioFrame[] = [];
    const overlap = incoming.length;
    let mixed = 0;
    const mix = (frame: AudioFrame | undefined) => crossfadeFrame(incoming.shift(), frame, mixed / overlap, ++mixed / overlap);
    let started = false;
    // A decoder that delivers nothing in time is killed; the song fails and the next one starts.
    // A station keeps its own time (station.ts): it reconnects, and fails only when it stays down.
    const nextFrame = (pending: Promise<IteratorResult<AudioFrame>>, ms: number, what: string) =>
      track.station
        ? pending
        : new Promise<IteratorResult<AudioFrame>>((resolve, reject) => {
            const timer = setTimeout(() => {
              track.abort.abort();
              reject(new DecodeError(`${what}: no audio from ${track.song.url} for ${ms} ms`));
            }, ms);
            pending.then(resolve, reject).finally(() => clearTimeout(timer));
          });
    let frames = 0;
    for (let next = await nextFrame(track.first ?? track.frames.next(), startTimeoutMs, 'did not start'); !next.done; next = await nextFrame(track.frames.next(), stallTimeoutMs, 'stalled')) {
      if (this.paused) await this.paused.promise;
      if (signal.aborted) return [];
      held.push(incoming.length > 0 ? mix(next.value) : next.value);
      frames++;
      if (held.length <= holdBack) continue;
      await this.sink.captureFrame(held.shift() as AudioFrame);
      track.played++;
      if (!started) {
        started = true;
        this.history.push(track.song);
        if (this.history.length > HISTORY_KEPT) this.history.shift();
        // Opened ahead first, so that the state says what plays next.
        onStarted();
        this.emit('track', { type: 'track_started', track: track.info });
        this.emit('state', this.status());
      }
    }
    if (signal.aborted) return [];
    // A song shorter than the overlap: the rest of the previous one fades out over silence.
    while (incoming.length > 0) held.push(mix(undefined));
    // A download cut short ends "cleanly" for ffmpeg; the catalog's duration tells.
    const played = (frames * FRAME_MS) / 1000;
    const expected = track.song.duration;
    if (expected !== undefined && played < expected * 0.9 - 0.5) {
      throw new DecodeError(`${track.song.url} ended after ${played.toFixed(1)} s of ${expected} s: cut short`);
    }
    return held;
  }

  /** Plays frames held back for a crossfade that cannot happen, fading them to silence. */
  private async fadeOutTail(frames: AudioFrame[]): Promise<void> {
    for (let i = 0; i < frames.length; i++) await this.sink.captureFrame(crossfadeFrame(frames[i], undefined, i / frames.length, (i + 1) / frames.length));
  }
}

function filterKey({ language, genre }: SongFilter): string {
  return JSON.stringify([language?.toLowerCase(), genre?.toLowerCase()]);
}

function describe(filter: SongFilter): string {
  const parts = Object.entries(filter)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} "${v}"`);
  return parts.length ? parts.join(' and ') : 'the catalog (it is empty)';
}
