/**
 * Rooms deleted while their music plays: rtc-node keeps each one's audio source capture task
 * running for the life of the process (docs/ARCHITECTURE.md). A host process with no rooms left
 * and AGENT_RECYCLE_AFTER_LEAKS of them behind starts afresh, and plays the next room as before.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../harness/processes.js';
import { processTree } from '../harness/procTree.js';
import { startRoomcast, type Roomcast } from '../harness/roomcast.js';
import { API_KEY, API_SECRET } from '../harness/stack.js';

let rc: Roomcast;

beforeAll(async () => {
  rc = await startRoomcast(undefined, { AGENT_PROCESSES: '1', AGENT_RECYCLE_AFTER_LEAKS: '2' });
});

afterAll(async () => {
  await rc?.stop();
});

/** Threads of the agent's processes named like rtc-node's audio source capture task. */
function captureThreads(): number {
  let count = 0;
  for (const { pid } of processTree(rc.agent.child.pid as number)) {
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) if (readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').startsWith('AudioSourceCapt')) count++;
    } catch {
      // exited meanwhile
    }
  }
  return count;
}

describe('a host process that rtc-node left tracks in', () => {
  it('starts afresh once it has no rooms, and plays the next room', async () => {
    const api = new RoomServiceClient(rc.livekit.url.replace(/^ws/, 'http'), API_KEY, API_SECRET);
    const rooms = ['deleted-while-playing-1', 'deleted-while-playing-2'];
    for (const room of rooms) {
      const { listener, sent } = await rc.startIn(room);
      await listener.waitForWindow((w) => w.level > 0.01, { since: sent.at, timeoutMs: 15_000 });
      await listener.leave();
    }
    expect(captureThreads()).toBeGreaterThanOrEqual(2);
    for (const room of rooms) await api.deleteRoom(room);
    await waitUntil(() => rc.agent.output().includes('host process recycled'), 20_000, 'the host process to be recycled');
    await waitUntil(() => captureThreads() === 0, 10_000, 'no capture task left');
    // The fresh host registers and plays.
    await waitUntil(() => (rc.agent.output().match(/registered worker/g) ?? []).length >= 2, 20_000, 'the fresh host to register');
    const { listener, sent } = await rc.startIn('after-recycle');
    await listener.waitForWindow((w) => w.level > 0.01, { since: sent.at, timeoutMs: 20_000 });
  });
});
