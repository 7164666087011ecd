/**
 * A room's music: holds the current source (the playlist or Lyria), switches between them without
 * restarting anything, and turns each command into a confirmation. Knows nothing of LiveKit.
 */
import { EventEmitter } from 'node:events';
import type { AgentConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Catalog, SongFilter } from '../music/catalog.js';
import type { Song } from '../music/song.js';
import type { Command, StartCommand } from '../protocol/commands.js';
import { pickLyriaSettings } from '../protocol/lyriaSettings.js';
import { NO_MUSIC, type Confirmation, type SourceKind, type SourceNotice, type SourceStateEvent, type TrackEvent, type TrackInfo } from '../protocol/messages.js';
import { LyriaSource } from './lyria/lyriaSource.js';
import { defaultPrompts } from './lyria/prompts.js';
import { PlaylistSource, trackInfo } from './playlistSource.js';
import type { VolumeSink } from '../playout/volume.js';
import { createLoudness, type Loudness } from '../playout/loudness.js';
import { SourceError, type MusicSource, type SourceStatus } from './source.js';

/** The commands that act on the music itself. */
export type PlayerCommand = Exclude<Command, { type: 'set_ducking' }>;
export type MusicEvent = TrackEvent | SourceStateEvent | SourceNotice;

/** The current source's status (with its own details), plus the last notice it gave. */
export type RoomStatus = (SourceStatus | { state: 'stopped' }) & { volume: number; last_notice?: SourceNotice };

export interface RoomPlayerEvents {
  event: [MusicEvent];
  status: [RoomStatus];
  underrun: [SourceKind];
}

export interface RoomPlayerDeps {
  /** The head of the room's sink chain (playout/sinkChain.ts). */
  sink: VolumeSink;
  catalog: Catalog;
  config: AgentConfig;
  log: Logger;
  /** The host process's loudness cache, shared by its rooms (made from config when absent). */
  loudness?: Loudness | undefined;
}

type Outcome = Omit<Confirmation, 'type' | 'request_id'>;

export class RoomPlayer extends EventEmitter<RoomPlayerEvents> {
  private current: MusicSource | undefined;
  private lastNotice: SourceNotice | undefined;
  /** Every source writes through it: the room's volume outlives source switches. */
  private readonly sink: VolumeSink;

  private readonly loudness: Loudness | undefined;

  constructor(private readonly deps: RoomPlayerDeps) {
    super();
    this.sink = deps.sink;
    this.loudness = deps.loudness ?? createLoudness(deps.config);
  }

  status(): RoomStatus {
    const status: RoomStatus = { ...(this.current?.status() ?? { state: 'stopped' }), volume: this.sink.volume };
    return this.lastNotice ? { ...status, last_notice: this.lastNotice } : status;
  }

