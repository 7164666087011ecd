/**
 * The bridge's parts, each with the state it owns: desired states, other replicas' commands,
 * delivery of a room's commands, restores. LiveKit is a fake that keeps rooms in memory and
 * answers packets as an agent would (receipts and confirmations in its view of the room).
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DesiredStates } from '../../bridge/desiredStates.js';
import { NoAgentError, type AgentView, type RoomView } from '../../bridge/roomAgents.js';
import { RoomDelivery, type AgentDelivery, type Outgoing } from '../../bridge/roomDelivery.js';
import { RoomRestorer } from '../../bridge/roomRestorer.js';
import { RoomWatcher } from '../../bridge/roomWatcher.js';
import { Takeover, TAKEOVER_WINDOW_MS } from '../../bridge/takeover.js';
import { WorkerDirectory } from '../../bridge/workerDirectory.js';
import { parseCommandPacket, type Command } from '../../src/protocol/commands.js';
import { CONFIRMATION_TYPE, type Reply } from '../../src/protocol/messages.js';

const log = pino({ level: 'silent' });

/** LiveKit as the bridge sees it: rooms with an agent that receives and confirms what it is sent. */
class FakeLiveKit implements AgentDelivery {
  readonly rooms = new Map<string, { listeners: number; agent?: AgentView }>();
  readonly calls: string[] = [];
  readonly applied: Array<[room: string, requestId: string]> = [];
  /** Agents that a dispatch brings in (by room); rooms not listed get none. */
  dispatchable = new Set<string>();
  /** Whether agents apply what they receive (false: they only acknowledge it, like one about to be disconnected). */
  confirming = true;

  async ensureAgent(room: string, _timeoutMs: number, options: { replaceDispatch?: boolean; alongside?: string } = {}): Promise<'present' | 'dispatched'> {
    this.calls.push(`ensureAgent ${room}${options.replaceDispatch ? ' replace' : ''}${options.alongside ? ` alongside ${options.alongside}` : ''}`);
    const entry = this.rooms.get(room) ?? { listeners: 0 };
    if (entry.agent && entry.agent.identity !== options.alongside) return 'present';
    if (!this.dispatchable.has(room)) throw new NoAgentError('no worker');
    entry.agent = { identity: `agent-${this.calls.length}`, publishing: true, state: { state: 'stopped' }, results: [], received: [] };
    this.rooms.set(room, entry);
    return 'dispatched';
  }

  async sendData(room: string, payload: Uint8Array): Promise<void> {
    this.calls.push(`sendData ${room}`);
    const agent = this.rooms.get(room)?.agent;
    if (!agent) return; // LiveKit drops it silently
    for (const parsed of parseCommandPacket(payload, 14_000)) {
      if (!parsed.ok) continue;
      const id = parsed.command.request_id as string;
      agent.received = [...agent.received, id];
      if (!this.confirming || agent.results.some((r) => r.request_id === id)) continue;
      this.applied.push([room, id]);
      agent.results = [...agent.results, { type: CONFIRMATION_TYPE[parsed.command.type], ok: true, message: 'applied', request_id: id }];
      if (parsed.command.type === 'start_continuous_music') agent.state = { state: 'playing' };
    }
  }

  async roomView(room: string): Promise<RoomView> {
    this.calls.push(`roomView ${room}`);
    const entry = this.rooms.get(room);
    return entry ? { listeners: entry.listeners, ...(entry.agent ? { agent: { ...entry.agent } } : {}) } : { listeners: 0 };
  }

  async remove(room: string, identity: string): Promise<void> {
    this.calls.push(`remove ${room} ${identity}`);
    const entry = this.rooms.get(room);
    if (entry?.agent?.identity === identity) delete entry.agent;
  }
}

const watchers: RoomWatcher[] = [];
afterEach(() => watchers.splice(0).forEach((w) => w.stop()));

