/**
 * The rooms one host process plays: each an rtc-node `Room` with its RoomSession, all on one
 * event loop and one FFI client. Owns which jobs this process has taken (offered, joining,
 * playing) and what it tells LiveKit about its load; the link to LiveKit (workerLink.ts) only
 * carries messages.
 *
 * One room's failure stays in its room: a join that fails, a session that throws, or an exception
 * from the room's code anywhere in its async work (traced with AsyncLocalStorage, see
 * `roomOfError`) ends that room alone; the bridge sees its agent gone and restores the room.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Room, RoomEvent } from '@livekit/rtc-node';
import type { Job } from '@livekit/protocol';
import type { AgentConfig } from '../src/config.js';
import type { Logger } from '../src/log.js';
import type { Catalog } from '../src/music/catalog.js';
import type { Loudness } from '../src/playout/loudness.js';
import { AGENT_ATTRIBUTE, DRAINING_ATTRIBUTE, STATE_ATTRIBUTE, agentParticipantName } from '../src/protocol/messages.js';
import type { MetricsReporter } from './metrics.js';
import { RoomSession } from './roomSession.js';
import { stopNativeLogCapture } from './nativeLogs.js';
import type { JobClaim, WorkerLink, WorkerLinkHandlers } from './workerLink.js';
import { roomLoad } from './workerLoad.js';
import type { ReportLink } from './reportLink.js';

/** An offer taken but never assigned (the server gave it to another worker) is let go after this. */
const OFFER_HOLD_MS = 10_000;
/**
 * A stopping host waits this long at most for the bridges to bring each playing room a new agent
 * (the worker's main process kills its hosts after 10 s). Without MQTT no bridge hears that it
 * stops: its rooms are left at once, and restored once LiveKit shows their agents gone.
 */
const HANDOVER_MS = 8_000;

/**
 * For the end-to-end test of room isolation only: `<room>:<ms>` makes that room's code throw, once
 * per process, `ms` after it joined (an uncaught exception and an unhandled rejection, as a bug
 * would). Unset in every real deployment.
 */
const TEST_FAULT = /^(.+):(\d+)$/.exec(process.env.ROOMCAST_TEST_FAULT ?? '');
let testFaultThrown = false;

export interface RoomHostDeps {
  config: AgentConfig;
  catalog: Catalog;
  log: Logger;
  metrics: MetricsReporter;
  loudness?: Loudness | undefined;
  /** The host's MQTT link to the bridges, when it has one. */
  reports?: ReportLink | undefined;
  /** The number of rooms it plays in changed. */
  roomsChanged?: ((rooms: number) => void) | undefined;
  /** A room's track was left to rtc-node (agent/musicTrack.ts). */
  trackLeaked?: (() => void) | undefined;
}

const roomScope = new AsyncLocalStorage<HostedRoom>();

/** The hosted room whose code was running when `err` was thrown (or rejected), if any. */
export function roomOfError(): HostedRoom | undefined {
  return roomScope.getStore();
}

export class RoomHost implements WorkerLinkHandlers {
  private readonly rooms = new Map<string, HostedRoom>();
  /** Jobs offered and claimed, not assigned yet: they count towards the load already. */
  private readonly claimed = new Map<string, NodeJS.Timeout>();
  private link: WorkerLink | undefined;
  private draining = false;

  constructor(private readonly deps: RoomHostDeps) {}

