import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentView, RoomView } from '../../bridge/roomAgents.js';
import { RoomWatcher, STOPPED_NO_AGENT } from '../../bridge/roomWatcher.js';

let watcher: RoomWatcher | undefined;
afterEach(() => watcher?.stop());

function make(view: () => AgentView | undefined) {
  const states: Array<[string, Record<string, unknown>]> = [];
  const read = async (): Promise<RoomView> => {
    const agent = view();
    return agent ? { listeners: 1, agent } : { listeners: 1 };
  };
  watcher = new RoomWatcher({ read, onState: (room, state) => states.push([room, state]), log: pino({ level: 'silent' }), idleMs: 20, busyMs: 5 });
  return { watcher, states };
}

describe('RoomWatcher', () => {
  it('resolves every waiter of a request_id once the agent confirms it', async () => {
    let results: AgentView['results'] = [];
    const { watcher } = make(() => ({ identity: 'agent', publishing: true, state: { state: 'playing' }, results, received: [] }));
    const a = watcher.awaitResult('r', 'id-1', 1_000);
    const b = watcher.awaitResult('r', 'id-1', 1_000);
    setTimeout(() => (results = [{ type: 'music_skipped', ok: true, message: 'Skipped', request_id: 'id-1' }]), 30);
    expect(await a).toMatchObject({ request_id: 'id-1', ok: true });
    expect(await b).toMatchObject({ request_id: 'id-1', ok: true });
  });

  it('counts a packet as received once any of its commands is listed as received or confirmed', async () => {
    let agent: AgentView = { identity: 'agent', publishing: true, state: {}, results: [], received: ['old'] };
    const { watcher } = make(() => agent);
    const byReceipt = watcher.awaitReceipt('r', ['id-1', 'id-2'], 1_000);
    const byResult = watcher.awaitReceipt('r', ['id-3'], 1_000);
    const never = watcher.awaitReceipt('r', ['id-4'], 50);
    setTimeout(() => (agent = { ...agent, received: ['old', 'id-2'], results: [{ type: 'music_skipped', ok: true, message: 'Skipped', request_id: 'id-3' }] }), 20);
    expect(await Promise.all([byReceipt, byResult, never])).toEqual([true, true, false]);
  });

  it("knows whether the room's agent has acknowledged a packet yet", async () => {
    let agent: AgentView = { identity: 'agent', publishing: true, state: {}, results: [], received: [] };
    const { watcher } = make(() => agent);
    watcher.watch('r');
    await new Promise((r) => setTimeout(r, 30));
    expect(watcher.agentHearsPackets('r')).toBe(false);
    agent = { ...agent, received: ['id-1'] };
    await new Promise((r) => setTimeout(r, 60));
    expect(watcher.agentHearsPackets('r')).toBe(true);
  });

  it('knows whether a recent reading found the agent in the room', async () => {
    let agent: AgentView | undefined = { identity: 'agent', publishing: true, state: {}, results: [], received: [] };
    const { watcher } = make(() => agent);
    expect(watcher.agentSeenWithin('r', 1_000)).toBe(false);
    watcher.watch('r');
    await new Promise((r) => setTimeout(r, 30));
    expect(watcher.agentSeenWithin('r', 1_000)).toBe(true);
    expect(watcher.agentSeenWithin('r', 0)).toBe(false);
    agent = undefined;
    await new Promise((r) => setTimeout(r, 60));
    expect(watcher.agentSeenWithin('r', 1_000)).toBe(false);
  });

  it('gives up after the timeout', async () => {
    const { watcher } = make(() => ({ identity: 'agent', publishing: true, state: {}, results: [], received: [] }));
    expect(await watcher.awaitResult('r', 'never', 50)).toBeUndefined();
  });

  it('reports state changes only, and a room without agent as stopped before forgetting it', async () => {
    let view: AgentView | undefined = { identity: 'agent', publishing: true, state: { state: 'playing', updated_at: 1 }, results: [], received: [] };
    const { watcher, states } = make(() => view);
    watcher.watch('r');
    await new Promise((r) => setTimeout(r, 60));
    view = { identity: 'agent', publishing: true, state: { state: 'playing', updated_at: 2 }, results: [], received: [] };
    await new Promise((r) => setTimeout(r, 60));
    expect(states).toEqual([['r', { state: 'playing', updated_at: 1 }]]);
    view = undefined;
    await new Promise((r) => setTimeout(r, 60));
    expect(states.at(-1)).toEqual(['r', STOPPED_NO_AGENT]);
    const count = states.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(states.length).toBe(count);
  });
});

describe('RoomWatcher with reporting agents', () => {
  it('settles confirmations from pushed views and reads LiveKit only as a safety net', async () => {
    let reads = 0;
    const agent: AgentView = { identity: 'agent', state: { state: 'playing' }, results: [], received: [] };
    const states: Array<Record<string, unknown>> = [];
    watcher = new RoomWatcher({
      read: async () => {
        reads++;
        return { listeners: 1, agent: { ...agent, publishing: true } };
      },
      onState: (_room, state) => states.push(state),
      reporting: () => true,
      log: pino({ level: 'silent' }),
      idleMs: 5,
      busyMs: 5,
      reportedMs: { idle: 60_000, busy: 60_000 },
    });
    watcher.observe('r', { listeners: 1, agent });
    const confirmed = watcher.awaitResult('r', 'id-1', 1_000);
    watcher.observe('r', { listeners: 1, agent: { ...agent, state: { state: 'paused' }, results: [{ type: 'music_paused', ok: true, message: 'Paused', request_id: 'id-1' }] } });
    expect(await confirmed).toMatchObject({ request_id: 'id-1' });
    await new Promise((r) => setTimeout(r, 50));
    expect(reads).toBe(0);
    expect(states).toEqual([{ state: 'playing' }, { state: 'paused' }]);
  });

  it('reads the room at once when asked (its agent left), after a reading already under way', async () => {
    let reads = 0;
    let release: () => void = () => undefined;
    watcher = new RoomWatcher({
      read: async () => {
        reads++;
        if (reads === 1) await new Promise<void>((r) => (release = r));
        return { listeners: 1 };
      },
      onState: () => undefined,
      keep: () => true,
      log: pino({ level: 'silent' }),
      idleMs: 60_000,
      busyMs: 60_000,
    });
    watcher.watch('r');
    await new Promise((r) => setTimeout(r, 10));
    watcher.refresh('r');
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(reads).toBe(2);
  });

  it('does not follow a room for a pushed view that `keep` refuses', () => {
    const counts: number[] = [];
    watcher = new RoomWatcher({
      read: async () => ({ listeners: 0 }),
      onState: () => undefined,
      keep: () => false,
      onRoomsChanged: (n) => counts.push(n),
      log: pino({ level: 'silent' }),
      idleMs: 5,
      busyMs: 5,
    });
    watcher.observe('r', { listeners: 0, agent: { identity: 'a', state: {}, results: [], received: [] } });
    expect(counts).toEqual([]);
  });
});
