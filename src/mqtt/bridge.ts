/**
 * The bridge: MQTT commands in, LiveKit data packets out. Each command is validated, the room is
 * given an agent if it has none, and the command is delivered; every command gets a reply.
 * Commands for one room are delivered strictly in the order they arrived.
 */
import { randomUUID } from 'node:crypto';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { BridgeConfig } from '../config.js';
import type { Logger } from '../log.js';
import { COMMAND_TYPES, parseCommand, sessionIdSchema, type Command, type CommandType } from '../protocol/commands.js';
import type { BridgeMetrics } from '../ops/bridgeMetrics.js';
import { encodeJson, type ErrorCode, type Reply } from '../protocol/messages.js';
import { Topics } from '../protocol/topics.js';
import { NoAgentError, type AgentView } from '../livekit/roomAgents.js';
import { RoomWatcher } from './roomWatcher.js';

/** What the bridge needs from LiveKit (RoomAgents in production). */
export interface AgentDelivery {
  ensureAgent(room: string, timeoutMs: number): Promise<'present' | 'dispatched'>;
  send(room: string, payload: Uint8Array): Promise<void>;
  agentView(room: string): Promise<AgentView | undefined>;
}

const RESULT_POLL_MS = 100;
const SESSION_EXPIRY_S = 24 * 3600;

export class Bridge {
  private client: MqttClient | undefined;
  private readonly topics: Topics;
  private readonly roomQueues = new Map<string, Promise<void>>();
  private readonly watcher: RoomWatcher;

  constructor(
    private readonly config: BridgeConfig,
    private readonly delivery: AgentDelivery,
    private readonly log: Logger,
    private readonly metrics: BridgeMetrics,
  ) {
    this.topics = new Topics(config.mqtt.baseTopic);
    this.watcher = new RoomWatcher({
      read: (room) => delivery.agentView(room),
      onState: (room, state) => this.client?.publish(this.topics.state(room), JSON.stringify(state), { qos: 1, retain: true }),
      onRoomsChanged: (count) => metrics.roomsWatched.set(count),
      log,
      idleMs: config.statePollMs,
      busyMs: RESULT_POLL_MS,
    });
  }

