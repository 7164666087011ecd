import { describe, expect, it } from 'vitest';
import { withoutMusic } from '../../bridge/roomDelivery.js';
import { COMMAND_TYPES, type Command } from '../../src/protocol/commands.js';

const command = (type: string) => ({ type, request_id: 'r1' }) as Command & { request_id: string };

describe('withoutMusic', () => {
  it('leaves the commands that start music or set up a room (volume, ducking) to an agent', () => {
    for (const type of ['start_continuous_music', 'play_music', 'set_volume', 'set_ducking']) expect(withoutMusic(command(type))).toBeUndefined();
  });

  it('answers every other command as an agent without music does', () => {
    const answered = COMMAND_TYPES.filter((t) => !['start_continuous_music', 'play_music', 'set_volume', 'set_ducking'].includes(t));
    for (const type of answered) expect(withoutMusic(command(type))).toMatchObject({ request_id: 'r1' });
    expect(withoutMusic(command('stop_continuous_music'))).toMatchObject({ type: 'continuous_music_stopped', ok: true, message: 'Music streaming is not active' });
    expect(withoutMusic(command('skip_music'))).toMatchObject({ type: 'music_skipped', ok: false, message: 'no music is playing' });
    expect(withoutMusic(command('get_music_status'))).toMatchObject({ ok: true, status: { state: 'stopped', agent: false } });
  });
});
