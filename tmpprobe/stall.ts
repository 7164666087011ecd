import { readFileSync } from 'node:fs';
import { startRoomcast } from '../test/harness/roomcast.js';
const N = Number(process.env.N ?? 10);
const LISTEN = Number(process.env.LISTEN ?? 0);
const tones = Array.from({ length: N }, (_, i) => ({ id: `t${i}`, frequency: 330 + 110 * i, format: 'flac' as const, seconds: 30, language: 'English', genre: `g${i}` }));
const rc = await startRoomcast(tones, { AGENT_PROCESSES: '1', AGENT_EMPTY_ROOM_MS: '600000', LOG_LEVEL: 'debug' }, undefined, {}, { quiet: false });
const cpu = () => readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
for (let i = 0; i < N; i++) {
  if (i < LISTEN) await rc.listen(`s${i}`);
  await rc.app.send(`s${i}`, { type: 'start_continuous_music', genre: `g${i}` }).final;
}
const a = cpu();
await new Promise((r) => setTimeout(r, 30_000));
const b = cpu();
const d = b.map((v, i) => v - a[i]!);
const total = d.reduce((x, y) => x + y, 0);
console.log('machine busy %', Math.round(100 * (1 - (d[3]! + d[4]!) / total)));
console.log(rc.agent.output().split('\n').filter((l) => l.includes('event loop')).slice(-4).map((l) => l.slice(l.indexOf('"maxMs"'), l.indexOf(',"msg"'))).join('\n'));
await rc.stop();
process.exit(0);
