/**
 * Bridge availability on MQTT, and which replicas are live (for room ownership, replicas.ts).
 *
 * - `<base>/bridge/state`, retained: the service as apps see it, `{"state":"online","replicas":[…]}`
 *   while any replica is connected. Every replica's MQTT Last Will sets it to
 *   `{"state":"offline","client_id":…}`; when that was not the last replica, the others put it
 *   back to `online` as soon as they hear it.
 * - `<base>/bridge/<client_id>/state`, retained: each replica's own, renewed every heartbeat with
 *   the time it was sent. The others mark a replica whose will fired `offline` there, and ignore
 *   an `online` older than the staleness limit (a replica that died alone left it behind).
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from '../src/log.js';
import type { Topics } from '../src/protocol/topics.js';
import { Replicas } from './replicas.js';

interface PresenceMessage {
  state?: unknown;
  client_id?: unknown;
  at?: unknown;
}

export class Presence {
  readonly replicas: Replicas;
  private client: MqttClient | undefined;
  private leaving = false;

  constructor(
    private readonly topics: Topics,
    readonly self: string,
    private readonly staleMs: number,
    private readonly onReplicasChanged: () => void,
    private readonly log: Logger,
  ) {
    this.replicas = new Replicas(self, staleMs);
  }

  /** The Last Will to connect with. */
  get will(): NonNullable<IClientOptions['will']> {
    return { topic: this.topics.bridgeService, payload: Buffer.from(JSON.stringify({ state: 'offline', client_id: this.self })), qos: 1, retain: true };
  }

  /** Subscribes to the replicas' presence: before the commands, so that ownership is known first. */
  async join(client: MqttClient): Promise<void> {
    this.client = client;
    await client.subscribeAsync([this.topics.allBridgeStates, this.topics.bridgeService], { qos: 1 });
    await this.announce();
  }

  /** Says this replica is online, and the service with it (after every reconnect too). */
  async announce(): Promise<void> {
    const client = this.client;
    if (!client?.connected || this.leaving) return;
    await Promise.all([
      client.publishAsync(this.topics.bridgeState(this.self), JSON.stringify({ state: 'online', client_id: this.self, at: Date.now() }), { qos: 1, retain: true }),
      this.publishService(this.replicas.live()),
    ]);
  }

  /** Every heartbeat: renews this replica's presence and forgets replicas gone silent. */
  heartbeat(): void {
    this.announce().catch(() => undefined);
    if (this.replicas.sweep()) this.changed();
  }

  /** A clean stop: this replica is offline, and so is the service if it was the last one. */
  async leave(): Promise<void> {
    const client = this.client;
    this.leaving = true;
    if (!client?.connected) return;
    const others = this.replicas.live().filter((id) => id !== this.self);
    await Promise.all([
      client.publishAsync(this.topics.bridgeState(this.self), JSON.stringify({ state: 'offline', client_id: this.self }), { qos: 1, retain: true }),
      others.length > 0 ? this.publishService(others) : client.publishAsync(this.topics.bridgeService, JSON.stringify({ state: 'offline', client_id: this.self }), { qos: 1, retain: true }),
    ]).catch(() => undefined);
  }

  /** Handles a presence message; false when `topic` is not a presence topic. */
  handle(topic: string, payload: Buffer): boolean {
    if (topic === this.topics.bridgeService) {
      this.onServiceState(parse(payload));
      return true;
    }
    const replica = this.topics.bridgeOf(topic);
    if (replica === undefined) return false;
    const message = parse(payload);
    if (replica === this.self) {
      // Marked offline by another replica after a Last Will of ours that raced a quick reconnect.
      if (message.state !== 'online' && !this.leaving) this.announce().catch(() => undefined);
      return true;
    }
    const fresh = typeof message.at !== 'number' || Date.now() - message.at <= this.staleMs;
    if (this.replicas.heard(replica, message.state === 'online' && fresh)) this.changed();
    return true;
  }

  /** A replica's Last Will fired: unless it was this one's own, that replica is gone. Either way the service is still up. */
  private onServiceState(message: PresenceMessage): void {
    const client = this.client;
    if (message.state !== 'offline' || !client?.connected || this.leaving) return;
    const gone = typeof message.client_id === 'string' && message.client_id !== this.self ? message.client_id : undefined;
    if (gone) {
      this.log.warn({ replica: gone }, 'a bridge replica went offline (its Last Will)');
      client.publish(this.topics.bridgeState(gone), JSON.stringify({ state: 'offline', client_id: gone }), { qos: 1, retain: true });
    }
    this.publishService(this.replicas.live().filter((id) => id !== gone)).catch((err: Error) => this.log.warn({ err: err.message }, 'could not announce the bridge online'));
  }

  private changed(): void {
    this.publishService(this.replicas.live()).catch(() => undefined);
    this.onReplicasChanged();
  }

  private async publishService(replicas: string[]): Promise<void> {
    await this.client?.publishAsync(this.topics.bridgeService, JSON.stringify({ state: 'online', replicas }), { qos: 1, retain: true });
  }
}

function parse(payload: Buffer): PresenceMessage {
  try {
    const message: unknown = JSON.parse(payload.toString());
    return typeof message === 'object' && message !== null ? (message as PresenceMessage) : {};
  } catch {
    // An unreadable presence counts as offline.
    return {};
  }
}
