/**
 * Delivery of commands to rooms' agents: per room, the queue of work in publish order, the
 * commands waiting to travel together in the room's next data packet, and the commands delivered
 * but not confirmed yet. Owns those three; makes sure a room has an agent (dispatching one if need
 * be), sends each packet until the agent shows it has it, answers each command `accepted`, then
 * `done` (or an error) once the agent confirms, and delivers the unconfirmed ones again, in their
 * order, to the next agent when the one that had them leaves.
 */
import type { Logger } from '../src/log.js';
import type { Command } from '../src/protocol/commands.js';
import { CONFIRMATION_TYPE, encodeJson, MAX_PACKET_BYTES, NO_MUSIC, type Confirmation, type ErrorCode, type Reply } from '../src/protocol/messages.js';
import type { DesiredState } from '../src/protocol/desired.js';
import type { DesiredStates } from './desiredStates.js';
import { NoAgentError, NoCapacityError, type RoomView } from './roomAgents.js';
import type { Capacity } from './workerDirectory.js';
import { STOPPED_NO_AGENT, type RoomWatcher } from './roomWatcher.js';

/** What delivery needs from LiveKit (RoomAgents in production). */
export interface AgentDelivery {
  ensureAgent(room: string, timeoutMs: number, options?: { replaceDispatch?: boolean; alongside?: string }): Promise<'present' | 'dispatched'>;
  sendData(room: string, payload: Uint8Array): Promise<void>;
  roomView(room: string): Promise<RoomView>;
  remove(room: string, identity: string): Promise<void>;
}

/** A command on its way to the room's agent, with what to tell the app about it. */
export interface Outgoing {
  command: Command & { request_id: string };
  desired: DesiredState | undefined;
  reply: (r: Omit<Reply, 'type' | 'session_id'>) => void;
  fail: (code: ErrorCode, reason: string) => void;
}

export interface RoomDeliveryOptions {
  agents: AgentDelivery;
  watcher: RoomWatcher;
  desired: DesiredStates;
  /** Whether the room has an agent without asking LiveKit (a fresh reading, or its reports). */
  agentKnown: (room: string) => boolean;
  agentJoinTimeoutMs: number;
  resultTimeoutMs: number;
  /** Whether any agent worker has room for another room (workerDirectory.ts); absent: unknown. */
  capacity?: () => Capacity;
  log: Logger;
}

/**
 * When every worker said it is full, a room without an agent gets this long for a dispatch to
 * prove otherwise (a worker that does not report over MQTT may have room) before `no_capacity`.
 */
export const NO_CAPACITY_WAIT_MS = 3_000;

/**
 * How long to wait for the agent's receipt of a packet before sending it again, each time; then
 * the commands' confirmations decide. Generous: on a saturated host an agent's timers run seconds late.
 */
const RECEIPT_WAITS_MS = [2_000, 4_000, 8_000];

export class RoomDelivery {
  private readonly queues = new Map<string, Promise<void>>();
  /** Per room, the commands that will go in the next packet (collected while one is being sent). */
  private readonly outbox = new Map<string, Outgoing[]>();
  /** Per room, the commands delivered and not confirmed yet, in delivery order. */
  private readonly unconfirmed = new Map<string, Array<Command & { request_id: string }>>();
  /** Rooms whose unconfirmed commands are being delivered again. */
  private readonly redelivering = new Set<string>();

  constructor(private readonly o: RoomDeliveryOptions) {}

  /**
   * Queues a command for the room's next packet. While one packet is being delivered, the
   * commands that arrive wait together and then travel as one: two server API calls per packet
   * rather than per command, in the order they arrived.
   */
  queueCommand(room: string, outgoing: Outgoing): void {
    const waiting = this.outbox.get(room);
    if (waiting) {
      waiting.push(outgoing);
      return;
    }
    const batch = [outgoing];
    this.outbox.set(room, batch);
    this.inOrder(room, async () => {
      this.outbox.delete(room);
      for (const packet of packets(batch)) await this.deliverPacket(room, packet);
    });
  }

  /** Runs `task` after every earlier task of the same room. */
  inOrder(room: string, task: () => Promise<void>): void {
    const tail = (this.queues.get(room) ?? Promise.resolve()).then(task);
    this.queues.set(room, tail);
    void tail.finally(() => {
      if (this.queues.get(room) === tail) this.queues.delete(room);
    });
  }

  /** True while work of the room is queued or under way. */
  busy(room: string): boolean {
    return this.queues.has(room);
  }

  /** Resolves once every room's queued work is done. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.queues.values());
  }

  /** One data packet: a command, or several of the room's in order. `present`: the room was just read and has an agent. */
  async deliver(room: string, command: Command | Command[], options: { replaceDispatch?: boolean; present?: boolean } = {}): Promise<'present' | 'dispatched'> {
    const payload = encodeJson(command);
    if (!options.replaceDispatch && (options.present || this.o.agentKnown(room))) {
      try {
        await this.o.agents.sendData(room, payload);
        return 'present';
      } catch {
        // The room may have closed since: the full path finds out and dispatches if need be.
      }
    }
    const how = await this.ensureAgent(room, options);
    await this.o.agents.sendData(room, payload);
    return how;
  }