  attach(link: WorkerLink): void {
    this.link = link;
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  /** No room, and none claimed: the process can go without anyone noticing. */
  get idle(): boolean {
    return this.rooms.size === 0 && this.claimed.size === 0;
  }

  offer(job: Job): JobClaim | undefined {
    if (this.draining || this.roomsTaken >= this.deps.config.maxRooms) return undefined;
    this.claimed.set(
      job.id,
      setTimeout(() => this.unclaim(job.id), OFFER_HOLD_MS),
    );
    this.takenChanged();
    return { identity: `agent-${job.id}`, name: agentParticipantName(this.deps.config.livekit.agentName) };
  }

  assigned(job: Job, url: string, token: string): void {
    clearTimeout(this.claimed.get(job.id));
    this.claimed.delete(job.id);
    const name = job.room?.name ?? '';
    const hosted = new HostedRoom(job.id, name, this.deps, (error) => this.ended(hosted, error));
    this.rooms.set(job.id, hosted);
    this.report();
    roomScope.run(hosted, () => void hosted.start(url, token));
  }

  terminated(jobId: string): void {
    void this.rooms.get(jobId)?.end('LiveKit ended the job');
  }

  load(): { load: number; full: boolean } {
    const taken = this.roomsTaken;
    return { load: roomLoad(taken, this.deps.config.maxRooms), full: this.draining || taken >= this.deps.config.maxRooms };
  }

  /** An exception from a room's code: that room ends, the others play on. */
  failed(hosted: HostedRoom, err: unknown): void {
    hosted.log.error({ err }, 'room failed: ending it (the other rooms of this process play on)');
    void hosted.end('room failed', (err as Error)?.message ?? String(err));
  }

  /**
   * Takes no more rooms and leaves every room. With MQTT, a playing room is handed over: its agent
   * says it is draining (an attribute), then this worker tells the bridges, which bring the room a
   * new agent on another worker; the old one leaves once the new one plays.
   */
  async drain(): Promise<void> {
    this.draining = true;
    this.link?.reportStatus();
    const rooms = [...this.rooms.values()];
    const handoverMs = this.deps.reports ? HANDOVER_MS : 0;
    const handovers = rooms.map((r) => r.handOver(handoverMs));
    await Promise.allSettled(rooms.map((r) => r.drainingMarked));
    this.deps.reports?.draining();
    await Promise.allSettled(handovers);
  }

  private unclaim(jobId: string): void {
    this.claimed.delete(jobId);
    this.takenChanged();
  }

  private ended(hosted: HostedRoom, error: string | undefined): void {
    this.rooms.delete(hosted.jobId);
    this.link?.jobEnded(hosted.jobId, error);
    this.report();
  }

  /** Rooms played and claimed (offered, not assigned yet): what counts against AGENT_MAX_ROOMS. */
  get roomsTaken(): number {
    return this.rooms.size + this.claimed.size;
  }

  /** How full this process is changed: LiveKit (its load) and the bridges (its presence) hear it. */
  private takenChanged(): void {
    this.link?.reportStatus();
    this.deps.reports?.roomsChanged();
  }

  private report(): void {
    this.takenChanged();
    this.deps.metrics.report({ kind: 'rooms', host: process.pid, rooms: this.rooms.size });
    this.deps.roomsChanged?.(this.rooms.size);
  }
}

/** One room this process plays in: joins, publishes, announces itself, and leaves once. */
export class HostedRoom {
  readonly log: Logger;
  private readonly room = new Room();
  private readonly session: RoomSession;
  private ending: Promise<void> | undefined;
  /** Resolves once the room knows this agent is draining (or it will not be told). */
  drainingMarked: Promise<void> = Promise.resolve();

  constructor(
    readonly jobId: string,
    readonly name: string,
    private readonly deps: RoomHostDeps,
    private readonly onEnded: (error: string | undefined) => void,
  ) {
    this.log = deps.log.child({ room: name, job: jobId });
    const reports = deps.reports;
    this.session = new RoomSession(this.room, { ...deps, log: this.log, report: reports && ((report) => reports.reportRoom(name, report)) });
  }