  async start(): Promise<void> {
    const { url, username, password, clientId, shareGroup } = this.config.mqtt;
    const id = clientId ?? `roomcast-bridge-${randomUUID().slice(0, 8)}`;
    const presence = this.topics.bridgeState(id);
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      clientId: id,
      username,
      password,
      // A fixed client id gets a persistent session: the broker keeps commands for the bridge
      // while it restarts. A random one would leave orphaned sessions behind, so it stays clean.
      clean: clientId === undefined,
      ...(clientId !== undefined ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
      will: { topic: presence, payload: Buffer.from(JSON.stringify({ state: 'offline', client_id: id })), qos: 1, retain: true },
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
    });
    this.client = client;
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    client.on('error', (err) => this.log.warn({ err: err.message }, 'mqtt error'));
    client.on('reconnect', () => this.log.info('mqtt reconnecting'));
    const announce = () => client.publishAsync(presence, JSON.stringify({ state: 'online', client_id: id }), { qos: 1, retain: true });
    // After a reconnect too: a restarted broker may have lost the retained message.
    client.on('close', () => this.metrics.mqttConnected.set(0));
    client.on('connect', () => {
      this.metrics.mqttConnected.set(1);
      this.log.info('mqtt connected');
      announce().catch((err: Error) => this.log.warn({ err: err.message }, 'could not announce the bridge online'));
    });
    // Replicas share one subscription: the broker hands each command to one of them.
    const subscription = shareGroup ? `$share/${shareGroup}/${this.topics.allCommands}` : this.topics.allCommands;
    await client.subscribeAsync(subscription, { qos: 1 });
    this.metrics.mqttConnected.set(1);
    await announce();
    this.log.info({ subscription, clientId: id }, 'bridge ready');
  }

  /** Why the bridge cannot do its job right now, or undefined when it can. */
  unhealthy(): string | undefined {
    return this.client?.connected ? undefined : 'not connected to the MQTT broker';
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.roomQueues.values());
    this.watcher.stop();
    const client = this.client;
    if (!client) return;
    // A clean stop says so itself; the will covers the other kind.
    await client.publishAsync(this.topics.bridgeState(client.options.clientId as string), JSON.stringify({ state: 'offline', client_id: client.options.clientId }), { qos: 1, retain: true }).catch(() => undefined);
    await client.endAsync();
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const session = this.topics.sessionOf(topic);
    if (session === undefined) return;
    const receivedAt = performance.now();
    const reply = (r: Omit<Reply, 'type' | 'session_id'>) => {
      this.count(r, (performance.now() - receivedAt) / 1000);
      this.reply(session, packet, { type: 'reply', session_id: session, ...r });
    };
    const fail = (code: ErrorCode, reason: string, command?: string, requestId?: string) => {
      this.log.warn({ session_id: session, request_id: requestId, command, code, reason }, 'command rejected');
      reply({ command, ok: false, status: 'error', message: reason, request_id: requestId, error: { code, reason } });
    };

    if (!sessionIdSchema.safeParse(session).success) return fail('invalid_command', `session id in the topic ${sessionIdSchema.safeParse(session).error?.issues[0]?.message}`);
    const parsed = parseCommand(payload);
    if (!parsed.ok) return fail('invalid_command', parsed.reason, parsed.type, parsed.requestId);
    const command = parsed.command;
    const requestId = command.request_id ?? randomUUID();
    if (command.session_id !== undefined && command.session_id !== session) {
      return fail('session_mismatch', `session_id "${command.session_id}" does not match the topic's "${session}"`, command.type, requestId);
    }
    this.enqueue(session, async () => {
      const log = this.log.child({ room: session, session_id: session, request_id: requestId, command: command.type });
      try {
        const how = await this.deliver(session, { ...command, session_id: session, request_id: requestId });
        log.info({ agent: how }, 'command delivered');
        reply({ command: command.type, ok: true, status: 'accepted', message: `${command.type} delivered to the room's agent`, request_id: requestId });
      } catch (err) {
        const code: ErrorCode = err instanceof NoAgentError ? 'no_agent' : 'delivery_failed';
        return fail(code, (err as Error).message, command.type, requestId);
      }
      // Not awaited: the next command of the room need not wait for this one's confirmation.
      void this.watcher.awaitResult(session, requestId, this.config.resultTimeoutMs).then((result) => {
        if (!result) return fail('no_confirmation', `the agent did not confirm ${command.type} within ${this.config.resultTimeoutMs} ms`, command.type, requestId);
        log.info({ ok: result.ok, message: result.message }, 'command confirmed');
        if (result.ok) reply({ command: command.type, ok: true, status: 'done', message: result.message, request_id: requestId, result });
        else reply({ command: command.type, ok: false, status: 'error', message: result.message, request_id: requestId, error: { code: 'command_failed', reason: result.message }, result });
      });
    });
  }

  private count(reply: Omit<Reply, 'type' | 'session_id'>, seconds: number): void {
    // Only known types become label values: anything else would let clients grow the series.
    const command = COMMAND_TYPES.includes(reply.command as CommandType) ? (reply.command as string) : 'invalid';
    this.metrics.commands.inc({ command, outcome: reply.error?.code ?? reply.status });
    if (reply.status !== 'error') this.metrics.latency.observe({ command, stage: reply.status }, seconds);
  }

  private async deliver(room: string, command: Command): Promise<'present' | 'dispatched'> {
    const how = await this.delivery.ensureAgent(room, this.config.agentJoinTimeoutMs);
    await this.delivery.send(room, encodeJson(command));
    return how;
  }

  /** Runs `task` after every earlier task of the same room. */
  private enqueue(room: string, task: () => Promise<void>): void {
    const tail = (this.roomQueues.get(room) ?? Promise.resolve()).then(task);
    this.roomQueues.set(room, tail);
    void tail.finally(() => {
      if (this.roomQueues.get(room) === tail) this.roomQueues.delete(room);
    });
  }

  private reply(session: string, request: IPublishPacket, reply: Reply): void {
    const client = this.client;
    if (!client) return;
    const body = JSON.stringify(reply);
    client.publish(this.topics.reply(session), body, { qos: 1 });
    const responseTopic = request.properties?.responseTopic;
    if (responseTopic) {
      const correlationData = request.properties?.correlationData;
      client.publish(responseTopic, body, { qos: 1, properties: correlationData ? { correlationData } : {} });
    }
  }
}
