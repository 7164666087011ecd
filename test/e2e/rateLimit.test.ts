/**
 * One app floods its session with 1,000 commands a second for 10 s: past its rate (20/s, bursts
 * of 40) it gets `rate_limited` replies and nothing is queued for its room; another session's
 * commands go on being applied; the bridge's memory stays bounded. Figures go to
 * test-artifacts/rate-limit-measurements.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from '../../src/protocol/messages.js';
import { ARTIFACTS } from '../harness/processes.js';
import { startRoomcast, type Roomcast } from '../harness/roomcast.js';

let rc: Roomcast;
const measured: Record<string, number> = {};

beforeAll(async () => {
  rc = await startRoomcast(undefined, {}, undefined, {}, { quiet: true });
});

afterAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'rate-limit-measurements.json'), JSON.stringify(measured, null, 2));
  console.log('rate limit measurements', JSON.stringify(measured));
  await rc?.stop();
});

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * 0.99))] ?? NaN;

/** A calm session's commands, one every 100 ms for `ms`: each one's time to its final reply. */
async function calmCommands(ms: number): Promise<number[]> {
  const timed: Array<Promise<{ reply: Reply; ms: number }>> = [];
  for (let at = 0; at < ms; at += 100) {
    const sent = rc.app.send('calm', { type: 'set_volume', volume: 30 + (at % 50) });
    // Timed when the reply arrives, not when the last command has been sent.
    timed.push(sent.final.then((reply) => ({ reply, ms: Date.now() - sent.at })));
    await new Promise((r) => setTimeout(r, 100));
  }
  const replies = await Promise.all(timed);
  expect(replies.filter((r) => r.reply.status !== 'done')).toEqual([]);
  return replies.map((r) => r.ms);
}

describe('per-session rate limit', () => {
  it('a session at 1,000 commands/s for 10 s is refused past its rate; other sessions are served', async () => {
    // The calm room has its agent before the baseline is measured.
    expect(await rc.app.send('calm', { type: 'start_continuous_music' }).final).toMatchObject({ status: 'done' });
    expect(await rc.app.send('flood', { type: 'set_volume', volume: 50 }).final).toMatchObject({ status: 'done' });
    await new Promise((r) => setTimeout(r, 1_200)); // the flood session's bucket refills
    const baseline = await calmCommands(3_000);

    const bridgePid = rc.bridge.child.pid as number;
    const rssBefore = rssMiB(bridgePid);
    const flooder = await mqtt.connectAsync(rc.broker.url, { protocolVersion: 5 });
    const flooding = (async () => {
      const startedAt = Date.now();
      for (let i = 0; i < 10_000; i++) {
        flooder.publish('roomcast/flood/command', JSON.stringify({ type: 'set_volume', volume: i % 100, request_id: `flood-${i}` }), { qos: 0 });
        // 1,000 a second, in slices of 10 every 10 ms.
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, Math.max(0, startedAt + (i + 1) - Date.now())));
      }
      return Date.now() - startedAt;
    })();
    const during = await calmCommands(9_000);
    measured.floodSeconds = (await flooding) / 1000;
    await flooder.endAsync();
    await new Promise((r) => setTimeout(r, 3_000));

    const floodReplies = rc.app.replies.filter((r) => r.topic === 'roomcast/flood/reply' && r.reply.request_id?.startsWith('flood-'));
    const limited = floodReplies.filter((r) => r.reply.error?.code === 'rate_limited');
    const accepted = new Set(floodReplies.filter((r) => r.reply.status === 'accepted').map((r) => r.reply.request_id));
    measured.floodLimited = limited.length;
    measured.floodAccepted = accepted.size;
    measured.calmP50BaselineMs = median(baseline);
    measured.calmP99BaselineMs = p99(baseline);
    measured.calmP50DuringFloodMs = median(during);
    measured.calmP99DuringFloodMs = p99(during);
    measured.bridgeRssBeforeMiB = Math.round(rssBefore);
    measured.bridgeRssAfterMiB = Math.round(rssMiB(bridgePid));
    // 40 at once, then 20 a second: about 240 of 10,000 get through, the rest are refused.
    expect(accepted.size).toBeGreaterThan(150);
    expect(accepted.size).toBeLessThan(400);
    expect(limited.length).toBeGreaterThan(9_000);
    expect(limited[0]?.reply).toMatchObject({ ok: false, status: 'error', error: { code: 'rate_limited' } });
    // Refused commands were never queued: the agent applied only what got through.
    const applied = rc.agent.output().split('\n').filter((l) => l.includes('"room":"flood"') && l.includes('"msg":"command applied"')).length;
    expect(applied).toBeLessThanOrEqual(accepted.size + 1);
    // One log line a second for the flooding session, not one per refused command.
    const logged = rc.bridge.output().split('\n').filter((l) => l.includes('session over its rate limit')).length;
    expect(logged).toBeLessThanOrEqual(15);
    expect(measured.bridgeRssAfterMiB - measured.bridgeRssBeforeMiB).toBeLessThan(100);
  });
});
