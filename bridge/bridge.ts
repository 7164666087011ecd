/**
 * The bridge: MQTT commands in, LiveKit data packets out. Owns the MQTT side: the connection, the
 * intake of commands (validation, the per-session rate limit) and the replies; hands each valid
 * command to its room's delivery (roomDelivery.ts), and routes what the broker says about rooms
 * and workers to the parts that own it: desired states (desiredStates.ts), the agents' reports
 * (roomWatcher.ts, workerDirectory.ts), restores (roomRestorer.ts), other replicas' commands
 * (takeover.ts). Every command gets a reply, and a second one once the agent confirms it. With
 * several replicas, each room has one owner (see replicas.ts).
 */
import { randomUUID } from 'node:crypto';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { BridgeConfig } from '../src/config.js';
import type { Logger } from '../src/log.js';
import { COMMAND_TYPES, parseCommand, peekCommand, sessionIdSchema, type CommandType } from '../src/protocol/commands.js';
import { parseReport, parseWorkerPresence } from '../src/protocol/agentReports.js';
import { BRIDGE_READ_INTERVAL_MS, type ErrorCode, type Reply } from '../src/protocol/messages.js';
import { Topics } from '../src/protocol/topics.js';
import type { BridgeMetrics } from './metrics.js';
import { DesiredStates } from './desiredStates.js';
import { Presence } from './presence.js';
import { SessionRateLimit } from './rateLimit.js';
import { RoomDelivery, type AgentDelivery } from './roomDelivery.js';
import { RoomRestorer } from './roomRestorer.js';
import { RoomWatcher } from './roomWatcher.js';
import { Takeover } from './takeover.js';
import { WorkerDirectory } from './workerDirectory.js';
import { HomeAssistantDiscovery, type HomeAssistantOptions } from './homeAssistant.js';

const SESSION_EXPIRY_S = 24 * 3600;
/**
 * A room whose agent the watcher saw this recently gets its packet without asking LiveKit again
 * (a packet lost to an agent that left since is sent again, see roomDelivery.ts).
 */
const AGENT_SEEN_FRESH_MS = 1_000;
/** While a confirmation is awaited from an agent that reports over MQTT, LiveKit is still read this often (in case a report is lost). */
const REPORTED_BUSY_READ_MS = 1_000;
/** Each replica renews its presence this often; one unheard for PEER_STALE_MS is out. */
const PRESENCE_HEARTBEAT_MS = 5_000;
const PEER_STALE_MS = 3 * PRESENCE_HEARTBEAT_MS + 1_000;

/**
 * An mqtt.js error is a fault while the connection should be up. Once the bridge has ended it, the
 * broker may still deliver a message or two, and mqtt.js's acknowledgement of one then finds the
 * socket closed ("write after end", EPIPE): part of stopping.
 */
export function logMqttError(log: Logger, client: Pick<MqttClient, 'disconnecting'>, err: Error): void {
  log[client.disconnecting ? 'debug' : 'warn']({ err: err.message }, 'mqtt error');
}

export class Bridge {
  private client: MqttClient | undefined;
  private readonly topics: Topics;
  private readonly rateLimit: SessionRateLimit;
  private readonly watcher: RoomWatcher;
  private readonly desired: DesiredStates;
  private readonly delivery: RoomDelivery;
  private readonly restorer: RoomRestorer;
  private readonly takeover = new Takeover();
  /** Which worker plays each room, from the agents' MQTT reports. */
  private readonly workers = new WorkerDirectory();
  private presence: Presence | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly homeAssistant: HomeAssistantDiscovery | undefined;

