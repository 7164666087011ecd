/** What a host process claims and reports to LiveKit, with a fake link (no rooms are joined here). */
import type { Job } from '@livekit/protocol';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RoomHost } from '../../agent/roomHost.js';
import type { WorkerLink } from '../../agent/workerLink.js';
import { loadAgentConfig } from '../../src/config.js';
import type { Catalog } from '../../src/music/catalog.js';

const config = loadAgentConfig({ LIVEKIT_URL: 'ws://x', LIVEKIT_API_KEY: 'k', LIVEKIT_API_SECRET: 's', MUSIC_CATALOG: 'c.json', AGENT_MAX_ROOMS: '2', ROOMCAST_AGENT_NAME: 'rc' });
const job = (id: string) => ({ id, room: { name: `room-${id}` } }) as unknown as Job;

function makeHost() {
  const reports: number[] = [];
  const host = new RoomHost({ config, catalog: {} as Catalog, log: pino({ level: 'silent' }), metrics: { report: () => undefined, close: () => undefined } as never });
  const link = { reportStatus: () => reports.push(host.load().load), jobEnded: vi.fn() } as unknown as WorkerLink;
  host.attach(link);
  return { host, reports };
}

describe('RoomHost', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('claims offers up to AGENT_MAX_ROOMS, with the identity and name the bridge looks for', () => {
    const { host, reports } = makeHost();
    expect(host.offer(job('A'))).toEqual({ identity: 'agent-A', name: 'roomcast:rc' });
    expect(host.offer(job('B'))).toBeDefined();
    expect(host.offer(job('C'))).toBeUndefined();
    // A claim counts at once: LiveKit must not offer more while assignments are on their way.
    expect(host.load()).toEqual({ load: 0.7, full: true });
    expect(reports).toEqual([0.35, 0.7]);
  });

  it('lets a claim go when no assignment follows (the server gave the room to another worker)', () => {
    const { host } = makeHost();
    host.offer(job('A'));
    host.offer(job('B'));
    vi.advanceTimersByTime(10_000);
    expect(host.load()).toEqual({ load: 0, full: false });
    expect(host.offer(job('C'))).toBeDefined();
  });

  it('takes no more rooms once draining', async () => {
    const { host } = makeHost();
    await host.drain();
    expect(host.load().full).toBe(true);
    expect(host.offer(job('A'))).toBeUndefined();
  });
});
