/**
 * Follows rooms: it resolves the agent's confirmation of each command, mirrors the room's music
 * state to a callback whenever it changes, and hands every view of a room to `reconcile`. Views
 * come two ways: pushed, from the reports agents publish over MQTT (`observe`), and read, through
 * the server API and the agent's participant attributes (the bridge never joins a room). A room
 * whose agent reports is read only now and then as a safety net (`reportedMs`); the others every
 * `busyMs` while a confirmation is awaited, else every `idleMs`. Forgets a room once nothing is
 * awaited and `keep` says so (by default, once it has no agent).
 */
import type { RoomView } from './roomAgents.js';
import type { Logger } from '../src/log.js';
import type { Confirmation } from '../src/protocol/messages.js';

export interface RoomWatcherOptions {
  read(room: string): Promise<RoomView>;
  onState(room: string, state: Record<string, unknown>): void;
  /** Called with every reading, to bring the room to what it should be. */
  reconcile?(room: string, view: RoomView): void;
  /** Whether to go on following a room that has no confirmation awaited. */
  keep?(room: string, hasAgent: boolean): boolean;
  onRoomsChanged?(count: number): void;
  /** Whether the room's agent reports over MQTT (then readings are only a safety net). */
  reporting?(room: string): boolean;
  log: Logger;
  idleMs: number;
  busyMs: number;
  /** Between readings of a room whose agent reports: idle, and awaiting a confirmation. */
  reportedMs?: { idle: number; busy: number };
}

interface Watched {
  lastState?: string;
  /** Waiters per request_id (a duplicate command waits for the same confirmation). */
  pending: Map<string, Set<(result: Confirmation | undefined) => void>>;
  /** Waiters for the agent's receipt of a packet, by the packet's request_ids. */
  receipts: Set<{ requestIds: string[]; finish: (received: boolean) => void }>;
  /** Whether the room's agent, at the last reading, had acknowledged receiving a packet. */
  agentHearsPackets?: boolean;
  /** When a reading last found the agent in the room (performance.now()). */
  agentSeenAt?: number;
  timer?: NodeJS.Timeout;
  /** When the scheduled reading is due (Date.now()). */
  dueAt?: number;
  polling: boolean;
  /** Read again as soon as the reading in progress is done (it may predate what changed). */
  readAgain?: boolean;
}

export const STOPPED_NO_AGENT = { state: 'stopped', agent: false } as const;

export class RoomWatcher {
  private readonly rooms = new Map<string, Watched>();
  private stopped = false;

  constructor(private readonly options: RoomWatcherOptions) {}

