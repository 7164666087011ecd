/**
 * A flooding app, in its own process so that the test measuring other sessions does not share
 * its load: publishes `count` set_volume commands to one session at `perSecond` (QoS 0, slices
 * every 10 ms), collects the replies on the session's reply topic, and prints JSON:
 * `{"seconds":…,"limited":…,"accepted":[request_ids]}` once the replies have stopped coming.
 *   node dist/test/harness/flood.js '{"url":"mqtt://…","session":"flood","count":10000,"perSecond":1000}'
 */
import mqtt from 'mqtt';

const spec = JSON.parse(process.argv[2] ?? '{}') as { url: string; session: string; count: number; perSecond: number };
const client = await mqtt.connectAsync(spec.url, { protocolVersion: 5 });
let limited = 0;
let lastReplyAt = Date.now();
const accepted = new Set<string>();
client.on('message', (_topic, payload) => {
  lastReplyAt = Date.now();
  const reply = JSON.parse(payload.toString()) as { status?: string; request_id?: string; error?: { code?: string } };
  if (!reply.request_id?.startsWith('flood-')) return;
  if (reply.error?.code === 'rate_limited') limited++;
  else if (reply.status === 'accepted') accepted.add(reply.request_id);
});
await client.subscribeAsync(`roomcast/${spec.session}/reply`, { qos: 0 });
const startedAt = Date.now();
const slice = Math.max(1, Math.round(spec.perSecond / 100));
for (let i = 0; i < spec.count; i++) {
  client.publish(`roomcast/${spec.session}/command`, JSON.stringify({ type: 'set_volume', volume: i % 100, request_id: `flood-${i}` }), { qos: 0 });
  if (i % slice === slice - 1) await new Promise((r) => setTimeout(r, Math.max(0, startedAt + ((i + 1) * 1000) / spec.perSecond - Date.now())));
}
const seconds = (Date.now() - startedAt) / 1000;
while (Date.now() - lastReplyAt < 2_000) await new Promise((r) => setTimeout(r, 200));
console.log(JSON.stringify({ seconds, limited, accepted: [...accepted] }));
await client.endAsync();