  private async ensureAgent(room: string, options: { replaceDispatch?: boolean }): Promise<'present' | 'dispatched'> {
    if (this.o.capacity?.() !== 'none') return this.o.agents.ensureAgent(room, this.o.agentJoinTimeoutMs, options);
    try {
      return await this.o.agents.ensureAgent(room, Math.min(NO_CAPACITY_WAIT_MS, this.o.agentJoinTimeoutMs), options);
    } catch (err) {
      if (!(err instanceof NoAgentError)) throw err;
      throw new NoCapacityError('every agent worker is at capacity: no room can be started now; it starts when one has room again and someone listens (send stop to withdraw)');
    }
  }

  private async deliverPacket(room: string, batch: Outgoing[]): Promise<void> {
    const { watcher, log } = this.o;
    const desired = batch.findLast((o) => o.desired)?.desired;
    if (desired) await this.o.desired.save(room, desired);
    const agent = await this.answerWithoutAgent(room, batch);
    if (agent === 'answered') return;
    const commands = batch.map((o) => o.command);
    const packet = commands.length === 1 ? (commands[0] as Command) : commands;
    // Until the room's agent has shown it hears packets, the next packet waits for this one's
    // receipt; after that they flow, and one that goes missing is still sent again.
    const proven = watcher.agentHearsPackets(room);
    let how: 'present' | 'dispatched';
    try {
      how = await this.deliver(room, packet, { present: agent === 'present' });
      const received = this.resendUntilReceived(
        room,
        packet,
        commands.map((c) => c.request_id),
      );
      if (proven && how === 'present') received.catch((err: Error) => log.warn({ room, session_id: room, err: err.message }, 'could not send a packet again'));
      else await received;
    } catch (err) {
      const code: ErrorCode = err instanceof NoCapacityError ? 'no_capacity' : err instanceof NoAgentError ? 'no_agent' : 'delivery_failed';
      if (code === 'no_capacity') log.warn({ room, session_id: room, request_ids: batch.map((o) => o.command.request_id) }, 'refused: every agent worker is at capacity');
      for (const o of batch) o.fail(code, (err as Error).message);
      return;
    }
    // One line per packet: under load, a line (and a redaction pass) per command costs the bridge
    // more than delivering it.
    const [first] = batch;
    if (batch.length === 1 && first) log.info({ room, session_id: room, request_id: first.command.request_id, command: first.command.type, agent: how }, 'command delivered');
    else log.info({ room, session_id: room, request_ids: batch.map((o) => o.command.request_id), commands: batch.map((o) => o.command.type), agent: how }, 'commands delivered');
    const timeoutMs = this.o.resultTimeoutMs;
    for (const { command, reply, fail } of batch) {
      reply({ command: command.type, ok: true, status: 'accepted', message: `${command.type} delivered to the room's agent`, request_id: command.request_id });
      this.track(room, command);
      // Not awaited: the next packet of the room need not wait for this one's confirmations.
      void watcher.awaitResult(room, command.request_id, timeoutMs).then((result) => {
        this.untrack(room, command.request_id);
        if (!result) return fail('no_confirmation', `the agent did not confirm ${command.type} within ${timeoutMs} ms`);
        log.debug({ room, session_id: room, request_id: command.request_id, command: command.type, ok: result.ok, message: result.message }, 'command confirmed');
        finish({ command, reply }, result);
      });
    }
  }

