/**
 * The agent inside one room: publishes the `music` track, takes commands from `music_control`
 * data packets, runs them one at a time on the player, and confirms each on the same topic.
 */
import { DeclickSink } from '../playout/declick.js';
import {
  AudioSource,
  LocalAudioTrack,
  ParticipantKind,
  RoomEvent,
  TrackPublishOptions,
  TrackSource,
  type RemoteParticipant,
  type Room,
} from '@livekit/rtc-node';
import type { AgentConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Catalog } from '../music/catalog.js';
import { parseCommandPacket, type Command, type ParseResult } from '../protocol/commands.js';
import {
  AGENT_ATTRIBUTE,
  BRIDGE_READ_INTERVAL_MS,
  CONFIRMATION_TYPE,
  MAX_PACKET_BYTES,
  MUSIC_CONTROL_TOPIC,
  RECEIVED_ATTRIBUTE,
  RECEIVED_KEPT,
  RESULTS_ATTRIBUTE,
  RESULTS_KEPT,
  RESULTS_MAX_BYTES,
  STATE_ATTRIBUTE,
  encodeJson,
  type Confirmation,
} from '../protocol/messages.js';
import { CHANNELS, SAMPLE_RATE } from '../playout/decoder.js';
import { RoomPlayer, type MusicEvent } from '../sources/roomPlayer.js';
import type { MetricsReporter } from './metrics.js';
import { AttributeUpdates } from './attributeUpdates.js';

export const MUSIC_TRACK_NAME = 'music';
/** Receipts, confirmations and state changes within this long go out in one attribute update. */
export const ATTRIBUTES_DELAY_MS = 10;
/** How many applied request_ids the agent remembers to drop duplicates. */
const REMEMBERED_REQUESTS = 256;

export interface RoomSessionDeps {
  catalog: Catalog;
  config: AgentConfig;
  log: Logger;
  metrics: MetricsReporter;
}

