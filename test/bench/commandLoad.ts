/**
 * A command load for the bridge, in its own process so that the bench's listeners do not slow it:
 * publishes `set_volume` to `rooms` round robin at `rate` per second for `seconds` (or all at once
 * with rate 0), as an app would (a request_id each), and prints JSON with the time from each
 * publish to its `accepted` reply on the session's reply topic (a response topic gets only the
 * final reply).
 *   node dist/test/bench/commandLoad.js '{"url":"mqtt://…","rooms":["r1"],"rate":2000,"seconds":5}'
 */
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';

interface LoadSpec {
  url: string;
  base?: string;
  rooms: string[];
  rate: number;
  seconds: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
const base = spec.base ?? 'roomcast';
const client = await mqtt.connectAsync(spec.url, { protocolVersion: 5 });
const publishedAt = new Map<string, number>();
const times: number[] = [];
let errors = 0;
const allAccepted = new Promise<void>((resolve) => {
  client.on('message', (_topic, payload) => {
    const reply = JSON.parse(payload.toString()) as { status: string; request_id?: string };
    const at = publishedAt.get(reply.request_id ?? '');
    if (at === undefined) return;
    publishedAt.delete(reply.request_id ?? '');
    if (reply.status === 'accepted') times.push(performance.now() - at);
    else errors++;
    if (times.length + errors === total) resolve();
  });
});
await client.subscribeAsync(
  [...new Set(spec.rooms)].map((room) => `${base}/${room}/reply`),
  { qos: 1 },
);

const total = spec.rate > 0 ? spec.rate * spec.seconds : spec.rooms.length * 750;
const publish = (i: number) => {
  const id = randomUUID();
  publishedAt.set(id, performance.now());
  client.publish(`${base}/${spec.rooms[i % spec.rooms.length]}/command`, JSON.stringify({ type: 'set_volume', volume: 50 + (i % 2) * 10, request_id: id }), { qos: 1 });
};
const startedAt = performance.now();
if (spec.rate > 0) {
  // Every 10 ms, the commands due by then: a steady rate whatever the timer's jitter.
  for (let sent = 0; sent < total;) {
    const due = Math.min(total, Math.floor(((performance.now() - startedAt) / 1000) * spec.rate) + 1);
    while (sent < due) publish(sent++);
    await new Promise((r) => setTimeout(r, 10));
  }
} else {
  for (let i = 0; i < total; i++) publish(i);
}
await Promise.race([allAccepted, new Promise((r) => setTimeout(r, 120_000).unref())]);
const elapsed = performance.now() - startedAt;
times.sort((a, b) => a - b);
const at = (q: number) => Math.round((times[Math.min(times.length - 1, Math.floor(times.length * q))] ?? NaN) * 10) / 10;
console.log(JSON.stringify({ commands: total, accepted: times.length, errors, achievedPerSecond: Math.round((times.length / elapsed) * 1000), p50: at(0.5), p99: at(0.99), max: at(1) }));
await client.endAsync();
