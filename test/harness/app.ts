/** A stand-in for the mobile app: a real mqtt.js client (MQTT 5) that sends commands and collects replies. */
import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { Reply } from '../../src/protocol/messages.js';

export interface Sent {
  /** When the publish was handed to the client (Date.now()). */
  at: number;
  /**
   * The first reply: `accepted` (on the session's reply topic, matched by request_id), or the final
   * one if it comes first.
   */
  response: Promise<Reply>;
  /** The reply that ends the command: `done`, or an error. */
  final: Promise<Reply>;
}

export interface StateUpdate {
  at: number;
  state: Record<string, unknown>;
}

export class App {
  /** Every reply seen on `<base>/+/reply`, in arrival order. */
  readonly replies: Array<{ topic: string; reply: Reply }> = [];
  /** Every state update seen on `<base>/<session>/state`, per session. */
  readonly states = new Map<string, StateUpdate[]>();
  /** The retained bridge presence messages, by topic: the service's (`<base>/bridge/state`) and each replica's. */
  readonly bridgeStates = new Map<string, { state: string; replicas?: string[] }>();
  /** Replies awaited, by correlation data (response topic) and by request_id (reply topic). */
  private readonly pending = new Map<string, (r: Reply) => void>();
  private readonly byRequestId = new Map<string, (r: Reply) => void>();
  /** Every message on the response topic, by correlation data: tools expect exactly one per command. */
  readonly responses = new Map<string, Reply[]>();
  private readonly responseTopic = `app-test/${randomUUID()}/responses`;

  private constructor(
    private readonly client: MqttClient,
    readonly base: string,
  ) {}

  static async connect(url: string, base = 'roomcast', options: mqtt.IClientOptions = {}): Promise<App> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 500, ...options });
    const app = new App(client, base);
    client.on('message', (topic, payload, packet) => {
      if (topic.startsWith(`${base}/bridge/`)) {
        app.bridgeStates.set(topic, JSON.parse(payload.toString()) as { state: string; replicas?: string[] });
        return;
      }
      if (topic.endsWith('/state')) {
        const session = topic.split('/').at(-2) as string;
        app.states.set(session, [...(app.states.get(session) ?? []), { at: Date.now(), state: JSON.parse(payload.toString()) as Record<string, unknown> }]);
        return;
      }
      const reply = JSON.parse(payload.toString()) as Reply;
      if (topic === app.responseTopic) {
        const id = packet.properties?.correlationData?.toString();
        if (id) {
          app.responses.set(id, [...(app.responses.get(id) ?? []), reply]);
          app.pending.get(id)?.(reply);
        }
      } else {
        app.replies.push({ topic, reply });
        if (reply.request_id) app.byRequestId.get(reply.request_id)?.(reply);
      }
    });
    await client.subscribeAsync([`${base}/+/reply`, `${base}/+/state`, `${base}/bridge/+/state`, app.responseTopic], { qos: 1 });
    return app;
  }

  /**
   * Publishes a command (object or raw text) to a session's command topic, with a response topic.
   * An object without a request_id gets one, so that its `accepted` reply (which goes to the reply
   * topic only) can be told apart.
   */
  send(session: string, payload: object | string, timeoutMs = 30_000): Sent & { correlation: string } {
    const correlation = randomUUID();
    if (typeof payload === 'object' && !('request_id' in payload)) payload = { ...payload, request_id: `app-${correlation}` };
    const requestId = typeof payload === 'object' ? (payload as { request_id?: unknown }).request_id : undefined;
    const what = JSON.stringify(payload).slice(0, 200);
    let first: (r: Reply) => void = () => undefined;
    let last: (r: Reply) => void = () => undefined;
    const response = new Promise<Reply>((resolve, reject) => {
      first = resolve;
      setTimeout(() => reject(new Error(`no reply to ${what} within ${timeoutMs} ms`)), timeoutMs);
    });
    const final = new Promise<Reply>((resolve, reject) => {
      last = resolve;
      setTimeout(() => reject(new Error(`no final reply to ${what} within ${timeoutMs} ms`)), timeoutMs);
    });
    const settle = (r: Reply) => {
      first(r);
      if (r.status === 'accepted') return;
      last(r);
      this.pending.delete(correlation);
      if (typeof requestId === 'string') this.byRequestId.delete(requestId);
    };
    this.pending.set(correlation, settle);
    if (typeof requestId === 'string') this.byRequestId.set(requestId, settle);
    // Fire-and-forget sends are fine: a reply that never comes must not be an unhandled rejection.
    response.catch(() => undefined);
    final.catch(() => undefined);
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const at = Date.now();
    this.client.publish(`${this.base}/${session}/command`, body, {
      qos: 1,
      properties: { responseTopic: this.responseTopic, correlationData: Buffer.from(correlation) },
    });
    return { at, response, final, correlation };
  }

  /** Resolves with the first state of `session` published at or after `since` that matches. */
  async waitForState(session: string, predicate: (state: Record<string, unknown>) => boolean, { since = 0, timeoutMs = 10_000 } = {}): Promise<StateUpdate> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.states.get(session)?.find((u) => u.at >= since && predicate(u.state));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching state for ${session}; last: ${JSON.stringify(this.states.get(session)?.at(-1)?.state)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
