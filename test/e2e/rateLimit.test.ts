/**
 * One app floods its session with 1,000 commands a second for 10 s: past its rate (20/s, bursts
 * of 40) it gets `rate_limited` replies and nothing is queued for its room; another session's
 * commands go on being applied; the bridge's memory stays bounded. Figures go to
 * test-artifacts/rate-limit-measurements.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { App } from '../harness/app.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

/**
 * A calm session's commands, one every 100 ms for `ms`, from a client of their own that hears only
 * its own replies (MQTT 5 response topic): each one's time to its final reply.
 */
async function calmCommands(calm: MqttClient, ms: number): Promise<number[]> {
  const timed: Array<Promise<{ status: string; ms: number }>> = [];
  for (let at = 0; at < ms; at += 100) {
    const correlation = `calm-${Date.now()}-${at}`;
    const sentAt = Date.now();
    timed.push(
      new Promise((resolve) => {
        const onReply = (_topic: string, payload: Buffer, packet: { properties?: { correlationData?: Buffer } }) => {
          const reply = JSON.parse(payload.toString()) as { status: string };
          if (packet.properties?.correlationData?.toString() !== correlation || reply.status === 'accepted') return;
          calm.off('message', onReply);
          resolve({ status: reply.status, ms: Date.now() - sentAt });
        };
        calm.on('message', onReply);
      }),
    );
    calm.publish('roomcast/calm/command', JSON.stringify({ type: 'set_volume', volume: 30 + (at % 50) }), {
      qos: 1,
      properties: { responseTopic: CALM_RESPONSES, correlationData: Buffer.from(correlation) },
    });
    await new Promise((r) => setTimeout(r, 100));
  }
  const replies = await Promise.all(timed);
  expect(replies.filter((r) => r.status !== 'done')).toEqual([]);
  return replies.map((r) => r.ms);
}

const CALM_RESPONSES = 'roomcast/calm/reply/probe';
const execFileAsync = promisify(execFile);

describe('per-session rate limit', () => {
  it('a session at 1,000 commands/s for 10 s is refused past its rate; other sessions are served', async () => {
    // The calm room has its agent before the baseline is measured.
    expect(await rc.app.send('calm', { type: 'start_continuous_music' }).final).toMatchObject({ status: 'done' });
    expect(await rc.app.send('flood', { type: 'set_volume', volume: 50 }).final).toMatchObject({ status: 'done' });
    await new Promise((r) => setTimeout(r, 1_200)); // the flood session's bucket refills
    // The test's app hears every session's replies: closed while the flood runs, so that this
    // process measures the calm session only; the flood comes from a process of its own.
    await rc.app.close();
    const calm = await mqtt.connectAsync(rc.broker.url, { protocolVersion: 5 });
    await calm.subscribeAsync(CALM_RESPONSES, { qos: 1 });
    const baseline = await calmCommands(calm, 3_000);

    const bridgePid = rc.bridge.child.pid as number;
    const rssBefore = rssMiB(bridgePid);
    const flooding = execFileAsync(process.execPath, [join(process.cwd(), 'dist/test/harness/flood.js'), JSON.stringify({ url: rc.broker.url, session: 'flood', count: 10_000, perSecond: 1_000 })]);
    const during = await calmCommands(calm, 9_000);
    const flood = JSON.parse((await flooding).stdout) as { seconds: number; limited: number; accepted: string[] };
    await calm.endAsync();
    rc.app = await App.connect(rc.broker.url);
    measured.floodSeconds = flood.seconds;
    measured.floodLimited = flood.limited;
    measured.floodAccepted = flood.accepted.length;
    measured.calmP50BaselineMs = median(baseline);
    measured.calmP99BaselineMs = p99(baseline);
    measured.calmP50DuringFloodMs = median(during);
    measured.calmP99DuringFloodMs = p99(during);
    measured.bridgeRssBeforeMiB = Math.round(rssBefore);
    measured.bridgeRssAfterMiB = Math.round(rssMiB(bridgePid));
    const accepted = new Set(flood.accepted);
    const limited = flood.limited;
    // 40 at once, then 20 a second: about 240 of 10,000 get through, the rest are refused.
    expect(accepted.size).toBeGreaterThan(150);
    expect(accepted.size).toBeLessThan(400);
    expect(limited).toBeGreaterThan(9_000);
    // Refused commands were never queued: the agent applied only what got through.
    const applied = rc.agent
      .output()
      .split('\n')
      .filter((l) => l.includes('"room":"flood"') && l.includes('"msg":"command applied"')).length;
    expect(applied).toBeLessThanOrEqual(accepted.size + 1);
    // One log line a second for the flooding session, not one per refused command.
    const logged = rc.bridge
      .output()
      .split('\n')
      .filter((l) => l.includes('session over its rate limit')).length;
    expect(logged).toBeLessThanOrEqual(15);
    expect(measured.bridgeRssAfterMiB - measured.bridgeRssBeforeMiB).toBeLessThan(100);
  });
});
