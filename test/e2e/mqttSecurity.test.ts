/**
 * The shipped Mosquitto configuration (mosquitto.acl, accounts made by scripts/mqtt-users.sh)
 * with the real bridge: no anonymous access, each app confined to its own session, and nobody
 * but the bridge may answer. Apps on the internet connect as the shipped mosquitto.conf lets them:
 * MQTT over TLS and over secure WebSockets, with certificates made by scripts/dev-certs.sh.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, freePort, type Proc } from '../harness/processes.js';
import { startBridge, startMosquitto, testHost, type Broker } from '../harness/stack.js';

const BRIDGE_PASSWORD = 'bridge-pw-7c1f0e5a9d';
const ROOM_A_PASSWORD = 'room-a-pw-41b2';
const AGENT_PASSWORD = 'agent-pw-93d7aa';
let broker: Broker;
let bridge: Proc;
const clients: MqttClient[] = [];
let certs: string;
let tlsPort: number;
let wssPort: number;

async function connect(username?: string, password?: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, username, password, reconnectPeriod: 0 });
  clients.push(client);
  return client;
}

function received(client: MqttClient, topic: string, ms: number): Promise<string[]> {
  const seen: string[] = [];
  client.on('message', (t, payload) => t === topic && seen.push(payload.toString()));
  return new Promise((resolve) => setTimeout(() => resolve(seen), ms));
}

beforeAll(async () => {
  const dir = join(ARTIFACTS, 'mosquitto-secure');
  mkdirSync(dir, { recursive: true });
  const passwords = join(dir, 'passwords');
  execFileSync('sh', ['scripts/mqtt-users.sh', passwords, BRIDGE_PASSWORD, `room-a:${ROOM_A_PASSWORD}`, 'room-b:room-b-pw', `roomcast-agent:${AGENT_PASSWORD}`], { stdio: 'ignore' });
  // The TLS listeners of the shipped mosquitto.conf, with a development CA for this host.
  certs = join(dir, 'certs');
  execFileSync('sh', ['scripts/dev-certs.sh', certs, testHost()], { stdio: 'ignore', env: { ...process.env, FORCE: '1' } });
  [tlsPort, wssPort] = [await freePort(testHost()), await freePort(testHost())];
  const tls = [`cafile ${certs}/ca.crt`, `certfile ${certs}/server.crt`, `keyfile ${certs}/server.key`];
  broker = await startMosquitto(testHost(), [
    'allow_anonymous false',
    `password_file ${passwords}`,
    `acl_file ${join(process.cwd(), 'mosquitto.acl')}`,
    `listener ${tlsPort} ${testHost()}`,
    ...tls,
    `listener ${wssPort}`,
    'protocol websockets',
    ...tls,
  ]);
  bridge = await startBridge(
    {
      livekitUrl: `ws://${testHost()}:9`,
      mqttUrl: broker.url,
      catalog: 'unused',
      extra: { MQTT_USERNAME: 'roomcast-bridge', MQTT_PASSWORD: BRIDGE_PASSWORD },
    },
    'bridge-secure',
  );
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.endAsync()));
  await bridge?.stop();
  await broker?.proc.stop();
  expect(bridge.output()).not.toContain(BRIDGE_PASSWORD);
});

describe('Mosquitto with the shipped ACL', () => {
  it('refuses anonymous clients and wrong passwords', async () => {
    await expect(connect()).rejects.toThrow(/Not authorized|Bad User Name or Password/i);
    await expect(connect('room-a', 'wrong')).rejects.toThrow(/Not authorized|Bad User Name or Password/i);
  });

  it('lets an app command its own session and read its replies', async () => {
    const app = await connect('room-a', ROOM_A_PASSWORD);
    await app.subscribeAsync('roomcast/room-a/reply', { qos: 1 });
    const replies = received(app, 'roomcast/room-a/reply', 1_500);
    await app.publishAsync('roomcast/room-a/command', '{"type":"dance"}', { qos: 1 });
    const [reply] = await replies;
    expect(JSON.parse(reply ?? '{}')).toMatchObject({ ok: false, error: { code: 'invalid_command' } });
    // An MQTT 5 Response Topic under the session's reply topic gets the reply too.
    const responseTopic = 'roomcast/room-a/reply/app-1';
    await app.subscribeAsync(responseTopic, { qos: 1 });
    const responses = received(app, responseTopic, 1_500);
    await app.publishAsync('roomcast/room-a/command', '{"type":"dance"}', { qos: 1, properties: { responseTopic, correlationData: Buffer.from('c-1') } });
    expect(await responses).toHaveLength(1);
  });

  it('does not let an app command another session', async () => {
    const roomB = await connect('room-b', 'room-b-pw');
    await roomB.subscribeAsync('roomcast/room-b/reply', { qos: 1 });
    const seenByB = received(roomB, 'roomcast/room-b/reply', 1_500);
    const app = await connect('room-a', ROOM_A_PASSWORD);
    await app.publishAsync('roomcast/room-b/command', '{"type":"dance"}', { qos: 1 }).catch(() => undefined);
    expect(await seenByB).toEqual([]);
  });

  it("does not let an app read another session's replies", async () => {
    // Mosquitto grants the subscription; the ACL is enforced when messages are delivered.
    const snoop = await connect('room-a', ROOM_A_PASSWORD);
    await snoop.subscribeAsync(['roomcast/room-b/reply', 'roomcast/+/reply', 'roomcast/#'], { qos: 1 });
    const snooped: string[] = [];
    snoop.on('message', (topic) => topic.startsWith('roomcast/room-b/') && snooped.push(topic));
    const roomB = await connect('room-b', 'room-b-pw');
    await roomB.subscribeAsync('roomcast/room-b/reply', { qos: 1 });
    const own = received(roomB, 'roomcast/room-b/reply', 1_500);
    await roomB.publishAsync('roomcast/room-b/command', '{"type":"dance"}', { qos: 1 });
    expect(await own).toHaveLength(1);
    expect(snooped).toEqual([]);
  });

  it("lets an app read the bridge's availability, not forge it", async () => {
    const app = await connect('room-a', ROOM_A_PASSWORD);
    await app.publishAsync('roomcast/bridge/state', '{"state":"offline","forged":true}', { qos: 1, retain: true }).catch(() => undefined);
    const seen = received(app, 'roomcast/bridge/state', 500);
    await app.subscribeAsync('roomcast/bridge/state', { qos: 1 });
    expect((await seen).map((s) => JSON.parse(s) as object)).toEqual([{ state: 'online', replicas: [expect.any(String)] }]);
  });

  it("lets the agents report to the bridges, and nobody else: an app cannot forge an agent's report or a worker's death", async () => {
    const bridgeView = await connect('roomcast-bridge', BRIDGE_PASSWORD);
    await bridgeView.subscribeAsync(['roomcast/+/agent', 'roomcast/agents/+/state'], { qos: 1 });
    const seen: string[] = [];
    bridgeView.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    const app = await connect('room-a', ROOM_A_PASSWORD);
    await app.publishAsync('roomcast/room-a/agent', '{"forged":true}', { qos: 1 }).catch(() => undefined);
    await app.publishAsync('roomcast/agents/w1/state', '{"state":"offline","forged":true}', { qos: 1 }).catch(() => undefined);
    const agent = await connect('roomcast-agent', AGENT_PASSWORD);
    await agent.publishAsync('roomcast/room-a/agent', '{"worker":"w1"}', { qos: 1 });
    await agent.publishAsync('roomcast/agents/w1/state', '{"state":"online"}', { qos: 1 });
    // The agent account may not command rooms or answer apps.
    await agent.publishAsync('roomcast/room-a/command', '{"type":"stop_continuous_music"}', { qos: 1 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 800));
    expect(seen).toEqual(['roomcast/room-a/agent {"worker":"w1"}', 'roomcast/agents/w1/state {"state":"online"}']);
    expect(bridge.output()).not.toContain('"command":"stop_continuous_music"');
  });

  it('does not let an app impersonate the bridge', async () => {
    const app = await connect('room-a', ROOM_A_PASSWORD);
    await app.subscribeAsync('roomcast/room-a/reply', { qos: 1 });
    const seen = received(app, 'roomcast/room-a/reply', 1_000);
    await app.publishAsync('roomcast/room-a/reply', '{"type":"reply","ok":true,"forged":true}', { qos: 1 }).catch(() => undefined);
    await app.publishAsync('roomcast/room-a/state', '{"state":"playing","forged":true}', { qos: 1, retain: true }).catch(() => undefined);
    expect(await seen).toEqual([]);
    const roomA = await connect('room-a', ROOM_A_PASSWORD);
    await roomA.subscribeAsync('roomcast/room-a/state', { qos: 1 });
    expect(await received(roomA, 'roomcast/room-a/state', 500)).toEqual([]);
  });
});

describe('apps over TLS', () => {
  const askStatus = async (url: string, requestId: string) => {
    const app = await mqtt.connectAsync(url, { protocolVersion: 5, username: 'room-a', password: ROOM_A_PASSWORD, reconnectPeriod: 0, ca: readFileSync(join(certs, 'ca.crt')), connectTimeout: 5_000 });
    clients.push(app);
    await app.subscribeAsync('roomcast/room-a/reply', { qos: 1 });
    const replies = received(app, 'roomcast/room-a/reply', 1_500);
    await app.publishAsync('roomcast/room-a/command', JSON.stringify({ type: 'get_music_status', request_id: requestId }), { qos: 1 });
    return (await replies).map((r) => JSON.parse(r) as { status: string; request_id?: string });
  };

  it('an app connects over MQTT over TLS (mqtts://) and gets its replies', async () => {
    // (This bridge has no LiveKit to reach: the reply is an error, and it came back over TLS.)
    expect(await askStatus(`mqtts://${testHost()}:${tlsPort}`, 'over-tls')).toEqual([expect.objectContaining({ type: 'reply', command: 'get_music_status', request_id: 'over-tls' })]);
  });

  it('a browser or React Native app connects over secure WebSockets (wss://) and gets its replies', async () => {
    expect(await askStatus(`wss://${testHost()}:${wssPort}/mqtt`, 'over-wss')).toEqual([expect.objectContaining({ type: 'reply', command: 'get_music_status', request_id: 'over-wss' })]);
  });

  it('a client that does not trust the CA is refused before it sends its password', async () => {
    for (const url of [`mqtts://${testHost()}:${tlsPort}`, `wss://${testHost()}:${wssPort}/mqtt`]) {
      await expect(mqtt.connectAsync(url, { protocolVersion: 5, username: 'room-a', password: ROOM_A_PASSWORD, reconnectPeriod: 0, connectTimeout: 5_000 })).rejects.toThrow(
        /self-signed certificate|unable to verify|certificate/i,
      );
    }
  });
});
