import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Presence } from '../../bridge/presence.js';
import { Topics } from '../../src/protocol/topics.js';

/** Just what Presence uses of an mqtt.js client: retained publishes, recorded per topic. */
function fakeClient() {
  const retained = new Map<string, unknown>();
  const record = (topic: string, body: string) => void retained.set(topic, JSON.parse(body));
  const client = {
    connected: true,
    subscribeAsync: async () => [],
    publishAsync: async (topic: string, body: string) => record(topic, body),
    publish: (topic: string, body: string) => record(topic, body),
  };
  return { client: client as unknown as MqttClient, retained };
}

const topics = new Topics('roomcast');
const online = (id: string, at = Date.now()) => Buffer.from(JSON.stringify({ state: 'online', client_id: id, at }));

async function replica(id: string) {
  let changes = 0;
  const presence = new Presence(topics, id, 16_000, () => changes++, pino({ level: 'silent' }));
  const { client, retained } = fakeClient();
  await presence.join(client);
  return { presence, retained, changes: () => changes };
}

describe('Presence', () => {
  it('says the service is online with the live replicas, and wills it offline', async () => {
    const { presence, retained } = await replica('a');
    expect(presence.will).toMatchObject({ topic: 'roomcast/bridge/state', retain: true });
    expect(JSON.parse(String(presence.will.payload))).toEqual({ state: 'offline', client_id: 'a' });
    expect(retained.get('roomcast/bridge/state')).toEqual({ state: 'online', replicas: ['a'] });
    expect(retained.get('roomcast/bridge/a/state')).toMatchObject({ state: 'online', client_id: 'a' });
    presence.handle('roomcast/bridge/b/state', online('b'));
    expect(retained.get('roomcast/bridge/state')).toEqual({ state: 'online', replicas: ['a', 'b'] });
  });

  it("on another replica's Last Will: marks it offline and puts the service back online", async () => {
    const { presence, retained, changes } = await replica('a');
    presence.handle('roomcast/bridge/b/state', online('b'));
    expect(changes()).toBe(1);
    presence.handle('roomcast/bridge/state', Buffer.from('{"state":"offline","client_id":"b"}'));
    expect(retained.get('roomcast/bridge/b/state')).toEqual({ state: 'offline', client_id: 'b' });
    expect(retained.get('roomcast/bridge/state')).toEqual({ state: 'online', replicas: ['a'] });
    // The broker echoes the offline mark: b is out.
    presence.handle('roomcast/bridge/b/state', Buffer.from('{"state":"offline","client_id":"b"}'));
    expect(presence.replicas.live()).toEqual(['a']);
    expect(changes()).toBe(2);
  });

  it('says it is online again when another replica marked it offline', async () => {
    const { presence, retained } = await replica('a');
    retained.delete('roomcast/bridge/a/state');
    presence.handle('roomcast/bridge/a/state', Buffer.from('{"state":"offline","client_id":"a"}'));
    await new Promise((r) => setTimeout(r, 0));
    expect(retained.get('roomcast/bridge/a/state')).toMatchObject({ state: 'online' });
  });

  it('ignores an online left behind by a replica that died alone', async () => {
    const { presence } = await replica('a');
    expect(presence.handle('roomcast/bridge/ghost/state', online('ghost', Date.now() - 60_000))).toBe(true);
    expect(presence.replicas.live()).toEqual(['a']);
  });

  it('leaves the service offline only when it is the last replica', async () => {
    const alone = await replica('a');
    await alone.presence.leave();
    expect(alone.retained.get('roomcast/bridge/state')).toEqual({ state: 'offline', client_id: 'a' });
    const pair = await replica('a');
    pair.presence.handle('roomcast/bridge/b/state', online('b'));
    await pair.presence.leave();
    expect(pair.retained.get('roomcast/bridge/state')).toEqual({ state: 'online', replicas: ['b'] });
    expect(pair.retained.get('roomcast/bridge/a/state')).toEqual({ state: 'offline', client_id: 'a' });
  });

  it('is not a presence topic: a session state', async () => {
    const { presence } = await replica('a');
    expect(presence.handle('roomcast/room-1/state', Buffer.from('{}'))).toBe(false);
  });
});
