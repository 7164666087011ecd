/**
 * A host process's one MQTT connection: it reports each room's state, receipts and confirmations
 * to the bridges as they change, and this process's presence. Its Last Will says `offline` the
 * moment the broker loses the connection (a SIGKILL closes the socket at once; a machine gone
 * silent is noticed after 1.5 keepalives), so the bridges can take its rooms elsewhere in seconds
 * instead of waiting ~21 s for LiveKit to drop its agents.
 *
 * Optional: without MQTT_URL the bridges poll the rooms' attributes as before. Reports are not
 * queued while the broker is away: the bridges poll a worker's rooms once it is unheard.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../src/log.js';
import { encodeReport, WORKER_HEARTBEAT_MS, type WorkerState } from '../src/protocol/agentReports.js';
import { sessionIdSchema } from '../src/protocol/commands.js';
import { Topics } from '../src/protocol/topics.js';

export interface ReportLinkConfig {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  baseTopic: string;
}

/** What a room's session reports (the link adds which worker it is). */
export type RoomReport = Omit<Parameters<typeof encodeReport>[0], 'worker'>;

/** Seconds between pings: a host whose machine vanished is declared offline after 1.5 of them. */
const KEEPALIVE_S = 4;

export class ReportLink {
  /** This process's id among the workers: host name, pid and a random part (pids repeat across containers). */
  readonly worker = `${hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 40)}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly topics: Topics;
  private client: MqttClient | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private state: WorkerState = 'online';
  private rooms: () => number = () => 0;
  private capacity = 0;
  /** Whether the last presence said full: a change is announced at once, not at the next heartbeat. */
  private announcedFull = false;

  constructor(
    private readonly config: ReportLinkConfig,
    private readonly log: Logger,
  ) {
    this.topics = new Topics(config.baseTopic);
  }

  /** Connects in the background (and reconnects): the rooms play whether the broker is there or not. */
  start(rooms: () => number, capacity: number): void {
    this.rooms = rooms;
    this.capacity = capacity;
    const { url, username, password } = this.config;
    const client = mqtt.connect(url, {
      protocolVersion: 5,
      clientId: `roomcast-agent-${this.worker}`.slice(0, 128),
      username,
      password,
      clean: true,
      keepalive: KEEPALIVE_S,
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
      will: { topic: this.topics.workerState(this.worker), payload: Buffer.from(JSON.stringify({ state: 'offline' })), qos: 1, retain: false },
    });
    this.client = client;
    client.on('connect', () => {
      this.log.info({ worker: this.worker }, 'reporting to the bridges over MQTT');
      this.announce();
    });
    // Once per outage, not once per retry.
    let warned = false;
    client.on('error', (err) => {
      if (!warned) this.log.warn({ err: err.message }, "MQTT reports unavailable: the bridges poll this worker's rooms until it is back");
      warned = true;
    });
    client.on('connect', () => (warned = false));
    this.heartbeat = setInterval(() => this.announce(), WORKER_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** A room's agent changed: its report goes out now (QoS 1), or not at all while disconnected. */
  reportRoom(room: string, report: RoomReport): void {
    const client = this.client;
    if (!client?.connected || !sessionIdSchema.safeParse(room).success) return;
    client.publish(this.topics.agentReport(room), encodeReport({ worker: this.worker, ...report }), { qos: 1 });
  }

  /** This process takes no more rooms and is about to leave the ones it has. */
  draining(): void {
    this.state = 'draining';
    this.announce();
  }

  /** Says `offline` itself (a clean stop) and disconnects. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    const client = this.client;
    if (!client) return;
    this.state = 'offline';
    if (client.connected) await client.publishAsync(this.topics.workerState(this.worker), JSON.stringify({ state: 'offline' }), { qos: 1 }).catch(() => undefined);
    await client.endAsync().catch(() => undefined);
  }

  /** The rooms taken changed: when that fills the process or frees it, the bridges hear it now. */
  roomsChanged(): void {
    if (this.rooms() >= this.capacity !== this.announcedFull) this.announce();
  }

  private announce(): void {
    if (!this.client?.connected) return;
    const rooms = this.rooms();
    this.announcedFull = rooms >= this.capacity;
    this.client.publish(this.topics.workerState(this.worker), JSON.stringify({ state: this.state, rooms, capacity: this.capacity }), { qos: 1 });
  }
}