export class RoomSession {
  private source: AudioSource | undefined;
  private player: RoomPlayer | undefined;
  /** Commands run strictly one after another, in arrival order. */
  private queue: Promise<void> = Promise.resolve();
  private readonly ready: Promise<void>;
  private markReady!: () => void;
  /** The last confirmations, each with its JSON (newest last). */
  private readonly results: string[] = [];
  /** The request_ids of the last packets received (newest last). */
  private readonly received: string[] = [];
  private readonly attributes = new AttributeUpdates<'results' | 'received' | 'state'>((keys) => this.publishAttributes(keys), ATTRIBUTES_DELAY_MS, BRIDGE_READ_INTERVAL_MS);
  private readonly applied = new Map<string, Confirmation>();
  private readonly inFlight = new Set<string>();
  private onEmpty: (() => void) | undefined;
  private emptyTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly room: Room,
    private readonly deps: RoomSessionDeps,
  ) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  /** Call before connecting, so that no packet that arrives during the join is missed. */
  listen(): void {
    this.room.on(RoomEvent.DataReceived, this.onData);
    this.room.on(RoomEvent.ParticipantConnected, this.checkOccupancy);
    this.room.on(RoomEvent.ParticipantDisconnected, this.checkOccupancy);
  }

  /** `leave` runs once the room has had nobody but agents in it for `emptyRoomMs`. */
  leaveWhenEmpty(leave: () => void): void {
    this.onEmpty = leave;
    this.checkOccupancy();
  }

  private checkOccupancy = (): void => {
    const listeners = [...this.room.remoteParticipants.values()].filter((p) => p.kind !== ParticipantKind.AGENT);
    clearTimeout(this.emptyTimer);
    this.emptyTimer = undefined;
    if (listeners.length > 0 || !this.onEmpty) return;
    const leave = this.onEmpty;
    this.emptyTimer = setTimeout(() => {
      this.deps.log.info({ emptyForMs: this.deps.config.emptyRoomMs }, 'room empty: leaving');
      leave();
    }, this.deps.config.emptyRoomMs);
  };

  /** Publishes the music track; queued commands run once it is up. */
  async publish(): Promise<void> {
    const { audio } = this.deps.config;
    this.source = new AudioSource(SAMPLE_RATE, CHANNELS, audio.queueMs);
    const track = LocalAudioTrack.createAudioTrack(MUSIC_TRACK_NAME, this.source);
    const options = new TrackPublishOptions({
      source: TrackSource.SOURCE_MICROPHONE,
      dtx: false,
      red: false,
      audioEncoding: { maxBitrate: BigInt(audio.bitrate) },
    });
    await this.localParticipant().publishTrack(track, options);
    const sink = new DeclickSink(this.source, () => this.deps.metrics.report({ kind: 'underrun', source: 'playout' }));
    this.player = new RoomPlayer({ sink, catalog: this.deps.catalog, config: this.deps.config, log: this.deps.log });
    this.player.on('event', (event) => this.onPlayerEvent(event));
    this.player.on('status', () => this.attributes.changed('state'));
    this.player.on('underrun', (source) => this.deps.metrics.report({ kind: 'underrun', source }));
    this.markReady();
    this.deps.log.info({ bitrate: audio.bitrate }, 'music track published');
  }

  /**
   * Tells the bridge it may deliver: it waits for this attribute, because LiveKit drops data
   * packets for a participant whose connection is not up yet.
   */
  async announceReady(): Promise<void> {
    await this.localParticipant().setAttributes({ [AGENT_ATTRIBUTE]: this.deps.config.livekit.agentName, [STATE_ATTRIBUTE]: this.stateJson() });
    this.deps.log.info('ready for commands');
  }

  async close(): Promise<void> {
    this.room.off(RoomEvent.DataReceived, this.onData);
    this.room.off(RoomEvent.ParticipantConnected, this.checkOccupancy);
    this.room.off(RoomEvent.ParticipantDisconnected, this.checkOccupancy);
    this.attributes.cancel();
    clearTimeout(this.emptyTimer);
    await this.player?.close();
    await this.source?.close();
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
    if (!this.isDuplicate(command)) this.queue = this.queue.then(() => this.run(command));
    return command.request_id;
  }

  /**
   * A request_id seen before is not applied again (MQTT QoS 1 redelivery, app retries): a finished
   * one gets its confirmation again, one still running gets nothing more.
   */
  private isDuplicate({ request_id: id, type }: Command): boolean {
    if (!id) return false;
    const earlier = this.applied.get(id);
    if (earlier) {
      this.deps.log.info({ request_id: id, command: type }, 'duplicate command: sending its confirmation again');
      void this.send(earlier);
      return true;
    }
    if (this.inFlight.has(id)) {
      this.deps.log.info({ request_id: id, command: type }, 'duplicate of a command in progress: ignored');
      return true;
    }
    this.inFlight.add(id);
    return false;
  }

  private async run(command: Command): Promise<void> {
    await this.ready;
    const log = this.deps.log.child({ request_id: command.request_id, command: command.type });
    const startedAt = performance.now();
    let confirmation: Confirmation;
    try {
      confirmation = { type: CONFIRMATION_TYPE[command.type], ...(await (this.player as RoomPlayer).apply(command)) };
    } catch (err) {
      confirmation = { type: CONFIRMATION_TYPE[command.type], ok: false, message: (err as Error).message };
    }
    if (command.request_id) confirmation.request_id = command.request_id;
    log.info({ ok: confirmation.ok, message: confirmation.message }, 'command applied');
    this.deps.metrics.report({ kind: 'command', command: command.type, ok: confirmation.ok, seconds: (performance.now() - startedAt) / 1000 });
    if (command.request_id) this.remember(command.request_id, confirmation);
    void this.send(confirmation);
    this.recordResult(confirmation);
  }

  private onPlayerEvent(event: MusicEvent): void {
    this.deps.log.info({ event }, 'music event');
    const status = this.player?.status();
    const source = status && 'source' in status ? status.source : 'playlist';
    if (event.type === 'track_started') this.deps.metrics.report({ kind: 'track', source, outcome: 'started' });
    if (event.type === 'track_ended') this.deps.metrics.report({ kind: 'track', source, outcome: event.reason });
    if (event.type === 'source_state' && event.state === 'connected') this.deps.metrics.report({ kind: 'reconnect', source: event.source });
    void this.send(event);
  }

  private remember(requestId: string, confirmation: Confirmation): void {
    this.inFlight.delete(requestId);
    this.applied.set(requestId, confirmation);
    if (this.applied.size > REMEMBERED_REQUESTS) this.applied.delete(this.applied.keys().next().value as string);
  }

  /**
   * The last confirmations, where the bridge reads them to give the app its `done` reply. Those of
   * a burst of commands go in one attribute update.
   */
  private recordResult(confirmation: Confirmation): void {
    this.results.push(JSON.stringify(confirmation));
    if (this.results.length > RESULTS_KEPT) this.results.shift();
    this.attributes.changed('results');
  }

  /**
   * Acknowledges a packet at once, before its commands run: LiveKit drops data it cannot hand to a
   * participant without telling the sender, so the bridge sends again until it sees this.
   */
  private recordReceipt(requestIds: string[]): void {
    this.received.push(...requestIds);
    this.received.splice(0, this.received.length - RECEIVED_KEPT);
    this.attributes.changed('received');
  }

  /** The attributes that changed: the bridge reads receipts and confirmations, everyone the state. */
  private async publishAttributes(keys: Array<'results' | 'received' | 'state'>): Promise<void> {
    const values = { results: () => this.resultsJson(), received: () => JSON.stringify(this.received), state: () => this.stateJson() };
    const names = { results: RESULTS_ATTRIBUTE, received: RECEIVED_ATTRIBUTE, state: STATE_ATTRIBUTE };
    const attributes = Object.fromEntries(keys.map((k) => [names[k], values[k]()]));
    try {
      await this.localParticipant().setAttributes(attributes);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'could not publish attributes');
    }
  }

  /** The newest confirmations that fit in RESULTS_MAX_BYTES, as a JSON array. */
  private resultsJson(): string {
    let bytes = 2;
    let first = this.results.length;
    const size = (i: number) => Buffer.byteLength(this.results[i] as string) + 1;
    while (first > 0 && bytes + size(first - 1) <= RESULTS_MAX_BYTES) bytes += size(--first);
    return `[${this.results.slice(first).join(',')}]`;
  }

  private stateJson(): string {
    return JSON.stringify({ ...this.player?.status(), updated_at: Date.now() });
  }

  private async send(message: object): Promise<void> {
    try {
      await this.localParticipant().publishData(encodeJson(message), { reliable: true, topic: MUSIC_CONTROL_TOPIC });
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'could not publish on music_control');
    }
  }

  private localParticipant() {
    const participant = this.room.localParticipant;
    if (!participant) throw new Error('not connected to the room');
    return participant;
  }
}
