/** A stand-in for the mobile app: a real mqtt.js client (MQTT 5) that sends commands and collects replies. */
import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { Reply } from '../../src/protocol/messages.js';

export interface Sent {
  /** When the publish was handed to the client (Date.now()). */
  at: number;
  /** The reply that came back on the MQTT 5 response topic, matched by correlation data. */
  response: Promise<Reply>;
}

export class App {
  /** Every reply seen on `<base>/+/reply`, in arrival order. */
  readonly replies: Array<{ topic: string; reply: Reply }> = [];
  private readonly pending = new Map<string, (r: Reply) => void>();
  private readonly responseTopic = `app-test/${randomUUID()}/responses`;

  private constructor(
    private readonly client: MqttClient,
    readonly base: string,
  ) {}

  static async connect(url: string, base = 'roomcast', options: mqtt.IClientOptions = {}): Promise<App> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 500, ...options });
    const app = new App(client, base);
    client.on('message', (topic, payload, packet) => {
      const reply = JSON.parse(payload.toString()) as Reply;
      if (topic === app.responseTopic) {
        const id = packet.properties?.correlationData?.toString();
        if (id) app.pending.get(id)?.(reply);
      } else {
        app.replies.push({ topic, reply });
      }
    });
    await client.subscribeAsync([`${base}/+/reply`, app.responseTopic], { qos: 1 });
    return app;
  }

  /** Publishes a command (object or raw text) to a session's command topic. */
  send(session: string, payload: object | string, timeoutMs = 30_000): Sent {
    const correlation = randomUUID();
    const response = new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${JSON.stringify(payload).slice(0, 200)} within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(correlation, (r) => {
        clearTimeout(timer);
        this.pending.delete(correlation);
        resolve(r);
      });
    });
    // Fire-and-forget sends are fine: a reply that never comes must not be an unhandled rejection.
    response.catch(() => undefined);
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const at = Date.now();
    this.client.publish(`${this.base}/${session}/command`, body, {
      qos: 1,
      properties: { responseTopic: this.responseTopic, correlationData: Buffer.from(correlation) },
    });
    return { at, response };
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
