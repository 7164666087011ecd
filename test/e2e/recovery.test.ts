/**
 * Commands are not lost when parts of the system go away: the agent crashes mid-song, the bridge
 * dies between receiving a command and delivering it, the LiveKit server restarts. Each test
 * provokes it for real and checks what the listener hears; recovery times go to
 * test-artifacts/recovery-measurements.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Listener } from '../harness/listener.js';
import { ARTIFACTS } from '../harness/processes.js';
import { killTree } from '../harness/procTree.js';
import { startRoomcast, trackId, type Roomcast } from '../harness/roomcast.js';
import { AGENT_ATTRIBUTE } from '../../src/protocol/messages.js';
import { API_KEY, API_SECRET, startAgent, startBridge, type RoomcastProc } from '../harness/stack.js';

let rc: Roomcast;
const extra: RoomcastProc[] = [];
const results: Record<string, number> = {};

beforeAll(async () => {
  rc = await startRoomcast();
});

afterAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'recovery-measurements.json'), JSON.stringify(results, null, 2));
  console.log('recovery measurements', JSON.stringify(results));
  await Promise.allSettled(extra.map((p) => p.stop()));
  await rc?.stop();
});

/** Resolves once the listener hears any catalog tone after `since`; returns when. */
async function musicAgain(listener: Listener, since: number, timeoutMs = 30_000): Promise<number> {
  const heard = await listener.waitForWindow((w) => w.level > 0.01 && rc.songs.some((s) => Math.abs(w.frequency - s.frequency) < s.frequency * 0.03), { since, timeoutMs });
  return heard.firstFrameAt;
}

describe('recovery', () => {
  it('an agent killed mid-song (the whole worker, kill -9) is replaced and the music comes back', async () => {
    const { listener, sent: start } = await rc.startIn('agent-crash');
    await musicAgain(listener, start.at);
    const killedAt = Date.now();
    killTree(rc.agent.child.pid as number);
    await listener.waitForSilence({ since: killedAt + 500, timeoutMs: 15_000 });
    const replacement = await startAgent({ ...rc.env, extra: {} }, 'agent-replacement');
    extra.push(replacement);
    const back = await musicAgain(listener, killedAt + 500, 40_000);
    results.agentCrashToMusicMs = back - killedAt;
    await rc.app.waitForState('agent-crash', (s) => s.state === 'playing', { since: killedAt });
  });

  it('a bridge killed between receiving a start and delivering it: another bridge delivers it', async () => {
    const room = 'bridge-crash';
    const listener = await rc.listen(room);
    const bridge = rc.bridge;
    const sentAt = Date.now();
    rc.app.send(room, { type: 'start_continuous_music', genre: 'rock' });
    // The room has no agent yet: kill the bridge while it waits for the dispatched one.
    await bridge.waitFor(new RegExp(`"room":"${room}".*dispatched agent|dispatched agent.*"room":"${room}"`), 10_000);
    killTree(bridge.child.pid as number);
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(listener.windows.filter((w) => w.at >= sentAt && w.level > 0.01)).toHaveLength(0);
    const replacement = await startBridge(rc.env, 'bridge-replacement');
    extra.push(replacement);
    await listener.waitForTone(1320, { since: killedAt, timeoutMs: 30_000 });
    results.bridgeCrashToMusicMs = (listener.windows.find((w) => w.at >= killedAt && w.level > 0.01)?.firstFrameAt ?? NaN) - killedAt;
  });

  it('a LiveKit server restart: the room comes back with its music when listeners return', async () => {
    const room = 'livekit-restart';
    const listener = await rc.listen(room);
    const start = rc.app.send(room, { type: 'start_continuous_music', genre: 'rock' });
    const done = await start.final;
    expect(trackId(done.result as unknown as Record<string, unknown>)).toBe('b1320');
    await listener.waitForTone(1320, { since: start.at });
    const restartedAt = Date.now();
    await rc.livekit.restart();
    // A listener's app reconnects to the new server (rtc-node's own resume cannot: the room is gone).
    await listener.leave().catch(() => undefined);
    const back = await Listener.join(rc.livekit.url, API_KEY, API_SECRET, room);
    try {
      await back.waitForTone(1320, { since: restartedAt, timeoutMs: 45_000 });
      results.livekitRestartToMusicMs = (back.windows.find((w) => w.level > 0.01)?.firstFrameAt ?? NaN) - restartedAt;
    } finally {
      await back.leave();
    }
  });

  it('an agent that lost its track (a LiveKit restart gone wrong) is removed and the room restored', async () => {
    // What a failed republish after a LiveKit restart leaves: a participant that is the room's
    // agent by its attributes and looks ready, but publishes nothing.
    const room = 'trackless-agent';
    const listener = await rc.listen(room);
    const zombie = await Listener.join(rc.livekit.url, API_KEY, API_SECRET, room, { identity: 'agent-zombie', attributes: { [AGENT_ATTRIBUTE]: 'roomcast-test' } });
    const start = rc.app.send(room, { type: 'start_continuous_music', genre: 'rock' });
    await listener.waitForTone(1320, { since: start.at, timeoutMs: 40_000 });
    expect(zombie.disconnectedAt).toBeDefined();
    results.tracklessAgentToMusicMs = (listener.windows.find((w) => w.at >= start.at && w.level > 0.01)?.firstFrameAt ?? NaN) - start.at;
    // The restored start carries the original request_id: the replacement confirms the app's command.
    expect((await start.final).status).toBe('done');
  });
});