  /**
   * The room has no agent any more (disconnected by LiveKit, removed, its worker dead) while
   * commands it had accepted are unconfirmed: once a fresh reading agrees, a new agent gets them
   * again, in their order, then the room's desired start if they do not include it. The agent
   * applies a request_id once, so a command the old agent did apply is only confirmed again, and
   * each still has its one waiter for `done`. True when a redelivery was queued.
   */
  redeliverUnconfirmed(room: string): boolean {
    if (!this.unconfirmed.get(room)?.length || this.redelivering.has(room)) return false;
    this.redelivering.add(room);
    this.inOrder(room, async () => {
      const log = this.o.log.child({ room, session_id: room });
      try {
        if ((await this.o.agents.roomView(room)).agent) return;
        const commands: Command[] = [...(this.unconfirmed.get(room) ?? [])];
        if (commands.length === 0) return;
        const start = this.o.desired.shouldPlay(room);
        if (start && !commands.some((c) => c.request_id === start.request_id)) commands.push(start);
        log.warn({ request_ids: commands.map((c) => c.request_id), commands: commands.map((c) => c.type) }, "the room's agent left with commands unconfirmed: delivering them again to a new agent");
        for (const packet of packetsOf(commands, (c) => c)) await this.deliver(room, packet.length === 1 ? (packet[0] as Command) : packet);
        log.info({ request_ids: commands.map((c) => c.request_id) }, 'unconfirmed commands delivered again');
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'could not deliver the unconfirmed commands again yet');
      } finally {
        this.redelivering.delete(room);
      }
    });
    return true;
  }

  private track(room: string, command: Command & { request_id: string }): void {
    const list = this.unconfirmed.get(room) ?? [];
    if (!list.some((c) => c.request_id === command.request_id)) list.push(command);
    this.unconfirmed.set(room, list);
  }

  private untrack(room: string, requestId: string): void {
    const list = this.unconfirmed.get(room)?.filter((c) => c.request_id !== requestId);
    if (list?.length) this.unconfirmed.set(room, list);
    else this.unconfirmed.delete(room);
  }

  /**
   * A room without an agent has no music: commands that only act on music (stop, skip, pause,
   * status...) are answered as an agent would answer them, instead of dispatching an agent just to
   * say so. 'answered' when the whole packet was answered that way; 'present' when the room was
   * read for it and has an agent (no need to read it again to deliver).
   */
  private async answerWithoutAgent(room: string, batch: Outgoing[]): Promise<'answered' | 'present' | undefined> {
    const answers = batch.map((o) => withoutMusic(o.command));
    if (answers.some((a) => a === undefined) || this.o.agentKnown(room)) return undefined;
    try {
      if ((await this.o.agents.roomView(room)).agent) return 'present';
    } catch {
      return undefined; // the usual path reports what is wrong
    }
    this.o.log.info({ room, session_id: room, request_ids: batch.map((o) => o.command.request_id), commands: batch.map((o) => o.command.type) }, 'no music in the room: answered without an agent');
    batch.forEach((o, i) => finish(o, answers[i] as Confirmation));
    return 'answered';
  }

  /**
   * Sends a packet again until the agent shows it has it (its receipts): LiveKit drops server data
   * it cannot hand to a participant without telling the sender (seen right after an agent joined,
   * under load). The agent applies a request_id once, so sending again a packet whose receipt was
   * only late is harmless.
   */
  private async resendUntilReceived(room: string, packet: Command | Command[], requestIds: string[]): Promise<void> {
    for (const [sends, waitMs] of RECEIPT_WAITS_MS.map((ms, i) => [i + 1, ms] as const)) {
      if (await this.o.watcher.awaitReceipt(room, requestIds, waitMs)) return;
      const log = this.o.log.child({ room, session_id: room, request_ids: requestIds, sends });
      if (sends === RECEIPT_WAITS_MS.length) return log.warn('the agent never acknowledged a packet; its commands are confirmed or time out as usual');
      log.warn('the agent has not acknowledged a packet: sending it again');
      await this.deliver(room, packet);
    }
  }
}

/** Replies `done`, or an error, with what the agent (or the bridge for it) confirmed. */
function finish({ command, reply }: Pick<Outgoing, 'command' | 'reply'>, result: Confirmation): void {
  if (result.ok) reply({ command: command.type, ok: true, status: 'done', message: result.message, request_id: command.request_id, result });
  else reply({ command: command.type, ok: false, status: 'error', message: result.message, request_id: command.request_id, error: { code: 'command_failed', reason: result.message }, result });
}

/**
 * What an agent confirms for `command` when no music plays (src/sources/roomPlayer.ts), or
 * undefined for the commands that start music or set up a room before it plays (start,
 * play_music, set_volume, set_ducking): those need an agent.
 */
export function withoutMusic(command: Command & { request_id: string }): Confirmation | undefined {
  const confirm = (ok: boolean, message: string, extra: Partial<Confirmation> = {}): Confirmation => ({ type: CONFIRMATION_TYPE[command.type], ok, message, request_id: command.request_id, ...extra });
  switch (command.type) {
    case 'stop_continuous_music':
      return confirm(true, NO_MUSIC.notActive);
    case 'get_music_status':
      return confirm(true, 'Music is stopped', { status: STOPPED_NO_AGENT });
    case 'skip_music':
    case 'pause_music':
    case 'resume_music':
    case 'previous_music':
    case 'enqueue_music':
      return confirm(false, NO_MUSIC.notPlaying);
    case 'set_music_prompts':
    case 'set_music_config':
      return confirm(false, NO_MUSIC.lyriaOnly(command.type));
    default:
      return undefined;
  }
}

/** Splits a room's queued commands into packets of at most MAX_PACKET_BYTES, in order. */
function packets(batch: Outgoing[]): Outgoing[][] {
  return packetsOf(batch, (o) => o.command);
}

function packetsOf<T>(items: T[], commandOf: (item: T) => Command): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 2;
  for (const o of items) {
    const size = Buffer.byteLength(JSON.stringify(commandOf(o))) + 1;
    if (current.length > 0 && bytes + size > MAX_PACKET_BYTES) {
      out.push(current);
      [current, bytes] = [[], 2];
    }
    current.push(o);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