function parts(owns: (room: string) => boolean = () => true, capacity?: () => 'some' | 'none' | 'unknown') {
  const livekit = new FakeLiveKit();
  const saved: Array<[string, string]> = [];
  const desired = new DesiredStates(async (room, json) => saved.push([room, json]), log);
  const workers = new WorkerDirectory();
  // The watcher hands its readings to the restorer, which is built on the watcher.
  const late: { restorer?: RoomRestorer } = {};
  const watcher = new RoomWatcher({
    read: (room) => livekit.roomView(room),
    reconcile: (room, view) => late.restorer?.reconcile(room, view),
    onState: () => undefined,
    keep: () => true,
    log,
    idleMs: 20,
    busyMs: 5,
  });
  watchers.push(watcher);
  const delivery = new RoomDelivery({ agents: livekit, watcher, desired, agentKnown: () => false, agentJoinTimeoutMs: 1_000, resultTimeoutMs: 1_000, ...(capacity ? { capacity } : {}), log });
  const restorer = new RoomRestorer({ agents: livekit, delivery, desired, watcher, workers, owns, agentJoinTimeoutMs: 1_000, log });
  late.restorer = restorer;
  return { livekit, saved, desired, workers, watcher, delivery, restorer };
}

function outgoing(command: Command & { request_id: string }, desired: DesiredStates, room: string, replies: Reply[]): Outgoing {
  return {
    command,
    desired: desired.apply(room, command),
    reply: (r) => replies.push({ type: 'reply', session_id: room, ...r }),
    fail: (code, reason) => replies.push({ type: 'reply', session_id: room, ok: false, status: 'error', message: reason, request_id: command.request_id, error: { code, reason } }),
  };
}

