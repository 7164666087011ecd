/**
 * Brings rooms back to what they should play (desiredStates.ts): a room whose agent crashed, left,
 * lost its track, or whose worker died or is stopping. Owns when each room was last restored,
 * since when its agent has had no track, and which agents are being replaced; delivers through
 * the room's queue (roomDelivery.ts), so a restore never overtakes the room's commands.
 */
import type { Logger } from '../src/log.js';
import { encodeJson } from '../src/protocol/messages.js';
import type { DesiredStates } from './desiredStates.js';
import type { AgentDelivery, RoomDelivery } from './roomDelivery.js';
import type { RoomView } from './roomAgents.js';
import type { RoomWatcher } from './roomWatcher.js';
import type { RoomAgent, WorkerDirectory } from './workerDirectory.js';

/** At most one restoring delivery per room in this long. */
const RECONCILE_INTERVAL_MS = 5_000;
/**
 * A playing agent publishes its track before its first frame, so one seen playing without it this
 * long has lost it: after a LiveKit restart the SDK can rejoin the new room yet fail to republish.
 */
const TRACKLESS_AGENT_MS = 10_000;

export interface RoomRestorerOptions {
  agents: AgentDelivery;
  delivery: RoomDelivery;
  desired: DesiredStates;
  watcher: RoomWatcher;
  workers: WorkerDirectory;
  /** Whether this replica owns the room (replicas.ts). */
  owns: (room: string) => boolean;
  agentJoinTimeoutMs: number;
  log: Logger;
}

export class RoomRestorer {
  private readonly lastRestore = new Map<string, number>();
  /** When each room's agent was first seen without its track (rooms whose agent has it: absent). */
  private readonly tracklessSince = new Map<string, number>();
  /** Agents of stopping workers whose rooms are being handed over. */
  private readonly handingOver = new Set<string>();

  constructor(private readonly o: RoomRestorerOptions) {}

  /**
   * Restores a room whose music should be playing but is not: its agent crashed or left, or the
   * LiveKit server lost the room. Only while someone listens, never while a command of the room is
   * being delivered or awaits a present agent's confirmation, and at most every
   * RECONCILE_INTERVAL_MS. The start goes again with its original request_id, so an agent that did
   * apply it only confirms it again.
   */
  reconcile(room: string, view: RoomView): void {
    const { delivery, watcher } = this.o;
    if (!view.agent) this.o.workers.forget(room);
    if (this.removedTracklessAgent(room, view)) return;
    // Its agent is gone with commands unconfirmed: they go again first (and the start after them).
    if (!view.agent && this.o.owns(room) && delivery.redeliverUnconfirmed(room)) return;
    const start = this.o.desired.shouldPlay(room);
    // A command awaiting its confirmation from a present agent is in flight; from an agent that is
    // gone, it never will be confirmed unless the room is restored.
    if (!start || !this.o.owns(room) || view.listeners === 0 || delivery.busy(room) || (view.agent && watcher.awaiting(room))) return;
    const agent = view.agent;
    const lost = !agent || (agent.state.state === 'stopped' && !agent.results.some((r) => r.request_id === start.request_id));
    if (!lost || Date.now() - (this.lastRestore.get(room) ?? 0) < RECONCILE_INTERVAL_MS) return;
    this.lastRestore.set(room, Date.now());
    const log = this.o.log.child({ room, session_id: room, request_id: start.request_id });
    log.warn({ agent: agent ? 'stopped' : 'absent' }, 'room is not playing what it should: restoring it');
    delivery.inOrder(room, async () => {
      try {
        await delivery.deliver(room, start, { replaceDispatch: !agent });
        log.info('restoring start delivered');
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'could not restore the room yet');
      }
    });
  }

  /**
   * A worker went offline (its Last Will: killed, crashed, or cut off): LiveKit would keep its
   * agents in their rooms for ~21 s, and a new agent gives way to them. They are removed now, and
   * each room is read again, so that it is restored on a live worker at once.
   */
  workerGone(worker: string, orphans: RoomAgent[]): void {
    const mine = orphans.filter((a) => this.o.owns(a.room));
    if (mine.length === 0) return;
    this.o.log.warn({ worker, rooms: mine.length }, 'an agent worker went offline: removing its agents and restoring its rooms');
    for (const { room, identity } of mine) {
      // Ahead of the room's queue: its packets wait on an agent that is gone.
      this.o.agents
        .remove(room, identity)
        .catch((err: Error) => this.o.log.debug({ room, err: err.message }, "could not remove the dead worker's agent (gone already?)"))
        .finally(() => this.o.watcher.refresh(room));
    }
  }

  /**
   * A worker is stopping (SIGTERM): each of its rooms that should play gets a new agent on another
   * worker while the old one plays on, and the start again (same request_id). The old agent leaves
   * once the new one plays: the listener hears at most the new agent's start.
   */
  workerDraining(worker: string): void {
    const { delivery, desired, agents } = this.o;
    for (const { room, identity } of this.o.workers.roomsOf(worker)) {
      const start = desired.shouldPlay(room);
      if (!this.o.owns(room) || !start || this.handingOver.has(identity)) continue;
      this.handingOver.add(identity);
      const log = this.o.log.child({ room, session_id: room, request_id: start.request_id, agent: identity });
      log.info({ worker }, "the room's worker is stopping: bringing in another agent");
      delivery.inOrder(room, async () => {
        try {
          await agents.ensureAgent(room, this.o.agentJoinTimeoutMs, { alongside: identity });
          await agents.sendData(room, encodeJson(start));
          log.info('room handed over: start delivered to the new agent');
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'could not hand the room over; it is restored once its agent has left');
        } finally {
          this.handingOver.delete(identity);
        }
      });
    }
  }

  /**
   * An agent that plays to nobody still looks present and playing: remove it from the room, so
   * that the room counts as lost and is restored with a fresh agent. True when it was removed.
   * A paused or stopped agent has no track on purpose (it unpublishes when idle); one that says
   * nothing of its state is not a working Roomcast agent either. Only LiveKit's own view of the
   * tracks counts: a view from the agent's report does not say (`publishing` undefined).
   */
  private removedTracklessAgent(room: string, view: RoomView): boolean {
    const agent = view.agent;
    if (agent && agent.publishing === undefined) return false;
    const shouldPublish = agent !== undefined && (agent.state.state === 'playing' || agent.state.state === undefined);
    if (!agent || agent.publishing || !shouldPublish || !this.o.owns(room)) {
      this.tracklessSince.delete(room);
      return false;
    }
    const since = this.tracklessSince.get(room) ?? Date.now();
    this.tracklessSince.set(room, since);
    if (Date.now() - since < TRACKLESS_AGENT_MS) return false;
    this.tracklessSince.delete(room);
    this.o.log.warn({ room, session_id: room, agent: agent.identity }, 'the agent has had no audio track for 10 s (LiveKit restart?): removing it for a fresh one');
    this.o.delivery.inOrder(room, () => this.o.agents.remove(room, agent.identity).catch((err: Error) => this.o.log.warn({ room, err: err.message }, 'could not remove the trackless agent')));
    return true;
  }
}