  async start(url: string, token: string): Promise<void> {
    try {
      this.session.listen();
      this.room.on(RoomEvent.Disconnected, () => void this.end('disconnected from the room'));
      await this.room.connect(url, token, { autoSubscribe: false, dynacast: false });
      stopNativeLogCapture();
      if (this.ending || this.givesWay()) return;
      await this.session.publish();
      // Once more: an agent that joined meanwhile may have the smaller identity.
      if (this.ending || this.givesWay()) return;
      await this.session.announceReady();
      this.session.leaveWhenEmpty(() => void this.end('room empty'));
      this.log.info('joined room');
      if (TEST_FAULT?.[1] === this.name && !testFaultThrown) {
        testFaultThrown = true;
        setTimeout(() => {
          void Promise.reject(new Error('test fault: a rejected promise in the room'));
          throw new Error('test fault: an exception in the room');
        }, Number(TEST_FAULT[2]));
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'could not join the room');
      await this.end('join failed', (err as Error).message);
    }
  }

  /**
   * The worker stops: a playing room keeps its music until another Roomcast agent plays in it (the
   * bridges bring one), or `withinMs` passed; any other room is left now.
   */
  async handOver(withinMs: number): Promise<void> {
    const participant = this.room.localParticipant;
    if (withinMs === 0 || !this.session.playing || !participant || this.ending) return this.end('worker stopping');
    // Bounded: a LiveKit server that is gone never answers.
    const marked = participant.setAttributes({ [DRAINING_ATTRIBUTE]: 'true' }).catch(() => undefined);
    this.drainingMarked = Promise.race([marked, new Promise<void>((r) => setTimeout(r, 2_000))]);
    await this.drainingMarked;
    this.log.info({ withinMs }, 'worker stopping: playing on until another agent plays here');
    await new Promise<void>((resolve) => {
      const check = () => {
        if (!this.successorPlays()) return;
        done('handed over to another agent');
      };
      const done = (reason: string) => {
        clearTimeout(timer);
        this.room.off(RoomEvent.ParticipantAttributesChanged, check);
        void this.end(reason).then(resolve);
      };
      const timer = setTimeout(() => done('worker stopping (no other agent came)'), withinMs);
      this.room.on(RoomEvent.ParticipantAttributesChanged, check);
      check();
    });
  }

  /** Whether another Roomcast agent, not draining, plays in the room. */
  private successorPlays(): boolean {
    const { agentName } = this.deps.config.livekit;
    return [...this.room.remoteParticipants.values()].some((p) => {
      if (p.attributes[AGENT_ATTRIBUTE] !== agentName || p.attributes[DRAINING_ATTRIBUTE] === 'true') return false;
      try {
        return (JSON.parse(p.attributes[STATE_ATTRIBUTE] ?? '{}') as { state?: unknown }).state === 'playing';
      } catch {
        return false;
      }
    });
  }

  /** Leaves the room and frees what it held; once, whatever asks first. */
  end(reason: string, error?: string): Promise<void> {
    this.ending ??= (async () => {
      this.log.info({ reason }, 'leaving room');
      await this.session.close().catch((err: Error) => this.log.warn({ err: err.message }, 'room session did not close cleanly'));
      await this.room.disconnect().catch(() => undefined);
      this.onEnded(error);
      this.log.info('left room');
    })();
    return this.ending;
  }

  /**
   * At most one Roomcast agent plays in a room (two bridges may dispatch at once). A joining agent
   * gives way to one that is ready, or, when neither is, to the one with the smaller identity; never
   * to one that is draining (it came to replace it).
   */
  private givesWay(): boolean {
    const { agentName } = this.deps.config.livekit;
    const me = this.room.localParticipant?.identity ?? '';
    const other = [...this.room.remoteParticipants.values()].some(
      (p) => p.name === agentParticipantName(agentName) && p.attributes[DRAINING_ATTRIBUTE] !== 'true' && (p.attributes[AGENT_ATTRIBUTE] === agentName || p.identity < me),
    );
    if (!other) return false;
    this.log.warn('another Roomcast agent is in the room: leaving it to that one');
    void this.end('another Roomcast agent is in the room');
    return true;
  }
}
