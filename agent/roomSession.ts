/**
 * The agent inside one room: publishes the `music` track, takes commands from `music_control`
 * data packets, runs them one at a time on the player, and confirms each on the same topic.
 */
import { ParticipantKind, RoomEvent, TrackKind, type Participant, type RemoteParticipant, type RemoteTrack, type RemoteTrackPublication, type Room } from '@livekit/rtc-node';
import type { AgentConfig } from '../src/config.js';
import type { Logger } from '../src/log.js';
import type { Catalog } from '../src/music/catalog.js';
import { parseCommandPacket, type Command, type ParseResult } from '../src/protocol/commands.js';
import {
  AGENT_ATTRIBUTE,
  agentParticipantName,
  BRIDGE_READ_INTERVAL_MS,
  CONFIRMATION_TYPE,
  MAX_PACKET_BYTES,
  MUSIC_CONTROL_TOPIC,
  RECEIVED_ATTRIBUTE,
  RESULTS_ATTRIBUTE,
  STATE_ATTRIBUTE,
  encodeJson,
  type Confirmation,
} from '../src/protocol/messages.js';
import { buildSinkChain } from '../src/playout/sinkChain.js';
import type { Loudness } from '../src/playout/loudness.js';
import { RoomPlayer, type MusicEvent } from '../src/sources/roomPlayer.js';
import type { MetricsReporter } from './metrics.js';
import { AttributeUpdates } from './attributeUpdates.js';
import { CommandLedger } from './commandLedger.js';
import { MusicTrack } from './musicTrack.js';
import { AGENT_STATE_ATTRIBUTE, Ducking, type DuckingChange } from './ducking.js';
import type { DuckSink } from '../src/playout/duck.js';
import { VoiceMeter } from './voiceMeter.js';
import type { RoomReport } from './reportLink.js';

/** Receipts, confirmations and state changes within this long go out in one attribute update. */
export const ATTRIBUTES_DELAY_MS = 10;
/**
 * People's audio is let go this long after the room's music stopped (or ducking was switched off):
 * a skip or a short pause does not unsubscribe and subscribe again.
 */
export const HEARING_LINGER_MS = 5_000;

export interface RoomSessionDeps {
  catalog: Catalog;
  config: AgentConfig;
  log: Logger;
  metrics: MetricsReporter;
  /** Shared by the rooms of a host process: a song is measured once, whichever room plays it. */
  loudness?: Loudness | undefined;
  /** Reports the room's agent to the bridges (agent/reportLink.ts), when the host has MQTT. */
  report?: ((report: RoomReport) => void) | undefined;
  /** The room's track was left to rtc-node (agent/musicTrack.ts). */
  trackLeaked?: (() => void) | undefined;
}

type Changed = 'results' | 'received' | 'state' | 'listeners';

export class RoomSession {
  private track: MusicTrack | undefined;
  private player: RoomPlayer | undefined;
  /** Commands run strictly one after another, in arrival order. */
  private queue: Promise<void> = Promise.resolve();
  private readonly ready: Promise<void>;
  private markReady!: () => void;
  private readonly ledger = new CommandLedger();
  private readonly attributes = new AttributeUpdates<Changed>((keys) => this.publishChanges(keys), ATTRIBUTES_DELAY_MS, BRIDGE_READ_INTERVAL_MS);
  /** Whether the bridges know of this agent (it announced itself ready): only then does it report. */
  private announced = false;
  /** The agent leaves the room (it emptied, the worker stops, LiveKit ended the job or deleted the room). */
  private leaving = false;
  private onEmpty: (() => void) | undefined;
  private emptyTimer: NodeJS.Timeout | undefined;
  private duckSink: DuckSink | undefined;
  /** People heard directly, by identity (their audio tracks, subscribed for ducking). */
  private readonly voiceMeters = new Map<string, VoiceMeter>();
  /** Whether the agent subscribes to people's audio: only while there is music to duck. */
  private hearing = false;
  private stopHearingTimer: NodeJS.Timeout | undefined;
  private readonly ducking: Ducking;