  /** Resolves with the agent's confirmation of `requestId`, or undefined after `timeoutMs`. */
  awaitResult(room: string, requestId: string, timeoutMs: number): Promise<Confirmation | undefined> {
    const watched = this.watch(room);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const waiters = watched.pending.get(requestId) ?? new Set();
      const finish = (result: Confirmation | undefined) => {
        clearTimeout(timer);
        waiters.delete(finish);
        if (waiters.size === 0) watched.pending.delete(requestId);
        resolve(result);
      };
      waiters.add(finish);
      watched.pending.set(requestId, waiters);
      // Soon, but not once per command: a burst of commands shares the readings.
      this.schedule(room, watched, this.interval(room, watched) / 2);
    });
  }

  /** Resolves true once the agent shows it received a packet with any of `requestIds`, false after `timeoutMs`. */
  awaitReceipt(room: string, requestIds: string[], timeoutMs: number): Promise<boolean> {
    const watched = this.watch(room);
    return new Promise((resolve) => {
      const waiter = {
        requestIds,
        finish: (received: boolean) => {
          clearTimeout(timer);
          watched.receipts.delete(waiter);
          resolve(received);
        },
      };
      const timer = setTimeout(() => waiter.finish(false), timeoutMs);
      watched.receipts.add(waiter);
      this.schedule(room, watched, this.interval(room, watched) / 2);
    });
  }

  /** True when the room's agent, as last read, has acknowledged receiving a packet. */
  agentHearsPackets(room: string): boolean {
    return this.rooms.get(room)?.agentHearsPackets ?? false;
  }

  /** Whether a reading found the room's agent in it within the last `ms`. */
  agentSeenWithin(room: string, ms: number): boolean {
    const seenAt = this.rooms.get(room)?.agentSeenAt;
    return seenAt !== undefined && performance.now() - seenAt <= ms;
  }

  /** True while a confirmation of the room's is awaited. */
  awaiting(room: string): boolean {
    return (this.rooms.get(room)?.pending.size ?? 0) > 0;
  }

  watch(room: string, { readNow = true } = {}): Watched {
    let watched = this.rooms.get(room);
    if (!watched) {
      watched = { pending: new Map(), receipts: new Set(), polling: false };
      this.rooms.set(room, watched);
      this.options.onRoomsChanged?.(this.rooms.size);
      this.schedule(room, watched, readNow ? 0 : this.interval(room, watched));
    }
    return watched;
  }

  /** A view of the room pushed by its agent: handled as a reading, and the next reading put off. */
  observe(room: string, view: RoomView): void {
    if (this.stopped) return;
    const known = this.rooms.has(room);
    if (!known && !(this.options.keep?.(room, view.agent !== undefined) ?? view.agent !== undefined)) return;
    const watched = this.watch(room, { readNow: false });
    this.apply(room, watched, view, performance.now());
  }

  /** Reads the room now: something happened that a reading must confirm (its agent left). */
  refresh(room: string): void {
    const watched = this.watch(room);
    if (watched.polling) watched.readAgain = true;
    else this.schedule(room, watched, 0);
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.rooms.values()) {
      clearTimeout(w.timer);
      for (const waiters of w.pending.values()) for (const finish of waiters) finish(undefined);
      for (const waiter of w.receipts) waiter.finish(false);
    }
    this.rooms.clear();
  }

  /** Reads the room in `delayMs`, unless a reading is already due sooner. */
  private schedule(room: string, watched: Watched, delayMs: number): void {
    if (this.stopped || watched.polling) return;
    const dueAt = Date.now() + delayMs;
    if (watched.timer && (watched.dueAt ?? Infinity) <= dueAt) return;
    clearTimeout(watched.timer);
    watched.dueAt = dueAt;
    watched.timer = setTimeout(() => {
      watched.timer = undefined;
      void this.poll(room, watched);
    }, delayMs);
  }

  private async poll(room: string, watched: Watched): Promise<void> {
    watched.polling = true;
    let view: RoomView | undefined;
    const readAt = performance.now();
    try {
      view = await this.options.read(room);
    } catch (err) {
      this.options.log.warn({ room, err: (err as Error).message }, 'could not read the room state');
    } finally {
      watched.polling = false;
    }
    if (this.stopped) return;
    if (watched.readAgain) {
      watched.readAgain = false;
      return this.schedule(room, watched, 0);
    }
    if (view) this.apply(room, watched, view, readAt);
    else this.schedule(room, watched, this.interval(room, watched));
  }

  /** Settles what the view answers, mirrors its state, and schedules the next reading (or forgets the room). */
  private apply(room: string, watched: Watched, view: RoomView, seenAt: number): void {
    const agent = view.agent;
    watched.agentHearsPackets = (agent?.received.length ?? 0) > 0;
    watched.agentSeenAt = agent ? seenAt : undefined;
    if (agent) this.settleReceipts(watched, agent);
    for (const result of agent?.results ?? []) {
      const waiters = result.request_id ? watched.pending.get(result.request_id) : undefined;
      for (const finish of waiters ?? []) finish(result);
    }
    const state = agent ? agent.state : STOPPED_NO_AGENT;
    const json = JSON.stringify({ ...state, updated_at: undefined });
    if (json !== watched.lastState) {
      watched.lastState = json;
      this.options.onState(room, state);
    }
    this.options.reconcile?.(room, view);
    const keep = this.options.keep ?? ((_room: string, hasAgent: boolean) => hasAgent);
    const busy = watched.pending.size > 0 || watched.receipts.size > 0;
    if (!busy && !keep(room, agent !== undefined)) {
      clearTimeout(watched.timer);
      watched.timer = undefined;
      this.rooms.delete(room);
      this.options.onRoomsChanged?.(this.rooms.size);
      return;
    }
    // A pushed view puts the next reading off: `schedule` only ever brings a reading forward.
    if (!watched.polling) {
      clearTimeout(watched.timer);
      watched.timer = undefined;
    }
    this.schedule(room, watched, this.interval(room, watched));
  }

  /** Time to the next reading of the room, as things stand. */
  private interval(room: string, watched: Watched): number {
    const busy = watched.pending.size > 0 || watched.receipts.size > 0;
    const reported = this.options.reportedMs;
    if (reported && this.options.reporting?.(room)) return busy ? reported.busy : reported.idle;
    return busy ? this.options.busyMs : this.options.idleMs;
  }

  /** A packet counts as received once any of its commands is listed as received or confirmed. */
  private settleReceipts(watched: Watched, agent: NonNullable<RoomView['agent']>): void {
    if (watched.receipts.size === 0) return;
    const seen = new Set([...agent.received, ...agent.results.map((r) => r.request_id)]);
    for (const waiter of watched.receipts) if (waiter.requestIds.some((id) => seen.has(id))) waiter.finish(true);
  }
}
