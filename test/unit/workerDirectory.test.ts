import { describe, expect, it } from 'vitest';
import { encodeReport, parseReport, parseWorkerPresence, WORKER_STALE_MS, type AgentReport } from '../../src/protocol/agentReports.js';
import { WorkerDirectory } from '../../bridge/workerDirectory.js';

const report = (worker: string, identity: string, present = true): AgentReport => ({ worker, identity, present, listeners: 1, state: { state: 'playing' }, results: [], received: [] });

describe('agent reports', () => {
  it('round-trip from the JSON parts an agent holds', () => {
    const json = encodeReport({
      worker: 'w1',
      identity: 'agent-J1',
      present: true,
      listeners: 2,
      stateJson: '{"state":"playing"}',
      resultsJson: '[{"type":"music_skipped","ok":true,"message":"Skipped","request_id":"r1"}]',
      receivedJson: '["r1"]',
    });
    expect(parseReport(json)).toEqual({
      worker: 'w1',
      identity: 'agent-J1',
      present: true,
      listeners: 2,
      state: { state: 'playing' },
      results: [{ type: 'music_skipped', ok: true, message: 'Skipped', request_id: 'r1' }],
      received: ['r1'],
    });
  });

  it('are refused when they are not reports, never thrown', () => {
    for (const bad of ['', 'nope', '[]', '{"worker":1}', '{"worker":"w","identity":"a","present":"yes","listeners":1}']) expect(parseReport(bad)).toBeUndefined();
    expect(parseWorkerPresence('{"state":"offline"}')).toEqual({ state: 'offline' });
    expect(parseWorkerPresence('{"state":"gone"}')).toBeUndefined();
  });
});

describe('WorkerDirectory', () => {
  it("knows each room's worker from its reports, and the rooms a worker leaves behind when it goes offline", () => {
    const directory = new WorkerDirectory();
    directory.report('a', report('w1', 'agent-1'));
    directory.report('b', report('w1', 'agent-2'));
    directory.report('c', report('w2', 'agent-3'));
    expect(directory.reporting('a')).toEqual({ room: 'a', worker: 'w1', identity: 'agent-1' });
    expect(directory.presence('w1', { state: 'offline' })).toEqual([
      { room: 'a', worker: 'w1', identity: 'agent-1' },
      { room: 'b', worker: 'w1', identity: 'agent-2' },
    ]);
    expect(directory.reporting('a')).toBeUndefined();
    expect(directory.reporting('c')).toBeDefined();
    expect(directory.presence('w1', { state: 'offline' })).toEqual([]);
  });

  it('takes an agent leaving only from the agent it knows for the room', () => {
    const directory = new WorkerDirectory();
    directory.report('a', report('w1', 'agent-1'));
    // Another agent joined and gave way: its leaving changes nothing.
    expect(directory.report('a', report('w2', 'agent-9', false))).toBe('unchanged');
    expect(directory.reporting('a')?.identity).toBe('agent-1');
    expect(directory.report('a', report('w1', 'agent-1', false))).toBe('left');
    expect(directory.reporting('a')).toBeUndefined();
  });

  it('stops trusting the reports of a worker gone silent, and forgets it later', () => {
    let now = 0;
    const directory = new WorkerDirectory(() => now);
    directory.report('a', report('w1', 'agent-1'));
    now = WORKER_STALE_MS;
    expect(directory.reporting('a')).toBeDefined();
    now = WORKER_STALE_MS + 1;
    expect(directory.reporting('a')).toBeUndefined();
    expect(directory.agentOf('a')).toBeDefined();
    directory.presence('w1', { state: 'online' });
    expect(directory.reporting('a')).toBeDefined();
    now += 10 * WORKER_STALE_MS + 1;
    directory.sweep();
    expect(directory.agentOf('a')).toBeUndefined();
    expect(directory.workerCount).toBe(0);
  });
});

describe('WorkerDirectory capacity', () => {
  it('is none only when every live worker said it is full or draining, unknown when one did not say', () => {
    let now = 0;
    const workers = new WorkerDirectory(() => now);
    expect(workers.capacity()).toBe('unknown');
    workers.presence('w1', { state: 'online', rooms: 2, capacity: 2 });
    expect(workers.capacity()).toBe('none');
    workers.presence('w2', { state: 'online', rooms: 1, capacity: 2 });
    expect(workers.capacity()).toBe('some');
    workers.presence('w2', { state: 'draining', rooms: 1, capacity: 2 });
    expect(workers.capacity()).toBe('none');
    // A room report keeps what the worker last said of its capacity.
    workers.report('r', report('w1', 'agent-1'));
    expect(workers.capacity()).toBe('none');
    workers.presence('w3', { state: 'online' });
    expect(workers.capacity()).toBe('unknown');
    workers.presence('w1', { state: 'online', rooms: 1, capacity: 2 });
    expect(workers.capacity()).toBe('some');
    // Workers unheard for long do not count.
    now = WORKER_STALE_MS + 1;
    expect(workers.capacity()).toBe('unknown');
    expect(parseWorkerPresence('{"state":"online","rooms":3,"capacity":4}')).toEqual({ state: 'online', rooms: 3, capacity: 4 });
  });
});