  constructor(
    private readonly room: Room,
    private readonly deps: RoomSessionDeps,
  ) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.ducking = new Ducking(deps.config.ducking, {
      duck: (on) => this.duckSink?.duck(on),
      pause: async () => {
        if (this.player?.status().state !== 'playing') return false;
        await this.player.apply({ type: 'pause_music' });
        return true;
      },
      resume: async () => {
        await this.player?.apply({ type: 'resume_music' });
      },
      changed: () => {
        this.deps.log.debug({ ducking: this.ducking.status() }, 'ducking');
        this.attributes.changed('state');
        this.updateHearing();
      },
    });
  }

  /** Call before connecting, so that no packet that arrives during the join is missed. */
  listen(): void {
    for (const [event, handler] of this.handlers()) this.room.on(event, handler as never);
  }

  /** Every room event the session handles, with its handler: taken on by `listen`, off by `close`. */
  private handlers(): Array<[RoomEvent, (...args: never[]) => void]> {
    return [
      [RoomEvent.DataReceived, this.onData],
      [RoomEvent.ParticipantConnected, this.checkOccupancy],
      [RoomEvent.ParticipantDisconnected, this.checkOccupancy],
      [RoomEvent.ParticipantConnected, this.onParticipant],
      [RoomEvent.ParticipantDisconnected, this.onParticipantLeft],
      [RoomEvent.ParticipantAttributesChanged, this.onAttributes],
      [RoomEvent.ActiveSpeakersChanged, this.onSpeakers],
      [RoomEvent.TrackPublished, this.onTrackPublished],
      [RoomEvent.TrackSubscribed, this.onTrackSubscribed],
    ];
  }

  /** Roomcast's own agents (this one included) and other music agents never make the music duck. */
  private isMusicAgent(p: Participant): boolean {
    return p.identity === this.room.localParticipant?.identity || p.attributes[AGENT_ATTRIBUTE] !== undefined || (p.name ?? '').startsWith(agentParticipantName(''));
  }

  private onParticipant = (p: RemoteParticipant): void => {
    if (this.isMusicAgent(p)) return;
    this.ducking.agentState(p.identity, p.attributes[AGENT_STATE_ATTRIBUTE]);
    for (const publication of p.trackPublications.values()) this.onTrackPublished(publication, p);
  };

  /** A participant whose audio ducking listens to: not a music agent, not a voice agent (its state says when it talks). */
  private isPerson(p: Participant): boolean {
    return !this.isMusicAgent(p) && p.attributes[AGENT_STATE_ATTRIBUTE] === undefined;
  }

  /**
   * LiveKit tells a participant who speaks only among the tracks it subscribes to (measured: with
   * none, this agent's speaker updates listed only itself). So the agent subscribes to the audio of
   * the people in the room, not to voice agents nor to music agents, and only while there is music
   * to duck: a person's audio costs the worker ~6 ms/s subscribed, more metered (docs/BENCHMARKS.md),
   * and an idle room must cost next to nothing.
   */
  private onTrackPublished = (publication: RemoteTrackPublication, p: RemoteParticipant): void => {
    if (this.hearing && publication.kind === TrackKind.KIND_AUDIO && this.isPerson(p)) publication.setSubscribed(true);
  };

  /**
   * Hears people while ducking is on and the music plays (or is paused by ducking, which must hear
   * the speech end); lets them go HEARING_LINGER_MS after that stops being so.
   */
  private updateHearing(): void {
    const { enabled, active } = this.ducking.status();
    const wanted = enabled && (this.playing || active);
    if (wanted) {
      clearTimeout(this.stopHearingTimer);
      this.stopHearingTimer = undefined;
      if (!this.hearing) this.setHearing(true);
    } else if (this.hearing && !this.stopHearingTimer) {
      this.stopHearingTimer = setTimeout(() => {
        this.stopHearingTimer = undefined;
        this.setHearing(false);
      }, HEARING_LINGER_MS);
      this.stopHearingTimer.unref();
    }
  }

  private setHearing(on: boolean): void {
    this.hearing = on;
    this.deps.log.debug({ hearing: on }, on ? 'subscribing to the people in the room for ducking' : 'letting go of the people in the room');
    for (const p of this.room.remoteParticipants.values()) {
      if (!this.isPerson(p)) continue;
      for (const publication of p.trackPublications.values()) if (publication.kind === TrackKind.KIND_AUDIO) publication.setSubscribed(on);
    }
    if (on) return;
    for (const [identity, meter] of this.voiceMeters) {
      meter.close();
      this.ducking.voice(identity, false);
    }
    this.voiceMeters.clear();
  }

  private onParticipantLeft = (p: RemoteParticipant): void => {
    this.voiceMeters.get(p.identity)?.close();
    this.voiceMeters.delete(p.identity);
    this.ducking.left(p.identity);
  };

  /** A person's audio, subscribed for ducking: heard directly, sooner than LiveKit's speaker list. */
  private onTrackSubscribed = (track: RemoteTrack, _publication: RemoteTrackPublication, p: RemoteParticipant): void => {
    if (!this.hearing || track.kind !== TrackKind.KIND_AUDIO || !this.isPerson(p) || this.voiceMeters.has(p.identity)) return;
    this.voiceMeters.set(p.identity, new VoiceMeter(track, (speaking) => this.ducking.voice(p.identity, speaking)));
  };

  private onAttributes = (changed: Record<string, string>, p: Participant): void => {
    if (AGENT_STATE_ATTRIBUTE in changed && !this.isMusicAgent(p)) this.ducking.agentState(p.identity, p.attributes[AGENT_STATE_ATTRIBUTE]);
  };

  private onSpeakers = (speakers: Participant[]): void => {
    this.deps.log.debug({ speakers: speakers.map((p) => p.identity) }, 'active speakers');
    // A voice agent's own state says when it talks, sooner and without the speaker list's lag.
    this.ducking.speakers(speakers.filter((p) => this.isPerson(p) && !this.voiceMeters.has(p.identity)).map((p) => p.identity));
  };

  /** `leave` runs once the room has had nobody but agents in it for `emptyRoomMs`. */
  leaveWhenEmpty(leave: () => void): void {
    this.onEmpty = leave;
    this.checkOccupancy();
  }

  private checkOccupancy = (): void => {
    const listeners = this.listeners();
    if (this.announced) this.attributes.changed('listeners');
    clearTimeout(this.emptyTimer);
    this.emptyTimer = undefined;
    if (listeners > 0 || !this.onEmpty) return;
    const leave = this.onEmpty;
    this.emptyTimer = setTimeout(() => {
      this.deps.log.info({ emptyForMs: this.deps.config.emptyRoomMs }, 'room empty: leaving');
      leave();
    }, this.deps.config.emptyRoomMs);
  };

  /**
   * Publishes the music track (the first start then waits for nothing) and builds the room's
   * player on it; queued commands run once it is up. The track goes away while the room is idle
   * and comes back with the music (agent/musicTrack.ts).
   */
  async publish(): Promise<void> {
    const { audio } = this.deps.config;
    this.track = new MusicTrack(this.localParticipant(), audio, this.deps.log, this.deps.trackLeaked);
    await this.track.publish();
    const { input: sink, duck } = buildSinkChain(this.track, this.ducking.envelope, () => this.deps.metrics.report({ kind: 'underrun', source: 'playout' }));
    this.duckSink = duck;
    // Voice agents already speaking when this agent joined.
    for (const p of this.room.remoteParticipants.values()) this.onParticipant(p);
    this.player = new RoomPlayer({ sink, catalog: this.deps.catalog, config: this.deps.config, log: this.deps.log, loudness: this.deps.loudness });
    this.player.on('event', (event) => this.onPlayerEvent(event));
    this.player.on('status', () => {
      this.attributes.changed('state');
      this.updateHearing();
    });
    this.player.on('underrun', (source) => this.deps.metrics.report({ kind: 'underrun', source }));
    this.markReady();
  }

  /**
   * Tells the bridge it may deliver: it waits for this attribute, because LiveKit drops data
   * packets for a participant whose connection is not up yet.
   */
  async announceReady(): Promise<void> {
    await this.localParticipant().setAttributes({ [AGENT_ATTRIBUTE]: this.deps.config.livekit.agentName, [STATE_ATTRIBUTE]: this.stateJson() });
    this.announced = true;
    this.report(true);
    this.deps.log.info('ready for commands');
  }

  /** Whether the room's music plays (a host counts its playing rooms). */
  get playing(): boolean {
    return this.player?.status().state === 'playing';
  }

  /** The agent is leaving the room: what is published from now on may find the room gone, and that is no fault. */
  async close(): Promise<void> {
    this.leaving = true;
    for (const [event, handler] of this.handlers()) this.room.off(event, handler as never);
    for (const meter of this.voiceMeters.values()) meter.close();
    this.voiceMeters.clear();
    clearTimeout(this.stopHearingTimer);
    this.ducking.close();
    this.attributes.stop();
    clearTimeout(this.emptyTimer);
    if (this.announced) this.report(false);
    this.announced = false;
    await this.player?.close();
    await this.track?.close();
  }

  private onData = (payload: Uint8Array, participant?: RemoteParticipant, _kind?: unknown, topic?: string): void => {
    if (topic !== MUSIC_CONTROL_TOPIC) return;
    const from = participant?.identity;
    const received = parseCommandPacket(payload, MAX_PACKET_BYTES).flatMap((parsed) => this.onCommand(parsed, from) ?? []);
    if (received.length > 0) this.recordReceipt(received);
  };

  /** Queues a command unless it is a duplicate; returns its request_id once taken (either way). */
  private onCommand(parsed: ParseResult, from: string | undefined): string | undefined {
    if (!parsed.ok) {
      // Confirmations and events share the topic; only real commands concern us.
      if (parsed.type === undefined || !(parsed.type in CONFIRMATION_TYPE)) return undefined;
      this.deps.log.warn({ from: from ?? 'server', reason: parsed.reason }, 'rejected command packet');
      return undefined;
    }
    const command = parsed.command;
    if (from !== undefined && !this.deps.config.controlIdentities.includes(from)) {
      this.deps.log.warn({ from, command: command.type }, 'ignored a command from a participant that may not control the music');
      return undefined;
    }
    const admission = this.ledger.admit(command.request_id);
    if (admission.run) this.queue = this.queue.then(() => this.run(command));
    else if ('earlier' in admission) {
      this.deps.log.info({ request_id: command.request_id, command: command.type }, 'duplicate command: sending its confirmation again');
      void this.sendOnMusicControl(admission.earlier);
    } else this.deps.log.info({ request_id: command.request_id, command: command.type }, 'duplicate of a command in progress: ignored');
    return command.request_id;
  }

  private async run(command: Command): Promise<void> {
    await this.ready;
    const log = this.deps.log.child({ request_id: command.request_id, command: command.type });
    const startedAt = performance.now();
    let confirmation: Confirmation;
    try {
      confirmation = { type: CONFIRMATION_TYPE[command.type], ...(command.type === 'set_ducking' ? this.setDucking(command) : await (this.player as RoomPlayer).apply(command)) };
    } catch (err) {
      confirmation = { type: CONFIRMATION_TYPE[command.type], ok: false, message: (err as Error).message };
    }
    if (command.request_id) confirmation.request_id = command.request_id;
    log.info({ ok: confirmation.ok, message: confirmation.message }, 'command applied');
    this.deps.metrics.report({ kind: 'command', command: command.type, ok: confirmation.ok, seconds: (performance.now() - startedAt) / 1000 });
    this.ledger.finished(confirmation);
    void this.sendOnMusicControl(confirmation);
    this.attributes.changed('results');
  }

  private setDucking(change: DuckingChange): { ok: boolean; message: string; ducking: object } {
    this.ducking.configure(change);
    if (this.duckSink) this.duckSink.settings = this.ducking.envelope;
    const status = this.ducking.status();
    return { ok: true, message: status.enabled ? `Ducking on: ${status.mode === 'pause' ? 'the music pauses' : `${status.depth_db} dB`} while someone speaks` : 'Ducking off', ducking: status };
  }

  private onPlayerEvent(event: MusicEvent): void {
    this.deps.log.info({ event }, 'music event');
    const status = this.player?.status();
    const source = status && 'source' in status ? status.source : 'playlist';
    if (event.type === 'track_started') this.deps.metrics.report({ kind: 'track', source, outcome: 'started' });
    if (event.type === 'track_ended') this.deps.metrics.report({ kind: 'track', source, outcome: event.reason });
    if (event.type === 'source_state' && event.state === 'connected') this.deps.metrics.report({ kind: 'reconnect', source: event.source });
    void this.sendOnMusicControl(event);
  }

  /**
   * Acknowledges a packet at once, before its commands run: LiveKit drops data it cannot hand to a
   * participant without telling the sender, so the bridge sends again until it sees this.
   */
  private recordReceipt(requestIds: string[]): void {
    this.ledger.receivedPacket(requestIds);
    this.attributes.changed('received');
  }

  /**
   * What changed goes to the bridges (a report over MQTT, first: it is the fast path) and to the
   * room (attributes: the bridges' fallback, and everyone's view of the state).
   */
  private async publishChanges(keys: Changed[]): Promise<void> {
    if (this.announced) this.report(true);
    const values = { results: () => this.ledger.resultsJson(), received: () => this.ledger.receivedJson(), state: () => this.stateJson() };
    const names = { results: RESULTS_ATTRIBUTE, received: RECEIVED_ATTRIBUTE, state: STATE_ATTRIBUTE };
    const attributeKeys = keys.filter((k): k is Exclude<Changed, 'listeners'> => k !== 'listeners');
    if (attributeKeys.length === 0) return;
    const attributes = Object.fromEntries(attributeKeys.map((k) => [names[k], values[k]()]));
    try {
      await this.localParticipant().setAttributes(attributes);
    } catch (err) {
      this.publishFailed('could not publish attributes', err);
    }
  }

  private report(present: boolean): void {
    const report = this.deps.report;
    const identity = this.room.localParticipant?.identity;
    if (!report || identity === undefined) return;
    report({ identity, present, listeners: this.listeners(), stateJson: this.stateJson(), resultsJson: this.ledger.resultsJson(), receivedJson: this.ledger.receivedJson() });
  }

  private listeners(): number {
    let count = 0;
    for (const p of this.room.remoteParticipants.values()) if (p.kind !== ParticipantKind.AGENT) count++;
    return count;
  }

  private stateJson(): string {
    return JSON.stringify({ ...this.player?.status(), ducking: this.ducking.status(), updated_at: Date.now() });
  }

  /** A confirmation or a music event, to everyone in the room on `music_control`. */
  private async sendOnMusicControl(message: object): Promise<void> {
    try {
      await this.localParticipant().publishData(encodeJson(message), { reliable: true, topic: MUSIC_CONTROL_TOPIC });
    } catch (err) {
      this.publishFailed('could not publish on music_control', err);
    }
  }

  /** A warning while the agent is in the room; once it leaves, the room may be gone (rtc-node: "This operation was aborted"). */
  private publishFailed(what: string, err: unknown): void {
    this.deps.log[this.leaving ? 'debug' : 'warn']({ err: (err as Error).message }, what);
  }

  private localParticipant() {
    const participant = this.room.localParticipant;
    if (!participant) throw new Error('not connected to the room');
    return participant;
  }
}