const until = async (check: () => boolean, ms = 2_000) => {
  for (let waited = 0; !check() && waited < ms; waited += 10) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe('DesiredStates', () => {
  it('keeps what each room should play, and ignores an older state heard back from the broker', () => {
    const desired = new DesiredStates(async () => undefined, log);
    const start = { type: 'start_continuous_music' as const, source: 'playlist' as const, request_id: 's1' };
    expect(desired.apply('r', start)?.playing).toBe(true);
    expect(desired.shouldPlay('r')?.request_id).toBe('s1');
    expect(desired.heard('r', Buffer.from(JSON.stringify({ playing: false, updated_at: 1 })))).toBe(false);
    expect(desired.heard('r', Buffer.from('not json'))).toBe(false);
    expect(desired.heard('r', Buffer.from(JSON.stringify({ playing: false, updated_at: Date.now() + 1 })))).toBe(true);
    expect(desired.shouldPlay('r')).toBeUndefined();
    expect(desired.apply('r', { type: 'skip_music', request_id: 'k' })).toBeUndefined();
  });
});

describe('Takeover', () => {
  it('replays, for rooms this replica now owns, the recent commands with a request_id, in order', () => {
    let now = 0;
    const takeover = new Takeover(() => now);
    const cmd = (body: object) => ({ payload: Buffer.from(JSON.stringify(body)), packet: undefined });
    takeover.keep('a', cmd({ type: 'skip_music', request_id: 'old' }));
    now = TAKEOVER_WINDOW_MS;
    takeover.keep('a', cmd({ type: 'skip_music', request_id: 'a1' }));
    takeover.keep('a', cmd({ type: 'skip_music' }));
    takeover.keep('a', cmd({ type: 'pause_music', request_id: 'a2' }));
    takeover.keep('b', cmd({ type: 'skip_music', request_id: 'b1' }));
    now = TAKEOVER_WINDOW_MS + 1;
    const taken = takeover.takeOver((room) => room === 'a');
    expect(taken.map(([room, replay]) => [room, replay.map((c) => (JSON.parse(c.payload.toString()) as { request_id: string }).request_id)])).toEqual([['a', ['a1', 'a2']]]);
    expect(takeover.takeOver((room) => room === 'a')).toEqual([]);
    now = 3 * TAKEOVER_WINDOW_MS;
    takeover.forgetOld();
    expect(takeover.takeOver(() => true)).toEqual([]);
  });
});

describe('RoomDelivery', () => {
  it("dispatches an agent, delivers a room's commands in order and replies accepted then done", async () => {
    const { livekit, desired, delivery, saved } = parts();
    livekit.dispatchable.add('r');
    const replies: Reply[] = [];
    delivery.queueCommand('r', outgoing({ type: 'start_continuous_music', source: 'playlist', request_id: 's1' }, desired, 'r', replies));
    delivery.queueCommand('r', outgoing({ type: 'skip_music', request_id: 'k1' }, desired, 'r', replies));
    delivery.queueCommand('r', outgoing({ type: 'pause_music', request_id: 'p1' }, desired, 'r', replies));
    await until(() => replies.filter((r) => r.status === 'done').length === 3);
    expect(livekit.applied).toEqual([
      ['r', 's1'],
      ['r', 'k1'],
      ['r', 'p1'],
    ]);
    expect(replies.map((r) => `${r.request_id} ${r.status}`)).toEqual(expect.arrayContaining(['s1 accepted', 'k1 accepted', 's1 done', 'p1 done']));
    // The desired state went to the broker before the start was delivered.
    expect(saved.map(([room, json]) => [room, (JSON.parse(json) as { playing: boolean }).playing])).toEqual([['r', true]]);
  });

  it('answers commands that only act on music without an agent when the room has none', async () => {
    const { livekit, desired, delivery } = parts();
    const replies: Reply[] = [];
    delivery.queueCommand('quiet', outgoing({ type: 'skip_music', request_id: 'k1' }, desired, 'quiet', replies));
    await until(() => replies.length === 1);
    expect(replies[0]).toMatchObject({ status: 'error', error: { code: 'command_failed' } });
    expect(livekit.calls.some((c) => c.startsWith('ensureAgent'))).toBe(false);
  });

  it('delivers the commands a vanished agent had not confirmed again, in order, to a new agent; each is answered done once', async () => {
    const { livekit, desired, delivery, watcher } = parts();
    livekit.dispatchable.add('r');
    livekit.confirming = false;
    const replies: Reply[] = [];
    delivery.queueCommand('r', outgoing({ type: 'start_continuous_music', source: 'playlist', request_id: 's1' }, desired, 'r', replies));
    delivery.queueCommand('r', outgoing({ type: 'set_volume', volume: 40, request_id: 'v1' }, desired, 'r', replies));
    await until(() => replies.filter((r) => r.status === 'accepted').length === 2);
    // LiveKit disconnects the agent before it applied them; the next one applies what it gets.
    const first = livekit.rooms.get('r')?.agent?.identity;
    delete livekit.rooms.get('r')?.agent;
    livekit.confirming = true;
    watcher.refresh('r');
    await until(() => replies.filter((r) => r.status === 'done').length === 2);
    expect(livekit.rooms.get('r')?.agent?.identity).not.toBe(first);
    expect(livekit.applied).toEqual([
      ['r', 's1'],
      ['r', 'v1'],
    ]);
    await new Promise((r) => setTimeout(r, 50));
    expect(replies.map((r) => `${r.request_id} ${r.status}`).sort()).toEqual(['s1 accepted', 's1 done', 'v1 accepted', 'v1 done']);
  });

  it('answers no_capacity when every worker is full and no dispatch brings an agent; a room with its agent is served as ever', async () => {
    const { livekit, desired, delivery } = parts(undefined, () => 'none');
    const replies: Reply[] = [];
    const started = Date.now();
    delivery.queueCommand('full', outgoing({ type: 'start_continuous_music', source: 'playlist', request_id: 's1' }, desired, 'full', replies));
    await until(() => replies.length === 1, 3_000);
    expect(replies[0]?.error?.code).toBe('no_capacity');
    expect(Date.now() - started).toBeLessThan(2_000);
    // A room that has its agent is not a new room: its commands go through.
    livekit.rooms.set('playing', { listeners: 1, agent: { identity: 'agent-p', publishing: true, state: { state: 'playing' }, results: [], received: [] } });
    delivery.queueCommand('playing', outgoing({ type: 'set_volume', volume: 30, request_id: 'v1' }, desired, 'playing', replies));
    await until(() => replies.some((r) => r.request_id === 'v1' && r.status === 'done'));
  });

  it('fails commands with no_agent when no worker takes the room', async () => {
    const { desired, delivery } = parts();
    const replies: Reply[] = [];
    delivery.queueCommand('r', outgoing({ type: 'start_continuous_music', source: 'playlist', request_id: 's1' }, desired, 'r', replies));
    await until(() => replies.length === 1);
    expect(replies[0]?.error?.code).toBe('no_agent');
  });
});

describe('RoomRestorer', () => {
  it('restores a room that lost its agent while someone listens, with the original start', async () => {
    const { livekit, desired, watcher } = parts();
    livekit.dispatchable.add('r');
    desired.apply('r', { type: 'start_continuous_music', source: 'playlist', request_id: 's1' });
    livekit.rooms.set('r', { listeners: 1 });
    watcher.watch('r');
    await until(() => livekit.applied.length === 1);
    expect(livekit.applied).toEqual([['r', 's1']]);
    expect(livekit.calls).toContain('ensureAgent r replace');
  });

  it("removes a dead worker's agents and restores their rooms", async () => {
    const { livekit, desired, watcher, workers, restorer } = parts();
    livekit.dispatchable.add('r');
    desired.apply('r', { type: 'start_continuous_music', source: 'playlist', request_id: 's1' });
    livekit.rooms.set('r', {
      listeners: 1,
      agent: { identity: 'agent-dead', publishing: true, state: { state: 'playing' }, results: [{ type: 'continuous_music_started', ok: true, message: 'ok', request_id: 's1' }], received: ['s1'] },
    });
    workers.report('r', { worker: 'w1', identity: 'agent-dead', present: true, listeners: 1, state: { state: 'playing' }, results: [], received: [] });
    watcher.watch('r');
    await new Promise((r) => setTimeout(r, 30));
    expect(livekit.applied).toEqual([]);
    restorer.workerGone('w1', workers.presence('w1', { state: 'offline' }));
    await until(() => livekit.applied.length === 1);
    expect(livekit.calls).toContain('remove r agent-dead');
    expect(livekit.rooms.get('r')?.agent?.identity).not.toBe('agent-dead');
  });

  it("brings a draining worker's playing rooms a new agent alongside the old one, once", async () => {
    const { livekit, desired, workers, restorer } = parts();
    livekit.dispatchable.add('r');
    desired.apply('r', { type: 'start_continuous_music', source: 'playlist', request_id: 's1' });
    livekit.rooms.set('r', { listeners: 1, agent: { identity: 'agent-old', publishing: true, state: { state: 'playing' }, results: [], received: [] } });
    workers.report('r', { worker: 'w1', identity: 'agent-old', present: true, listeners: 1, state: { state: 'playing' }, results: [], received: [] });
    restorer.workerDraining('w1');
    restorer.workerDraining('w1');
    await until(() => livekit.calls.includes('sendData r'));
    expect(livekit.calls.filter((c) => c.startsWith('ensureAgent'))).toEqual(['ensureAgent r alongside agent-old']);
  });

  it('leaves rooms another replica owns to that replica', async () => {
    const { livekit, desired, workers, restorer } = parts(() => false);
    desired.apply('r', { type: 'start_continuous_music', source: 'playlist', request_id: 's1' });
    workers.report('r', { worker: 'w1', identity: 'agent-x', present: true, listeners: 1, state: {}, results: [], received: [] });
    restorer.workerGone('w1', workers.presence('w1', { state: 'offline' }));
    restorer.workerDraining('w1');
    await new Promise((r) => setTimeout(r, 20));
    expect(livekit.calls).toEqual([]);
  });
});
