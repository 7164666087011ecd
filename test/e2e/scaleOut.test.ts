/**
 * Scale-out: LiveKit's distributed mode (two livekit-server nodes sharing a Redis), two bridge
 * replicas and two agent workers, each bridge and worker on its own node, one broker. A burst of
 * commands for 20 rooms, each sent twice (an app retry: same request_id), must be applied exactly
 * once each, in the order published per room, with the rooms spread over both workers and both
 * nodes. A room hosted on one node is heard through the other, and fails over across nodes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from '../../src/protocol/messages.js';
import { Replicas } from '../../bridge/replicas.js';
import { ARTIFACTS } from '../harness/processes.js';
import { killTree } from '../harness/procTree.js';
import { startRoomcast, trackId, type Roomcast } from '../harness/roomcast.js';
import { RoomServiceClient } from 'livekit-server-sdk';
import { httpUrl } from '../../bridge/roomAgents.js';
import { AGENT_ATTRIBUTE } from '../../src/protocol/messages.js';
import { Listener } from '../harness/listener.js';
import { API_KEY, API_SECRET, startAgent, startBridge, type LiveKitServer, type RoomcastProc } from '../harness/stack.js';

const ROOMS = Array.from({ length: 20 }, (_, i) => `burst-${String(i).padStart(2, '0')}`);
/** Per room, in publish order; the last one decides the final state. */
const SCRIPT = [
  { type: 'start_continuous_music', genre: 'pop' },
  { type: 'set_volume', volume: 20 },
  { type: 'skip_music' },
  { type: 'set_volume', volume: 40 },
  { type: 'pause_music' },
  { type: 'resume_music' },
  { type: 'set_volume', volume: 60 },
];
const HEARD_ROOMS = ROOMS.slice(0, 3);
/** Each worker runs two host processes, each registered with LiveKit on its own. */
const HOST_PROCESSES = 2;
const AGENT_ENV = {
  AGENT_PROCESSES: String(HOST_PROCESSES),
  // 20 rooms that start at once each open and measure songs: on 2 cores the first song may take
  // longer than the default 5 s to come out of ffmpeg. This test is about commands, not CPU.
  LOUDNESS_NORMALIZATION: 'false',
  SONG_START_TIMEOUT_MS: '15000',
  // 17 rooms have no listener: the agent must not leave them (after 60 s by default) mid-burst.
  AGENT_EMPTY_ROOM_MS: '600000',
};
const BRIDGE_ENV = { AGENT_JOIN_TIMEOUT_MS: '60000' };
/** Rooms nobody analyses end paused: 20 playing rooms are more than this 2-core machine encodes. */
const QUIET_END = { type: 'pause_music' };

const measured: Record<string, unknown> = {};
let rc: Roomcast;
let agent2: RoomcastProc;
let bridge2: RoomcastProc;

beforeAll(async () => {
  rc = await startRoomcast(undefined, AGENT_ENV, undefined, { ...BRIDGE_ENV, MQTT_CLIENT_ID: 'bridge-a' }, { nodes: 2 });
  // The second bridge and worker talk to the second node only.
  const nodeB = { ...rc.env, livekitUrl: (rc.livekitNodes[1] as LiveKitServer).url };
  [agent2, bridge2] = await Promise.all([startAgent({ ...nodeB, extra: AGENT_ENV }, 'agent-2'), startBridge({ ...nodeB, extra: { ...BRIDGE_ENV, MQTT_CLIENT_ID: 'bridge-b' } }, 'bridge-2')]);
  // The first bridge must know of the second before the burst, or both would take every room.
  await rc.bridge.waitFor(/"replicas":\["[^"]+","[^"]+"\]/, 15_000);
  const warm = (p: RoomcastProc) => countLines(p, /"msg":"registered worker"/) >= HOST_PROCESSES;
  for (let waited = 0; !(warm(rc.agent) && warm(agent2)) && waited < 90_000; waited += 500) await new Promise((r) => setTimeout(r, 500));
});

afterAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'scale-out-measurements.json'), JSON.stringify(measured, null, 2));
  console.log('scale-out measurements', JSON.stringify(measured));
  await Promise.allSettled([agent2?.stop(), bridge2?.stop()]);
  await rc?.stop();
});

/** `command applied` log lines of both workers' rooms: room → request_ids in the order applied. */
function appliedPerRoom(rooms = ROOMS): Map<string, string[]> {
  const applied = new Map<string, string[]>();
  for (const proc of [rc.agent, agent2]) {
    for (const line of proc.output().split('\n')) {
      if (!line.includes('"msg":"command applied"')) continue;
      const json = line.slice(line.indexOf('{'));
      const { room, request_id: id } = JSON.parse(json) as { room?: string; request_id?: string };
      if (room && id && rooms.includes(room)) applied.set(room, [...(applied.get(room) ?? []), id]);
    }
  }
  return applied;
}

