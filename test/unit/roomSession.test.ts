/** What a room's session logs when a publish fails: a warning in a live room, debug once the agent leaves it. */
import { EventEmitter } from 'node:events';
import { RoomEvent, type Room } from '@livekit/rtc-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RoomSession } from '../../agent/roomSession.js';
import { loadAgentConfig } from '../../src/config.js';
import type { Catalog } from '../../src/music/catalog.js';
import { recordedLog } from './recordedLog.js';

const config = loadAgentConfig({ LIVEKIT_URL: 'ws://x', LIVEKIT_API_KEY: 'k', LIVEKIT_API_SECRET: 's', MUSIC_CATALOG: 'c.json' });

/** A voice agent that starts speaking: the music ducks, and the room's state attribute changes. */
const speakingVoiceAgent = { identity: 'voice', name: 'assistant', attributes: { 'lk.agent.state': 'speaking' }, trackPublications: new Map() };

/** Just what a session uses of an rtc-node Room, with a local participant whose attribute updates `setAttributes` answers. */
function fakeRoom(setAttributes: () => Promise<void>) {
  const room = Object.assign(new EventEmitter(), {
    localParticipant: { identity: 'agent-1', setAttributes: vi.fn(setAttributes), publishData: vi.fn(async () => undefined) },
    remoteParticipants: new Map(),
  });
  return room;
}

function session(room: ReturnType<typeof fakeRoom>) {
  const { log, lines } = recordedLog();
  const s = new RoomSession(room as unknown as Room, { catalog: {} as Catalog, config, log, metrics: { report: () => undefined } as never });
  s.listen();
  return { session: s, lines: () => lines.filter((l) => l.msg === 'could not publish attributes').map((l) => l.level) };
}

describe('RoomSession', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('warns when the room state cannot be published while the agent is in the room', async () => {
    const room = fakeRoom(async () => Promise.reject(new Error('signal lost')));
    const { lines } = session(room);
    room.emit(RoomEvent.ParticipantConnected, speakingVoiceAgent);
    await vi.advanceTimersByTimeAsync(20);
    expect(room.localParticipant.setAttributes).toHaveBeenCalledTimes(1);
    expect(lines()).toEqual(['warn']);
  });

  it('logs at debug a publish that fails because the agent is leaving the room (LiveKit deleted it: "This operation was aborted")', async () => {
    let abort!: (err: Error) => void;
    const room = fakeRoom(() => new Promise((_resolve, reject) => (abort = reject)));
    const { session: s, lines } = session(room);
    room.emit(RoomEvent.ParticipantConnected, speakingVoiceAgent);
    await vi.advanceTimersByTimeAsync(20);
    await s.close();
    abort(new Error('This operation was aborted'));
    await vi.advanceTimersByTimeAsync(20);
    expect(lines()).toEqual(['debug']);
  });
});
