/**
 * The bridge: MQTT commands in, LiveKit data packets out. Each command is validated, the room is
 * given an agent if it has none, and the command is delivered; every command gets a reply, and a
 * second one once the agent confirms it. Commands for one room are delivered in the order they
 * arrived. Commands that change what a room should play first update its desired state (retained
 * on the broker), from which any bridge restores a room that lost its music. With several
 * replicas, each room has one owner (see replicas.ts).
 */
import { randomUUID } from 'node:crypto';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { BridgeConfig } from '../config.js';
import type { Logger } from '../log.js';
import { COMMAND_TYPES, parseCommand, peekCommand, sessionIdSchema, type Command, type CommandType } from '../protocol/commands.js';
import type { BridgeMetrics } from './metrics.js';
import { BRIDGE_READ_INTERVAL_MS, CONFIRMATION_TYPE, encodeJson, MAX_PACKET_BYTES, NO_MUSIC, type Confirmation, type ErrorCode, type Reply } from '../protocol/messages.js';
import { Topics } from '../protocol/topics.js';
import { NoAgentError, type RoomView } from './roomAgents.js';
import { nextDesired, type DesiredState } from '../protocol/desired.js';
import { RoomWatcher, STOPPED_NO_AGENT } from './roomWatcher.js';
import { Presence } from './presence.js';
import { SessionRateLimit } from './rateLimit.js';
import { WorkerDirectory } from './workerDirectory.js';
import { parseReport, parseWorkerPresence } from '../protocol/agentReports.js';

/** What the bridge needs from LiveKit (RoomAgents in production). */
export interface AgentDelivery {
  ensureAgent(room: string, timeoutMs: number, options?: { replaceDispatch?: boolean; alongside?: string }): Promise<'present' | 'dispatched'>;
  send(room: string, payload: Uint8Array): Promise<void>;
  roomView(room: string): Promise<RoomView>;
  remove(room: string, identity: string): Promise<void>;
}

/**
 * How long to wait for the agent's receipt of a packet before sending it again, each time; then
 * the commands' confirmations decide. Generous: on a saturated host an agent's timers run seconds late.
 */
const RECEIPT_WAITS_MS = [2_000, 4_000, 8_000];
const SESSION_EXPIRY_S = 24 * 3600;
/** At most one restoring delivery per room in this long. */
const RECONCILE_INTERVAL_MS = 5_000;
/**
 * A playing agent publishes its track before its first frame, so one seen playing without it this
 * long has lost it: after a LiveKit restart the SDK can rejoin the new room yet fail to republish.
 */
const TRACKLESS_AGENT_MS = 10_000;
/**
 * A room whose agent the watcher saw this recently gets its packet without asking LiveKit again
 * (a packet lost to an agent that left since is sent again, see resendUntilReceived).
 */
const AGENT_SEEN_FRESH_MS = 1_000;
/** While a confirmation is awaited from an agent that reports over MQTT, LiveKit is still read this often (in case a report is lost). */
const REPORTED_BUSY_READ_MS = 1_000;
/** A desired state older than this is no longer restored. */
const DESIRED_MAX_AGE_MS = 24 * 3600 * 1000;
/** Each replica renews its presence this often; one unheard for PEER_STALE_MS is out. */
const PRESENCE_HEARTBEAT_MS = 5_000;
const PEER_STALE_MS = 3 * PRESENCE_HEARTBEAT_MS + 1_000;
/** Commands of rooms owned by another replica are kept this long, to replay if it dies. */
const TAKEOVER_WINDOW_MS = 10_000;
const TAKEOVER_MAX_PER_ROOM = 64;

/** A command on its way to the room's agent, with what to tell the app about it. */
interface Outgoing {
  command: Command & { request_id: string };
  desired: DesiredState | undefined;
  reply: (r: Omit<Reply, 'type' | 'session_id'>) => void;
  fail: (code: ErrorCode, reason: string) => void;
}

interface HeardCommand {
  at: number;
  payload: Buffer;
  packet: IPublishPacket;
}