const appliedIn = (proc: RoomcastProc, room: string) =>
  proc
    .output()
    .split('\n')
    .some((l) => l.includes(`"room":"${room}"`) && l.includes('"msg":"command applied"'));
const countLines = (proc: RoomcastProc, pattern: RegExp) =>
  proc
    .output()
    .split('\n')
    .filter((l) => pattern.test(l)).length;

describe('scale-out', () => {
  it('20 rooms, a burst with duplicates: each command applied once, in order, rooms on both workers', async () => {
    const listeners = await Promise.all(HEARD_ROOMS.map((room) => rc.listen(room)));
    const startedAt = Date.now();
    const finals: Array<Promise<Reply>> = [];
    // Interleaved across rooms, each command followed by its retry, all without waiting.
    [...SCRIPT, QUIET_END].forEach((command, step) => {
      for (const room of ROOMS) {
        if (command === QUIET_END && HEARD_ROOMS.includes(room)) continue;
        const withId = { ...command, request_id: `${room}-${step}` };
        finals.push(rc.app.send(room, withId, 120_000).final, rc.app.send(room, withId, 120_000).final);
      }
    });
    const starts = finals.slice(0, 2 * ROOMS.length);
    await Promise.all(starts);
    const allStartedMs = Date.now() - startedAt;
    const replies = await Promise.all(finals);
    const burstMs = Date.now() - startedAt;
    const failed = replies.filter((r) => r.status !== 'done');
    expect(failed.map((r) => `${r.request_id}: ${r.message}`)).toEqual([]);

    // The host processes' log lines can trail the replies.
    let applied = appliedPerRoom();
    for (let waited = 0; waited < 10_000 && ROOMS.some((r) => (applied.get(r)?.length ?? 0) < SCRIPT.length + 1 - Number(HEARD_ROOMS.includes(r))); waited += 200) {
      await new Promise((r) => setTimeout(r, 200));
      applied = appliedPerRoom();
    }
    const expected = (room: string) => [...SCRIPT, ...(HEARD_ROOMS.includes(room) ? [] : [QUIET_END])].map((_, step) => `${room}-${step}`);
    for (const room of ROOMS) expect(applied.get(room), room).toEqual(expected(room));

    // Every room ends where its last command put it, on MQTT and in the agent's attributes.
    for (const room of ROOMS) {
      const end = HEARD_ROOMS.includes(room) ? 'playing' : 'paused';
      await rc.app.waitForState(room, (s) => s.state === end && s.volume === 60, { timeoutMs: 15_000 });
    }
    for (const [i, room] of HEARD_ROOMS.entries()) {
      const listener = listeners[i]!;
      await listener.waitForAgentState((s) => s.state === 'playing' && s.volume === 60);
      // Songs last 4 s and the mirror polls every STATE_POLL_MS: both agree within a second or so.
      const latestRetained = () => trackId(rc.app.states.get(room)?.at(-1)?.state ?? {});
      const attributed = () => trackId(listener.agentState() ?? {});
      for (let waited = 0; latestRetained() !== attributed() && waited < 5_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      const readAt = Date.now();
      const attributes = listener.agentState() ?? {};
      expect(latestRetained()).toBe(trackId(attributes));
      await listener.waitForTone(rc.frequencyOf(trackId(attributes)), { since: readAt - 1_000, timeoutMs: 10_000 });
    }

    // Rooms where a worker applied commands (an agent that joined late and gave way applied none).
    const roomsPerWorker = [rc.agent, agent2].map((p) => new Set(ROOMS.filter((room) => p.output().includes(`"room":"${room}"`) && appliedIn(p, room))).size);
    const deliveredPerBridge = [rc.bridge, bridge2].map((p) => countLines(p, /"msg":"commands? delivered"/));
    const roomsPerNode = rc.livekitNodes.map((node) => ROOMS.filter((room) => rc.redis?.nodeOfRoom(room) === node.nodeId()).length);
    Object.assign(measured, { allStartedMs, burstMs, commands: finals.length, roomsPerWorker, deliveredPerBridge, roomsPerNode });
    expect(
      roomsPerNode.every((n) => n > 0),
      `rooms per node ${roomsPerNode}`,
    ).toBe(true);
    expect(roomsPerWorker.every((n) => n > 0)).toBe(true);
    expect(roomsPerWorker[0]! + roomsPerWorker[1]!).toBe(ROOMS.length);
    expect(deliveredPerBridge.every((n) => n > 0)).toBe(true);

    await Promise.all(ROOMS.map((room) => rc.app.send(room, { type: 'stop_continuous_music' }).final));
  }, 240_000);

  it('a replica killed before delivering: the other takes its rooms over and replays the commands', async () => {
    const owners = new Replicas('bridge-a', 1_000);
    owners.heard('bridge-b', true);
    const room = Array.from({ length: 50 }, (_, i) => `takeover-${i}`).find((r) => owners.owner(r) === 'bridge-b') as string;
    const listener = await rc.listen(room);
    const start = rc.app.send(room, { type: 'start_continuous_music', genre: 'pop', request_id: `${room}-start` }, 60_000);
    const skip = rc.app.send(room, { type: 'skip_music', request_id: `${room}-skip` }, 60_000);
    // bridge-b owns the room: kill it while it waits for the room's first agent.
    await bridge2.waitFor(new RegExp(`"room":"${room}".*dispatched agent`), 10_000);
    const killedAt = Date.now();
    killTree(bridge2.child.pid as number);
    const [started, skipped] = await Promise.all([start.final, skip.final]);
    expect([started.status, skipped.status]).toEqual(['done', 'done']);
    expect(skipped.request_id).toBe(`${room}-skip`);
    await rc.bridge.waitFor(new RegExp(`"room":"${room}".*took over a room`), 1_000);
    const heard = await listener.waitForWindow((w) => w.level > 0.01 && rc.songs.some((song) => Math.abs(w.frequency - song.frequency) < song.frequency * 0.03), {
      since: killedAt,
      timeoutMs: 30_000,
    });
    measured.takeoverToMusicMs = heard.firstFrameAt - killedAt;
    let applied = appliedPerRoom([room]);
    for (let waited = 0; waited < 10_000 && (applied.get(room)?.length ?? 0) < 2; waited += 200) {
      await new Promise((r) => setTimeout(r, 200));
      applied = appliedPerRoom([room]);
    }
    expect(applied.get(room)).toEqual([`${room}-start`, `${room}-skip`]);

    // The service stays online; the dead replica is marked offline by the one that lives on.
    const presence = (topic: string) => rc.app.bridgeStates.get(`roomcast/bridge/${topic}`);
    for (let waited = 0; presence('bridge-b/state')?.state !== 'offline' && waited < 5_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(presence('bridge-b/state')?.state).toBe('offline');
    expect(presence('state')).toEqual({ state: 'online', replicas: ['bridge-a'] });
  }, 90_000);

  it('a room hosted on one node is heard through the other, and fails over to a worker of the other node', async () => {
    const [nodeA, nodeB] = rc.livekitNodes as [LiveKitServer, LiveKitServer];
    const room = 'cross-node';
    // Placed on node B through node A's API; the listener joins through node A.
    await new RoomServiceClient(httpUrl(nodeA.url), API_KEY, API_SECRET).createRoom({ name: room, nodeId: nodeB.nodeId(), emptyTimeout: 300 });
    expect(rc.redis?.nodeOfRoom(room)).toBe(nodeB.nodeId());
    const listener = await Listener.join(nodeA.url, API_KEY, API_SECRET, room);
    try {
      const start = rc.app.send(room, { type: 'start_continuous_music', genre: 'rock' }, 60_000);
      expect((await start.final).status).toBe('done');
      await listener.waitForTone(1320, { since: start.at, timeoutMs: 20_000 });
      // Kill the worker that plays it; the other one, on the other node, takes the room.
      const agent = (await new RoomServiceClient(httpUrl(nodeB.url), API_KEY, API_SECRET).listParticipants(room)).find((p) => p.attributes[AGENT_ATTRIBUTE] !== undefined);
      const job = agent?.identity.replace(/^agent-/, '') ?? '?';
      const [host, other] = rc.agent.output().includes(job) ? [rc.agent, agent2] : [agent2, rc.agent];
      expect(host.output()).toContain(job);
      const killedAt = Date.now();
      killTree(host.child.pid as number);
      await listener.waitForTone(1320, { since: killedAt + 250, timeoutMs: 20_000 });
      const back = listener.onsetAfter(killedAt + 250);
      measured.crossNodeFailoverToMusicMs = back === undefined ? undefined : back - killedAt;
      await other.waitFor(new RegExp(`"room":"${room}".*"msg":"joined room"`), 5_000);
      const state = await rc.app.waitForState(room, (s) => s.state === 'playing', { since: killedAt, timeoutMs: 10_000 });
      expect(state.state.state).toBe('playing');
    } finally {
      await listener.leave();
    }
  }, 90_000);
});