  /** Applies a command to the music (set_ducking is the room session's: agent/ducking.ts). */
  async apply(command: PlayerCommand): Promise<Outcome> {
    switch (command.type) {
      case 'start_continuous_music':
        return command.source === 'lyria' ? this.startLyria(command) : this.startedPlaylist(command);
      case 'stop_continuous_music': {
        // The stopped source stays current: a playlist keeps its next song open for a restart.
        const wasPlaying = (await this.current?.stop()) ?? false;
        this.emit('status', this.status());
        return { ok: true, message: wasPlaying ? 'Stopped continuous music streaming' : NO_MUSIC.notActive };
      }
      case 'skip_music':
        return { ok: true, source: this.playing().kind, ...(await this.playing().skip()) };
      case 'pause_music':
        await this.playing().pause();
        return { ok: true, source: this.playing().kind, message: 'Music paused' };
      case 'resume_music':
        await this.playing().resume();
        return { ok: true, source: this.playing().kind, message: 'Music resumed' };
      case 'set_music_prompts': {
        const lyria = this.lyria(command.type);
        const notices = this.collectNotices(lyria);
        void lyria.setPrompts(command.prompts).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'prompt change failed'));
        const fade = this.deps.config.lyria.promptFadeMs;
        return { ok: true, source: 'lyria', message: `Moving to the new prompts over ${fade} ms`, ...notices.done() };
      }
      case 'previous_music': {
        const track = await this.playlist(command.type).previous();
        return { ok: true, source: 'playlist', message: `Back to "${track.title}"`, track };
      }
      case 'play_music': {
        const song = this.findSong(command);
        const current = this.current;
        const track = current instanceof PlaylistSource && current.status().state !== 'stopped' ? await current.playNow(song) : await this.startPlaylist({ language: command.language }, song);
        return { ok: true, source: 'playlist', message: `Playing "${track.title}"`, track };
      }
      case 'enqueue_music': {
        const song = this.findSong(command);
        const position = this.playlist(command.type).enqueue(song);
        this.emit('status', this.status());
        return { ok: true, source: 'playlist', message: `"${song.title}" queued at position ${position}`, track: trackInfo(song), position };
      }
      case 'set_volume':
        this.sink.volume = command.volume;
        this.emit('status', this.status());
        return { ok: true, message: `Volume set to ${this.sink.volume}`, volume: this.sink.volume };
      case 'get_music_status':
        return { ok: true, message: `Music is ${this.status().state}`, status: this.status() };
      case 'set_music_config': {
        const lyria = this.lyria(command.type);
        const { contextReset } = await lyria.setSettings(pickLyriaSettings(command));
        const message = contextReset ? 'Settings applied; bpm/scale changed, so the context was reset' : 'Settings applied';
        return { ok: true, source: 'lyria', message, context_reset: contextReset };
      }
    }
  }

  async close(): Promise<void> {
    await this.current?.stop();
    this.replace(undefined);
  }

  /** Starts the playlist (switching from Lyria if need be), optionally with a given first song. */
  private async startPlaylist(filter: SongFilter, first?: Song): Promise<TrackInfo> {
    const playlist =
      this.current instanceof PlaylistSource
        ? this.current
        : this.attach(
            new PlaylistSource(this.sink, this.deps.catalog, {
              ffmpegPath: this.deps.config.ffmpegPath,
              log: this.deps.log,
              loudness: this.loudness,
              crossfadeMs: this.deps.config.crossfadeMs,
              ...this.deps.config.songTimeouts,
            }),
          );
    if (playlist !== this.current) {
      await this.current?.stop();
      this.replace(playlist);
    }
    return playlist.start(filter, first);
  }

  /** A filter that matches nothing falls back to the whole catalog, and the reply says so. */
  private async startedPlaylist(command: StartCommand): Promise<Outcome> {
    const filter = { language: command.language, genre: command.genre };
    const matches = this.deps.catalog.filter(filter).length > 0;
    const track = await this.startPlaylist(matches ? filter : {});
    const by = [command.language, command.genre].filter(Boolean).join(', ');
    const fallback = matches ? '' : `: no songs match (${by}), so the whole catalog plays`;
    return {
      ok: true,
      source: 'playlist',
      message: `Started continuous music streaming${by ? ` (${by})` : ''}${fallback}`,
      ...(command.language ? { language: command.language } : {}),
      ...(command.genre ? { genre: command.genre } : {}),
      track,
    };
  }

  /** Opens the new session first: if Lyria is unreachable, the room keeps its current music. */
  private async startLyria(command: StartCommand): Promise<Outcome> {
    const { lyria: options } = this.deps.config;
    if (!options.apiKey) throw new SourceError('Lyria needs GOOGLE_API_KEY (or GEMINI_API_KEY) on the agent; the room keeps its current music');
    const lyria = new LyriaSource(this.sink, { ...options, apiKey: options.apiKey, log: this.deps.log });
    const notices = this.collectNotices(lyria);
    const prompts = command.prompts ?? defaultPrompts(command);
    try {
      await lyria.open(prompts, pickLyriaSettings(command));
    } catch (err) {
      await lyria.stop();
      throw new SourceError(`could not start Lyria: ${(err as Error).message}; the room keeps its current music`);
    }
    await this.current?.stop();
    this.replace(this.attach(lyria));
    await lyria.start();
    return { ok: true, source: 'lyria', message: `Started Lyria RealTime music (${prompts.map((p) => p.text).join(', ')})`, ...notices.done() };
  }

  private playing(): MusicSource {
    if (!this.current || this.current.status().state === 'stopped') throw new SourceError(NO_MUSIC.notPlaying);
    return this.current;
  }

  private playlist(commandType: string): PlaylistSource {
    if (!(this.current instanceof PlaylistSource) || this.current.status().state === 'stopped') {
      throw new SourceError(this.current instanceof LyriaSource ? `${commandType} applies to the playlist, not to Lyria music` : NO_MUSIC.notPlaying);
    }
    return this.current;
  }

  private findSong(command: { song_name?: string | undefined; query?: string | undefined; language?: string | undefined }): Song {
    const [song] = this.deps.catalog.find(command);
    if (!song) throw new SourceError(`no song matches ${command.song_name ? `"${command.song_name}"` : `the query "${command.query}"`}`);
    return song;
  }

  private lyria(commandType: string): LyriaSource {
    if (!(this.current instanceof LyriaSource)) throw new SourceError(NO_MUSIC.lyriaOnly(commandType));
    return this.current;
  }

  private attach<S extends MusicSource>(source: S): S {
    source.on('track', (e) => this.emit('event', e));
    source.on('sourceState', (e) => this.emit('event', e));
    source.on('notice', (n) => {
      this.lastNotice = n;
      this.emit('event', n);
      this.emit('status', this.status());
    });
    source.on('state', () => this.emit('status', this.status()));
    source.on('underrun', () => this.emit('underrun', source.kind));
    return source;
  }

  private replace(next: MusicSource | undefined): void {
    if (this.current && this.current !== next) {
      this.current.removeAllListeners();
      if (this.current instanceof PlaylistSource) this.current.release();
    }
    this.current = next;
    this.emit('status', this.status());
  }

  /** Gathers the notices a source gives while a command runs, for its confirmation. */
  private collectNotices(source: MusicSource) {
    const filtered: Array<{ text: string; reason: string }> = [];
    const warnings: string[] = [];
    const onNotice = (n: SourceNotice) => (n.type === 'prompt_filtered' ? filtered.push({ text: n.text, reason: n.reason }) : warnings.push(n.message));
    source.on('notice', onNotice);
    return {
      done: () => {
        source.off('notice', onNotice);
        return { ...(filtered.length ? { filtered_prompts: filtered } : {}), ...(warnings.length ? { warnings } : {}) };
      },
    };
  }
}