  constructor(
    private readonly config: BridgeConfig,
    agents: AgentDelivery,
    private readonly log: Logger,
    private readonly metrics: BridgeMetrics,
    homeAssistant?: HomeAssistantOptions,
  ) {
    this.topics = new Topics(config.mqtt.baseTopic);
    this.homeAssistant = homeAssistant && new HomeAssistantDiscovery(this.topics, homeAssistant, async ({ topic, payload }) => this.client?.publishAsync(topic, payload, { qos: 1, retain: true }));
    this.rateLimit = new SessionRateLimit(config.rateLimit);
    this.desired = new DesiredStates(async (room, json) => this.client?.publishAsync(this.topics.desired(room), json, { qos: 1, retain: true }), log);
    this.watcher = new RoomWatcher({
      read: (room) => agents.roomView(room),
      reconcile: (room, view) => this.restorer.reconcile(room, view),
      keep: (room, hasAgent) => this.owns(room) && (hasAgent || this.desired.shouldPlay(room) !== undefined),
      onState: (room, state) => this.client?.publish(this.topics.state(room), JSON.stringify(state), { qos: 1, retain: true }),
      onRoomsChanged: (count) => metrics.roomsWatched.set(count),
      reporting: (room) => this.workers.reporting(room) !== undefined,
      log,
      idleMs: config.statePollMs,
      busyMs: BRIDGE_READ_INTERVAL_MS,
      reportedMs: { idle: config.stateCheckMs, busy: REPORTED_BUSY_READ_MS },
    });
    const { agentJoinTimeoutMs, resultTimeoutMs } = config;
    this.delivery = new RoomDelivery({
      agents,
      watcher: this.watcher,
      desired: this.desired,
      // A room read a moment ago, or whose agent reports and has not left: no need to ask LiveKit.
      agentKnown: (room) => this.watcher.agentSeenWithin(room, AGENT_SEEN_FRESH_MS) || this.workers.reporting(room) !== undefined,
      agentJoinTimeoutMs,
      resultTimeoutMs,
      capacity: () => this.workers.capacity(),
      log,
    });
    this.restorer = new RoomRestorer({
      agents,
      delivery: this.delivery,
      desired: this.desired,
      watcher: this.watcher,
      workers: this.workers,
      owns: (room) => this.owns(room),
      agentJoinTimeoutMs,
      log,
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
    client.on('error', (err) => logMqttError(this.log, client, err));
    client.on('reconnect', () => this.log.info('mqtt reconnecting'));
    // After a reconnect too: a restarted broker may have lost the retained message.
    client.on('close', () => this.metrics.mqttConnected.set(0));
    client.on('connect', () => {
      this.metrics.mqttConnected.set(1);
      this.log.info('mqtt connected');
      presence.announce().catch((err: Error) => this.log.warn({ err: err.message }, 'could not announce the bridge online'));
      // A broker that restarted without persistence lost the retained discovery too.
      if (this.client) this.announceToHomeAssistant();
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
    if (this.homeAssistant) {
      await client.subscribeAsync(this.homeAssistant.statusTopic, { qos: 1 });
      this.announceToHomeAssistant();
    }
    this.metrics.mqttConnected.set(1);
    this.heartbeat = setInterval(() => {
      presence.heartbeat();
      this.takeover.forgetOld();
      this.workers.sweep();
    }, PRESENCE_HEARTBEAT_MS);
    this.log.info({ subscription, clientId: id }, 'bridge ready');
  }

  private announceToHomeAssistant(): void {
    const homeAssistant = this.homeAssistant;
    if (!homeAssistant) return;
    homeAssistant
      .announce()
      .then((entities) => {
        this.log.info({ entities }, 'published Home Assistant discovery');
        // A room that never played has no retained state, and Home Assistant would show its
        // entities "unknown": one reading of each room publishes what it is (stopped, or its agent's state).
        for (const room of homeAssistant.rooms) if (this.owns(room)) this.watcher.refresh(room);
      })
      .catch((err: Error) => this.log.warn({ err: err.message }, 'could not publish Home Assistant discovery'));
  }

  /** Why the bridge cannot do its job right now, or undefined when it can. */
  unhealthy(): string | undefined {
    return this.client?.connected ? undefined : 'not connected to the MQTT broker';
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.delivery.settle();
    this.watcher.stop();
    const client = this.client;
    if (!client) return;
    // A clean stop says so itself; the will covers the other kind.
    await this.presence?.leave();
    await client.endAsync();
  }

  /**
   * A command that did not come over MQTT (the listener page): handled like one, its replies also
   * published on the session's reply topic. Resolves with the final reply (done or an error).
   */
  submit(session: string, payload: Buffer): Promise<Reply> {
    return new Promise((resolve) => this.onCommand(session, payload, undefined, (r) => r.status !== 'accepted' && resolve(r)));
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const desiredOf = this.topics.sessionIn(topic, 'desired');
    if (desiredOf !== undefined) return this.onDesired(desiredOf, payload);
    const reportOf = this.topics.sessionIn(topic, 'agent');
    if (reportOf !== undefined) return this.onAgentReport(reportOf, payload);
    const worker = this.topics.workerOf(topic);
    if (worker !== undefined) return this.onWorkerPresence(worker, payload);
    if (this.presence?.handle(topic, payload)) return;
    const homeAssistantOnline = this.homeAssistant?.cameOnline(topic, payload);
    if (homeAssistantOnline !== undefined) return homeAssistantOnline ? this.announceToHomeAssistant() : undefined;
    const session = this.topics.sessionOf(topic);
    if (session === undefined) return;
    if (!this.config.mqtt.shareGroup && !this.owns(session)) return this.takeover.keep(session, { payload, packet });
    this.onCommand(session, payload, packet);
  }

  private onCommand(session: string, payload: Buffer, packet: IPublishPacket | undefined, onReply?: (reply: Reply) => void): void {
    const receivedAt = performance.now();
    const reply = (r: Omit<Reply, 'type' | 'session_id'>) => {
      this.count(r, (performance.now() - receivedAt) / 1000);
      const full: Reply = { type: 'reply', session_id: session, ...r };
      this.publishReply(session, packet, full);
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
    const full = { ...command, session_id: session, request_id: requestId };
    this.delivery.queueCommand(session, {
      command: full,
      desired: this.desired.apply(session, full),
      reply,
      fail: (code, reason) => fail(code, reason, command.type, requestId),
    });
  }

  private owns(room: string): boolean {
    return this.presence?.replicas.owns(room) ?? true;
  }

  /**
   * Rooms move between replicas. Those this one now owns are followed (and restored if they lost
   * their music), and the commands it heard for them in the last seconds are replayed in order:
   * the replica that owned them may have died before delivering them.
   */
  private onReplicasChanged(): void {
    const live = this.presence?.replicas.live() ?? [];
    this.log.info({ replicas: live }, 'bridge replicas changed');
    this.metrics.replicas.set(live.length);
    for (const room of this.desired.rooms()) if (this.owns(room) && this.desired.shouldPlay(room)) this.watcher.watch(room);
    for (const [room, replay] of this.takeover.takeOver((room) => this.owns(room))) {
      if (replay.length > 0) this.log.warn({ room, session_id: room, commands: replay.length }, 'took over a room: replaying its latest commands');
      for (const c of replay) this.onCommand(room, c.payload, c.packet);
    }
  }

  private onDesired(room: string, payload: Buffer): void {
    if (this.desired.heard(room, payload) && this.owns(room) && this.desired.shouldPlay(room)) this.watcher.watch(room);
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

  private onWorkerPresence(worker: string, payload: Buffer): void {
    const presence = parseWorkerPresence(payload);
    if (!presence) return this.log.warn({ worker }, 'ignored a malformed worker presence');
    const orphans = this.workers.presence(worker, presence);
    if (presence.state === 'draining') return this.restorer.workerDraining(worker);
    if (orphans.length > 0) this.restorer.workerGone(worker, orphans);
  }

  private count(reply: Omit<Reply, 'type' | 'session_id'>, seconds: number): void {
    // Only known types become label values: anything else would let clients grow the series.
    const command = COMMAND_TYPES.includes(reply.command as CommandType) ? (reply.command as string) : 'invalid';
    this.metrics.commands.inc({ command, outcome: reply.error?.code ?? reply.status });
    if (reply.status !== 'error') this.metrics.latency.observe({ command, stage: reply.status }, seconds);
  }

  /**
   * Every reply on the session's reply topic; on the MQTT 5 response topic the command named, only
   * the final one (`done` or `error`): request/response tools (`mosquitto_rr`, MQTT 5 client
   * libraries' request helpers) take the first message there as the answer and stop listening.
   */
  private publishReply(session: string, request: IPublishPacket | undefined, reply: Reply): void {
    const client = this.client;
    if (!client) return;
    const body = JSON.stringify(reply);
    client.publish(this.topics.reply(session), body, { qos: 1 });
    const responseTopic = request?.properties?.responseTopic;
    if (responseTopic && reply.status !== 'accepted') {
      const correlationData = request?.properties?.correlationData;
      client.publish(responseTopic, body, { qos: 1, properties: correlationData ? { correlationData } : {} });
    }
  }
}