export class Bridge {
  private client: MqttClient | undefined;
  private readonly topics: Topics;
  private readonly roomQueues = new Map<string, Promise<void>>();
  /** Per room, the commands that will go in the next packet (collected while one is being sent). */
  private readonly outbox = new Map<string, Outgoing[]>();
  private readonly watcher: RoomWatcher;
  private readonly rateLimit: SessionRateLimit;
  private readonly desired = new Map<string, DesiredState>();
  private readonly lastRestore = new Map<string, number>();
  /** When each room's agent was first seen without its track (rooms whose agent has it: absent). */
  private readonly tracklessSince = new Map<string, number>();
  private presence: Presence | undefined;
  /** Recent commands of rooms this replica does not own, oldest first. */
  private readonly othersCommands = new Map<string, HeardCommand[]>();
  private heartbeat: NodeJS.Timeout | undefined;
  /** Which worker plays each room, from the agents' MQTT reports. */
  private readonly workers = new WorkerDirectory();
  /** Agents of stopping workers whose rooms are being handed over. */
  private readonly handingOver = new Set<string>();

  constructor(
    private readonly config: BridgeConfig,
    private readonly delivery: AgentDelivery,
    private readonly log: Logger,
    private readonly metrics: BridgeMetrics,
  ) {
    this.topics = new Topics(config.mqtt.baseTopic);
    this.rateLimit = new SessionRateLimit(config.rateLimit);
    this.watcher = new RoomWatcher({
      read: (room) => delivery.roomView(room),
      reconcile: (room, view) => this.reconcile(room, view),
      keep: (room, hasAgent) => this.owns(room) && (hasAgent || this.shouldPlay(room) !== undefined),
      onState: (room, state) => this.client?.publish(this.topics.state(room), JSON.stringify(state), { qos: 1, retain: true }),
      onRoomsChanged: (count) => metrics.roomsWatched.set(count),
      reporting: (room) => this.workers.reporting(room) !== undefined,
      log,
      idleMs: config.statePollMs,
      busyMs: BRIDGE_READ_INTERVAL_MS,
      reportedMs: { idle: config.stateCheckMs, busy: REPORTED_BUSY_READ_MS },
    });
  }

