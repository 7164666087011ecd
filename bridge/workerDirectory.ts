/**
 * Which agent host process (worker) plays each room, as their MQTT reports say, and which workers
 * are alive. Owns nothing else: the bridge asks it whether a room's agent is known to report (then
 * LiveKit need not be polled for it) and which rooms a worker that went offline leaves behind.
 */
import { WORKER_STALE_MS, type AgentReport, type WorkerPresence } from '../src/protocol/agentReports.js';

export interface RoomAgent {
  room: string;
  worker: string;
  identity: string;
}

interface Worker {
  state: WorkerPresence['state'];
  heardAt: number;
  /** Rooms taken and the most it takes, as its last presence said (absent: it did not say). */
  rooms?: number;
  capacity?: number;
}

/** Whether a new room can be placed: `none` only when every live worker said it is full (or draining). */
export type Capacity = 'some' | 'none' | 'unknown';

export class WorkerDirectory {
  private readonly agents = new Map<string, RoomAgent>();
  private readonly workers = new Map<string, Worker>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * A room's report. 'left' when the agent the directory knew for the room has left it (a report
   * of an agent it did not know leaving, such as one that gave way to another, changes nothing).
   */
  report(room: string, report: AgentReport): 'present' | 'left' | 'unchanged' {
    this.heard(report.worker, this.workers.get(report.worker)?.state ?? 'online');
    const known = this.agents.get(room);
    if (report.present) {
      this.agents.set(room, { room, worker: report.worker, identity: report.identity });
      return 'present';
    }
    if (known?.identity !== report.identity) return 'unchanged';
    this.agents.delete(room);
    return 'left';
  }

  /** A worker's presence; the rooms whose agents it took with it when it went offline. */
  presence(worker: string, presence: WorkerPresence): RoomAgent[] {
    if (presence.state !== 'offline') {
      this.heard(worker, presence.state, presence);
      return [];
    }
    this.workers.delete(worker);
    const orphans = this.roomsOf(worker);
    for (const orphan of orphans) this.agents.delete(orphan.room);
    return orphans;
  }

  /** The rooms whose agents the worker plays, as last reported. */
  roomsOf(worker: string): RoomAgent[] {
    return [...this.agents.values()].filter((a) => a.worker === worker);
  }

  /** The room's agent, while its worker is heard from (its reports can be trusted), else undefined. */
  reporting(room: string): RoomAgent | undefined {
    const agent = this.agents.get(room);
    const worker = agent && this.workers.get(agent.worker);
    return worker && this.now() - worker.heardAt <= WORKER_STALE_MS ? agent : undefined;
  }

  /** The room's agent as last reported (whether or not its worker is still heard). */
  agentOf(room: string): RoomAgent | undefined {
    return this.agents.get(room);
  }

  /** A reading of the room from LiveKit found no agent in it: what was reported is stale. */
  forget(room: string): void {
    this.agents.delete(room);
  }

  /** Forgets workers unheard for long, and their rooms (a poll finds out where they are). */
  sweep(): void {
    const oldest = this.now() - 10 * WORKER_STALE_MS;
    for (const [id, worker] of this.workers) {
      if (worker.heardAt >= oldest) continue;
      this.workers.delete(id);
      for (const agent of this.agents.values()) if (agent.worker === id) this.agents.delete(agent.room);
    }
  }

  get workerCount(): number {
    return this.workers.size;
  }

  /**
   * Room for another room among the workers heard from: `some` when one has a free place,
   * `none` when every one is full or draining, `unknown` when none is heard or one does not say
   * how full it is (an older agent): then only a dispatch can tell.
   */
  capacity(): Capacity {
    const live = [...this.workers.values()].filter((w) => this.now() - w.heardAt <= WORKER_STALE_MS);
    if (live.length === 0) return 'unknown';
    let unknown = false;
    for (const w of live) {
      if (w.state !== 'online') continue;
      if (w.capacity === undefined || w.rooms === undefined) unknown = true;
      else if (w.rooms < w.capacity) return 'some';
    }
    return unknown ? 'unknown' : 'none';
  }

  private heard(worker: string, state: WorkerPresence['state'], presence?: WorkerPresence): void {
    const known = this.workers.get(worker);
    this.workers.set(worker, { state, heardAt: this.now(), rooms: presence?.rooms ?? known?.rooms, capacity: presence?.capacity ?? known?.capacity });
  }
}
