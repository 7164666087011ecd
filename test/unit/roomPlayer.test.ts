/** Switching and refusing at the room level, with a real playlist source and a paced fake sink. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AudioFrame } from '@livekit/rtc-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../src/config.js';
import { Catalog } from '../../src/music/catalog.js';
import { parseCommand } from '../../src/protocol/commands.js';
import { RoomPlayer, type PlayerCommand } from '../../src/sources/roomPlayer.js';
import { VolumeSink } from '../../src/playout/volume.js';
import { makeToneCatalog } from '../harness/tones.js';

const pacedSink = {
  captureFrame: (_frame: AudioFrame) => new Promise<void>((r) => setTimeout(r, 2)),
  fadeOut: async () => undefined,
};
const tones = makeToneCatalog(mkdtempSync(join(tmpdir(), 'roomcast-room-')), [{ id: 't1', frequency: 500, format: 'flac', seconds: 2 }]);
const env = { LIVEKIT_URL: 'ws://x', LIVEKIT_API_KEY: 'k', LIVEKIT_API_SECRET: 's', MUSIC_CATALOG: tones.path };
const command = (json: object): PlayerCommand => {
  const parsed = parseCommand(JSON.stringify(json));
  if (!parsed.ok || parsed.command.type === 'set_ducking') throw new Error(parsed.ok ? 'not a player command' : parsed.reason);
  return parsed.command;
};
let player: RoomPlayer | undefined;
afterEach(() => player?.close());

async function makePlayer(extraEnv: Record<string, string> = {}) {
  player = new RoomPlayer({ sink: new VolumeSink(pacedSink), catalog: await Catalog.load(tones.path), config: loadAgentConfig({ ...env, ...extraEnv }), log: pino({ level: 'silent' }) });
  return player;
}

describe('RoomPlayer', () => {
  it('without a Google key, a Lyria start is refused and the playlist keeps playing', async () => {
    const p = await makePlayer();
    expect(await p.apply(command({ type: 'start_continuous_music' }))).toMatchObject({ ok: true, source: 'playlist' });
    await expect(p.apply(command({ type: 'start_continuous_music', source: 'lyria' }))).rejects.toThrow(/GOOGLE_API_KEY.*keeps its current music/);
    expect(p.status()).toMatchObject({ source: 'playlist', state: 'playing' });
  });

  it('with Lyria unreachable, the start is refused and the playlist keeps playing', async () => {
    const p = await makePlayer({ GOOGLE_API_KEY: 'some-key', LYRIA_BASE_URL: 'http://127.0.0.1:9', LYRIA_CONNECT_TIMEOUT_MS: '2000' });
    await p.apply(command({ type: 'start_continuous_music' }));
    await expect(p.apply(command({ type: 'start_continuous_music', source: 'lyria' }))).rejects.toThrow(/could not start Lyria.*keeps its current music/);
    expect(p.status()).toMatchObject({ source: 'playlist', state: 'playing' });
  });

  it('falls back to the whole catalog when a filter matches nothing, and says so', async () => {
    const p = await makePlayer();
    const outcome = await p.apply(command({ type: 'start_continuous_music', genre: 'polka' }));
    expect(outcome).toMatchObject({ ok: true, message: 'Started continuous music streaming (polka): no songs match (polka), so the whole catalog plays', track: { id: 't1' } });
  });

  it('pauses and resumes the playlist; refuses transport commands when stopped', async () => {
    const p = await makePlayer();
    await expect(p.apply(command({ type: 'pause_music' }))).rejects.toThrow(/no music is playing/);
    await p.apply(command({ type: 'start_continuous_music' }));
    await p.apply(command({ type: 'pause_music' }));
    expect(p.status().state).toBe('paused');
    await p.apply(command({ type: 'resume_music' }));
    expect(p.status().state).toBe('playing');
    expect(await p.apply(command({ type: 'stop_continuous_music' }))).toMatchObject({ message: 'Stopped continuous music streaming' });
    expect(await p.apply(command({ type: 'stop_continuous_music' }))).toMatchObject({ message: 'Music streaming is not active' });
  });
});