  async start(): Promise<void> {
    const { url, username, password, clientId, shareGroup } = this.config.mqtt;
    const id = clientId ?? `roomcast-bridge-${randomUUID().slice(0, 8)}`;
    const presence = new Presence(this.topics, id, PEER_STALE_MS, () => this.onReplicasChanged(), this.log);
    this.presence = presence;
    this.metrics.replicas.set(1);
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      clientId: id,
      username,
      password,
      // A fixed client id gets a persistent session: the broker keeps commands for the bridge
      // while it restarts. A random one would leave orphaned sessions behind, so it stays clean.
      clean: clientId === undefined,
      ...(clientId !== undefined ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
      will: presence.will,
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
    });
    this.client = client;
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    client.on('error', (err) => this.log.warn({ err: err.message }, 'mqtt error'));
    client.on('reconnect', () => this.log.info('mqtt reconnecting'));
    // After a reconnect too: a restarted broker may have lost the retained message.
    client.on('close', () => this.metrics.mqttConnected.set(0));
    client.on('connect', () => {
      this.metrics.mqttConnected.set(1);
      this.log.info('mqtt connected');
      presence.announce().catch((err: Error) => this.log.warn({ err: err.message }, 'could not announce the bridge online'));
    });
    // Replicas learn of each other first, so that no command is handled by a replica that does
    // not know yet that another one owns its room.
    await presence.join(client);
    // With a share group the broker hands each command to one replica (ordered per room only on
    // brokers that pick the replica by topic); without one, each replica hears all and keeps its own.
    const subscription = shareGroup ? `$share/${shareGroup}/${this.topics.allCommands}` : this.topics.allCommands;
    await client.subscribeAsync(subscription, { qos: 1 });
    // Every replica learns every room's desired state (retained), to restore it when needed, and
    // hears the agents: their reports and their workers' presence.
    await client.subscribeAsync([this.topics.allDesired, this.topics.allAgentReports, this.topics.allWorkerStates], { qos: 1 });
    this.metrics.mqttConnected.set(1);
    this.heartbeat = setInterval(() => {
      presence.heartbeat();
      this.forgetOldCommands();
      this.workers.sweep();
    }, PRESENCE_HEARTBEAT_MS);
    this.log.info({ subscription, clientId: id }, 'bridge ready');
  }

  /** Why the bridge cannot do its job right now, or undefined when it can. */
  unhealthy(): string | undefined {
    return this.client?.connected ? undefined : 'not connected to the MQTT broker';
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    await Promise.allSettled(this.roomQueues.values());
    this.watcher.stop();
    const client = this.client;
    if (!client) return;
    // A clean stop says so itself; the will covers the other kind.
    await this.presence?.leave();
    await client.endAsync();
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const desiredOf = this.topics.sessionIn(topic, 'desired');
    if (desiredOf !== undefined) return this.onDesired(desiredOf, payload);
    const reportOf = this.topics.sessionIn(topic, 'agent');
    if (reportOf !== undefined) return this.onAgentReport(reportOf, payload);
    const worker = this.topics.workerOf(topic);
    if (worker !== undefined) return this.onWorkerPresence(worker, payload);
    if (this.presence?.handle(topic, payload)) return;
    const session = this.topics.sessionOf(topic);
    if (session === undefined) return;
    if (!this.config.mqtt.shareGroup && !this.owns(session)) return this.keepOthersCommand(session, { at: Date.now(), payload, packet });
    this.onCommand(session, payload, packet);
  }

  /**
   * A command that did not come over MQTT (the listener page): handled like one, its replies also
   * published on the session's reply topic. Resolves with the final reply (done or an error).
   */
  submit(session: string, payload: Buffer): Promise<Reply> {
    return new Promise((resolve) => this.onCommand(session, payload, undefined, (r) => r.status !== 'accepted' && resolve(r)));
  }

  private onCommand(session: string, payload: Buffer, packet: IPublishPacket | undefined, onReply?: (reply: Reply) => void): void {
    const receivedAt = performance.now();
    const reply = (r: Omit<Reply, 'type' | 'session_id'>) => {
      this.count(r, (performance.now() - receivedAt) / 1000);
      const full: Reply = { type: 'reply', session_id: session, ...r };
      this.reply(session, packet, full);
      onReply?.(full);
    };
    const fail = (code: ErrorCode, reason: string, command?: string, requestId?: string) => {
      this.log.warn({ session_id: session, request_id: requestId, command, code, reason }, 'command rejected');
      reply({ command, ok: false, status: 'error', message: reason, request_id: requestId, error: { code, reason } });
    };

    const sessionCheck = sessionIdSchema.safeParse(session);
    if (!sessionCheck.success) return fail('invalid_command', `session id in the topic ${sessionCheck.error.issues[0]?.message}`);
    // Every payload counts, good or bad: parsing a flood is work too.
    const admission = this.rateLimit.take(session);
    if (!admission.ok) {
      const { perSecond, burst } = this.config.rateLimit;
      const reason = `more than ${perSecond} commands per second (bursts of ${burst}) from this session: refused, try again shortly`;
      // One log line a second for a flooding session, not one per command.
      if (admission.report) this.log.warn({ session_id: session, refused: admission.report, code: 'rate_limited' }, 'session over its rate limit: commands refused');
      const { type, requestId } = peekCommand(payload);
      return reply({ command: type, ok: false, status: 'error', message: reason, request_id: requestId, error: { code: 'rate_limited', reason } });
    }
    const parsed = parseCommand(payload);
    if (!parsed.ok) return fail('invalid_command', parsed.reason, parsed.type, parsed.requestId);
    const command = parsed.command;
    const requestId = command.request_id ?? randomUUID();
    if (command.session_id !== undefined && command.session_id !== session) {
      return fail('session_mismatch', `session_id "${command.session_id}" does not match the topic's "${session}"`, command.type, requestId);
    }
    const desired = nextDesired(this.desired.get(session), { ...command, request_id: requestId });
    if (desired) this.desired.set(session, desired);
    this.send(session, {
      command: { ...command, session_id: session, request_id: requestId },
      desired,
      reply,
      fail: (code, reason) => fail(code, reason, command.type, requestId),
    });
  }

  /**
   * Queues a command for the room's next packet. While one packet is being delivered, the
   * commands that arrive wait together and then travel as one: two server API calls per packet
   * rather than per command, in the order they arrived.
   */
  private send(room: string, outgoing: Outgoing): void {
    const waiting = this.outbox.get(room);
    if (waiting) {
      waiting.push(outgoing);
      return;
    }
    const batch = [outgoing];
    this.outbox.set(room, batch);
    this.enqueue(room, async () => {
      this.outbox.delete(room);
      for (const packet of packets(batch)) await this.deliverPacket(room, packet);
    });
  }

  private async deliverPacket(room: string, batch: Outgoing[]): Promise<void> {
    const desired = batch.findLast((o) => o.desired)?.desired;
    if (desired) await this.saveDesired(room, desired);
    const agent = await this.answerWithoutAgent(room, batch);
    if (agent === 'answered') return;
    const commands = batch.map((o) => o.command);
    const packet = commands.length === 1 ? (commands[0] as Command) : commands;
    // Until the room's agent has shown it hears packets, the next packet waits for this one's
    // receipt; after that they flow, and one that goes missing is still sent again.
    const proven = this.watcher.agentHearsPackets(room);
    let how: 'present' | 'dispatched';
    try {
      how = await this.deliver(room, packet, { present: agent === 'present' });
      const received = this.resendUntilReceived(room, packet, commands.map((c) => c.request_id));
      if (proven && how === 'present') received.catch((err: Error) => this.log.warn({ room, session_id: room, err: err.message }, 'could not send a packet again'));
      else await received;
    } catch (err) {
      const code: ErrorCode = err instanceof NoAgentError ? 'no_agent' : 'delivery_failed';
      for (const o of batch) o.fail(code, (err as Error).message);
      return;
    }
    // One line per packet: under load, a line (and a redaction pass) per command costs the bridge
    // more than delivering it.
    const [first] = batch;
    if (batch.length === 1 && first) this.log.info({ room, session_id: room, request_id: first.command.request_id, command: first.command.type, agent: how }, 'command delivered');
    else this.log.info({ room, session_id: room, request_ids: batch.map((o) => o.command.request_id), commands: batch.map((o) => o.command.type), agent: how }, 'commands delivered');
    for (const { command, reply, fail } of batch) {
      reply({ command: command.type, ok: true, status: 'accepted', message: `${command.type} delivered to the room's agent`, request_id: command.request_id });
      // Not awaited: the next packet of the room need not wait for this one's confirmations.
      void this.watcher.awaitResult(room, command.request_id, this.config.resultTimeoutMs).then((result) => {
        if (!result) return fail('no_confirmation', `the agent did not confirm ${command.type} within ${this.config.resultTimeoutMs} ms`);
        this.log.debug({ room, session_id: room, request_id: command.request_id, command: command.type, ok: result.ok, message: result.message }, 'command confirmed');
        finish({ command, reply }, result);
      });
    }
  }

  /**
   * A room without an agent has no music: commands that only act on music (stop, skip, pause,
   * status...) are answered as an agent would answer them, instead of dispatching an agent (a job
   * process) just to say so. 'answered' when the whole packet was answered that way; 'present'
   * when the room was read for it and has an agent (no need to read it again to deliver).
   */
  private async answerWithoutAgent(room: string, batch: Outgoing[]): Promise<'answered' | 'present' | undefined> {
    const answers = batch.map((o) => withoutMusic(o.command));
    if (answers.some((a) => a === undefined) || this.agentKnown(room)) return undefined;
    try {
      if ((await this.delivery.roomView(room)).agent) return 'present';
    } catch {
      return undefined; // the usual path reports what is wrong
    }
    this.log.info({ room, session_id: room, request_ids: batch.map((o) => o.command.request_id), commands: batch.map((o) => o.command.type) }, 'no music in the room: answered without an agent');
    batch.forEach((o, i) => finish(o, answers[i] as Confirmation));
    return 'answered';
  }

  private owns(room: string): boolean {
    return this.presence?.replicas.owns(room) ?? true;
  }

  /**
   * Rooms move between replicas. Those this one now owns are followed (and restored if they lost
   * their music), and the commands it heard for them in the last seconds are replayed in order:
   * the replica that owned them may have died before delivering them. Only commands with the app's
   * request_id are replayed, because the agent applies a request_id once whoever delivers it.
   */
  private onReplicasChanged(): void {
    const live = this.presence?.replicas.live() ?? [];
    this.log.info({ replicas: live }, 'bridge replicas changed');
    this.metrics.replicas.set(live.length);
    for (const room of this.desired.keys()) if (this.owns(room) && this.shouldPlay(room)) this.watcher.watch(room);
    for (const [room, heard] of this.othersCommands) {
      if (!this.owns(room)) continue;
      this.othersCommands.delete(room);
      const replay = heard.filter((c) => Date.now() - c.at <= TAKEOVER_WINDOW_MS && hasRequestId(c.payload));
      if (replay.length > 0) this.log.warn({ room, session_id: room, commands: replay.length }, 'took over a room: replaying its latest commands');
      for (const c of replay) this.onCommand(room, c.payload, c.packet);
    }
  }

  /**
   * A room's agent reported a change: the room's view without asking LiveKit. One that left (its
   * room failed, emptied or was handed over) gets the room read now, to restore it if need be.
   */
  private onAgentReport(room: string, payload: Buffer): void {
    const report = parseReport(payload);
    if (!report) return this.log.warn({ room }, 'ignored a malformed agent report');
    const change = this.workers.report(room, report);
    if (!this.owns(room)) return;
    if (report.present) {
      const { identity, state, results, received, listeners } = report;
      this.watcher.observe(room, { listeners, agent: { identity, state, results, received } });
    } else if (change === 'left') this.watcher.refresh(room);
  }

  /**
   * A worker went offline (its Last Will: killed, crashed, or cut off): LiveKit would keep its
   * agents in their rooms for ~21 s, and a new agent gives way to them. They are removed now, and
   * each room is read again, so that it is restored on a live worker at once.
   */
  private onWorkerPresence(worker: string, payload: Buffer): void {
    const presence = parseWorkerPresence(payload);
    if (!presence) return this.log.warn({ worker }, 'ignored a malformed worker presence');
    if (presence.state === 'draining') return this.handOverRoomsOf(worker);
    const orphans = this.workers.presence(worker, presence).filter((a) => this.owns(a.room));
    if (orphans.length === 0) return;
    this.log.warn({ worker, rooms: orphans.length }, 'an agent worker went offline: removing its agents and restoring its rooms');
    for (const { room, identity } of orphans) {
      // Ahead of the room's queue: its packets wait on an agent that is gone.
      this.delivery
        .remove(room, identity)
        .catch((err: Error) => this.log.debug({ room, err: err.message }, 'could not remove the dead worker\'s agent (gone already?)'))
        .finally(() => this.watcher.refresh(room));
    }
  }

  /**
   * A worker is stopping (SIGTERM): each of its rooms that should play gets a new agent on another
   * worker while the old one plays on, and the start again (same request_id). The old agent leaves
   * once the new one plays: the listener hears at most the new agent's start.
   */
  private handOverRoomsOf(worker: string): void {
    for (const { room, identity } of this.workers.roomsOf(worker)) {
      const start = this.shouldPlay(room);
      if (!this.owns(room) || !start || this.handingOver.has(identity)) continue;
      this.handingOver.add(identity);
      const log = this.log.child({ room, session_id: room, request_id: start.request_id, agent: identity });
      log.info({ worker }, "the room's worker is stopping: bringing in another agent");
      this.enqueue(room, async () => {
        try {
          await this.delivery.ensureAgent(room, this.config.agentJoinTimeoutMs, { alongside: identity });
          await this.delivery.send(room, encodeJson(start));
          log.info('room handed over: start delivered to the new agent');
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'could not hand the room over; it is restored once its agent has left');
        } finally {
          this.handingOver.delete(identity);
        }
      });
    }
  }

  private keepOthersCommand(room: string, command: HeardCommand): void {
    const heard = this.othersCommands.get(room) ?? [];
    heard.push(command);
    if (heard.length > TAKEOVER_MAX_PER_ROOM) heard.shift();
    this.othersCommands.set(room, heard);
  }

  private forgetOldCommands(): void {
    const oldest = Date.now() - TAKEOVER_WINDOW_MS;
    for (const [room, heard] of this.othersCommands) {
      while (heard.length > 0 && (heard[0] as HeardCommand).at < oldest) heard.shift();
      if (heard.length === 0) this.othersCommands.delete(room);
    }
  }

  private onDesired(session: string, payload: Buffer): void {
    try {
      const desired = JSON.parse(payload.toString()) as DesiredState;
      if (typeof desired.playing !== 'boolean') return;
      // Our own saves come back too, and one may be older than what this replica holds by then.
      if ((this.desired.get(session)?.updated_at ?? -Infinity) > desired.updated_at) return;
      this.desired.set(session, desired);
      if (this.owns(session) && this.shouldPlay(session)) this.watcher.watch(session);
    } catch {
      this.log.warn({ session_id: session }, 'ignored a malformed desired state');
    }
  }

  /** Retained on the broker before the command is delivered: it survives every other part. */
  private async saveDesired(session: string, desired: DesiredState): Promise<void> {
    await this.client?.publishAsync(this.topics.desired(session), JSON.stringify(desired), { qos: 1, retain: true }).catch((err: Error) => this.log.warn({ session_id: session, err: err.message }, 'could not save the desired state'));
  }

  /** The start command a room should be playing, if any. */
  private shouldPlay(room: string) {
    const desired = this.desired.get(room);
    if (!desired?.playing || !desired.start?.request_id || Date.now() - desired.updated_at > DESIRED_MAX_AGE_MS) return undefined;
    return desired.start;
  }

  /**
   * Restores a room whose music should be playing but is not: its agent crashed or left, or the
   * LiveKit server lost the room. Only while someone listens, never while a command of the room is
   * being delivered or awaits a present agent's confirmation, and at most every RECONCILE_INTERVAL_MS. The start goes again with its original
   * request_id, so an agent that did apply it only confirms it again.
   */
  private reconcile(room: string, view: RoomView): void {
    if (!view.agent) this.workers.forget(room);
    if (this.removedTracklessAgent(room, view)) return;
    const start = this.shouldPlay(room);
    // A command awaiting its confirmation from a present agent is in flight; from an agent that is
    // gone, it never will be confirmed unless the room is restored.
    if (!start || !this.owns(room) || view.listeners === 0 || this.roomQueues.has(room) || (view.agent && this.watcher.awaiting(room))) return;
    const agent = view.agent;
    const lost = !agent || (agent.state.state === 'stopped' && !agent.results.some((r) => r.request_id === start.request_id));
    if (!lost || Date.now() - (this.lastRestore.get(room) ?? 0) < RECONCILE_INTERVAL_MS) return;
    this.lastRestore.set(room, Date.now());
    const log = this.log.child({ room, session_id: room, request_id: start.request_id });
    log.warn({ agent: agent ? 'stopped' : 'absent' }, 'room is not playing what it should: restoring it');
    this.enqueue(room, async () => {
      try {
        await this.deliver(room, start, { replaceDispatch: !agent });
        log.info('restoring start delivered');
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'could not restore the room yet');
      }
    });
  }

  /**
   * An agent that plays to nobody still looks present and playing: remove it from the room, so
   * that the room counts as lost and is restored with a fresh agent. True when it was removed.
   * A paused or stopped agent has no track on purpose (it unpublishes when idle); one that says
   * nothing of its state is not a working Roomcast agent either.
   */
  private removedTracklessAgent(room: string, view: RoomView): boolean {
    const agent = view.agent;
    const shouldPublish = agent !== undefined && (agent.state.state === 'playing' || agent.state.state === undefined);
    // A report does not say (undefined): only LiveKit's own view of the tracks counts.
    if (!agent || agent.publishing !== false || !shouldPublish || !this.owns(room)) {
      if (agent && agent.publishing === undefined) return false;
      this.tracklessSince.delete(room);
      return false;
    }
    const since = this.tracklessSince.get(room) ?? Date.now();
    this.tracklessSince.set(room, since);
    if (Date.now() - since < TRACKLESS_AGENT_MS) return false;
    this.tracklessSince.delete(room);
    this.log.warn({ room, session_id: room, agent: agent.identity }, 'the agent has had no audio track for 10 s (LiveKit restart?): removing it for a fresh one');
    this.enqueue(room, () => this.delivery.remove(room, agent.identity).catch((err: Error) => this.log.warn({ room, err: err.message }, 'could not remove the trackless agent')));
    return true;
  }

  private count(reply: Omit<Reply, 'type' | 'session_id'>, seconds: number): void {
    // Only known types become label values: anything else would let clients grow the series.
    const command = COMMAND_TYPES.includes(reply.command as CommandType) ? (reply.command as string) : 'invalid';
    this.metrics.commands.inc({ command, outcome: reply.error?.code ?? reply.status });
    if (reply.status !== 'error') this.metrics.latency.observe({ command, stage: reply.status }, seconds);
  }

  /**
   * Sends a packet again until the agent shows it has it (its `roomcast.received` attribute):
   * LiveKit drops server data it cannot hand to a participant without telling the sender (seen
   * right after an agent joined, under load). The agent applies a request_id once, so sending
   * again a packet whose receipt was only late is harmless.
   */
  private async resendUntilReceived(room: string, packet: Command | Command[], requestIds: string[]): Promise<void> {
    for (const [sends, waitMs] of RECEIPT_WAITS_MS.map((ms, i) => [i + 1, ms] as const)) {
      if (await this.watcher.awaitReceipt(room, requestIds, waitMs)) return;
      const log = this.log.child({ room, session_id: room, request_ids: requestIds, sends });
      if (sends === RECEIPT_WAITS_MS.length) return log.warn('the agent never acknowledged a packet; its commands are confirmed or time out as usual');
      log.warn('the agent has not acknowledged a packet: sending it again');
      await this.deliver(room, packet);
    }
  }

  /** One data packet: a command, or several of the room's in order. `present`: the room was just read and has an agent. */
  private async deliver(room: string, command: Command | Command[], options: { replaceDispatch?: boolean; present?: boolean } = {}): Promise<'present' | 'dispatched'> {
    const payload = encodeJson(command);
    if (!options.replaceDispatch && (options.present || this.agentKnown(room))) {
      try {
        await this.delivery.send(room, payload);
        return 'present';
      } catch {
        // The room may have closed since: the full path finds out and dispatches if need be.
      }
    }
    const how = await this.delivery.ensureAgent(room, this.config.agentJoinTimeoutMs, options);
    await this.delivery.send(room, payload);
    return how;
  }

  /** Whether the room has an agent without asking LiveKit: one read just now, or one that reports and has not left. */
  private agentKnown(room: string): boolean {
    return this.watcher.agentSeenWithin(room, AGENT_SEEN_FRESH_MS) || this.workers.reporting(room) !== undefined;
  }

  /** Runs `task` after every earlier task of the same room. */
  private enqueue(room: string, task: () => Promise<void>): void {
    const tail = (this.roomQueues.get(room) ?? Promise.resolve()).then(task);
    this.roomQueues.set(room, tail);
    void tail.finally(() => {
      if (this.roomQueues.get(room) === tail) this.roomQueues.delete(room);
    });
  }

  private reply(session: string, request: IPublishPacket | undefined, reply: Reply): void {
    const client = this.client;
    if (!client) return;
    const body = JSON.stringify(reply);
    client.publish(this.topics.reply(session), body, { qos: 1 });
    const responseTopic = request?.properties?.responseTopic;
    if (responseTopic) {
      const correlationData = request?.properties?.correlationData;
      client.publish(responseTopic, body, { qos: 1, properties: correlationData ? { correlationData } : {} });
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
 * play_music, set_volume): those need an agent.
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
  const out: Outgoing[][] = [];
  let current: Outgoing[] = [];
  let bytes = 2;
  for (const o of batch) {
    const size = Buffer.byteLength(JSON.stringify(o.command)) + 1;
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

function hasRequestId(payload: Buffer): boolean {
  const parsed = parseCommand(payload);
  return parsed.ok && parsed.command.request_id !== undefined;
}
