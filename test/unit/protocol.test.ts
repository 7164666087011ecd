import { describe, expect, it } from 'vitest';
import { MAX_COMMAND_BYTES, parseCommand } from '../../src/protocol/commands.js';
import { Topics } from '../../src/protocol/topics.js';

describe('parseCommand', () => {
  it('accepts the seed format', () => {
    const r = parseCommand(JSON.stringify({ type: 'start_continuous_music', language: 'English', genre: 'pop', session_id: 'room-1' }));
    expect(r).toEqual({ ok: true, command: { type: 'start_continuous_music', source: 'playlist', language: 'English', genre: 'pop', session_id: 'room-1' } });
  });

  it('accepts Lyria prompts and settings within the API ranges', () => {
    const r = parseCommand(
      JSON.stringify({ type: 'start_continuous_music', source: 'lyria', prompts: [{ text: 'minimal techno', weight: 1.5 }], bpm: 120, scale: 'D_MAJOR_B_MINOR', top_k: 40, mute_drums: true }),
    );
    expect(r).toMatchObject({ ok: true, command: { source: 'lyria', bpm: 120, top_k: 40, prompts: [{ text: 'minimal techno', weight: 1.5 }] } });
  });

  it.each([
    [{ type: 'set_music_config', bpm: 250 }, /field "bpm" Too big/],
    [{ type: 'set_music_config', bpm: 120.5 }, /field "bpm"/],
    [{ type: 'set_music_config', density: -0.1 }, /field "density"/],
    [{ type: 'set_music_config', scale: 'H_MAJOR' }, /field "scale"/],
    [{ type: 'set_music_config', guidance: 7 }, /field "guidance"/],
    [{ type: 'set_music_config', temperature: 3.5 }, /field "temperature"/],
    [{ type: 'set_music_config', top_k: 0 }, /field "top_k"/],
    [{ type: 'set_music_config', mode: 'LOUD' }, /field "mode"/],
    [{ type: 'set_music_config' }, /at least one setting/],
    [{ type: 'set_music_prompts', prompts: [] }, /field "prompts"/],
    [{ type: 'set_music_prompts', prompts: [{ text: 'jazz', weight: 0 }] }, /must be above 0/],
    [{ type: 'start_continuous_music', source: 'radio' }, /field "source"/],
  ])('rejects Lyria input out of range: %j', (command, reason) => {
    const r = parseCommand(JSON.stringify(command));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('strips unknown fields rather than forwarding them', () => {
    const r = parseCommand('{"type":"skip_music","extra":{"deep":1}}');
    expect(r).toEqual({ ok: true, command: { type: 'skip_music' } });
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['null', 'null', /JSON object/],
    ['a string', '"skip_music"', /JSON object/],
    ['an unknown type', '{"type":"explode"}', /unknown command type "explode"/],
    ['a missing type', '{}', /"type" is required/],
    ['a numeric genre', '{"type":"start_continuous_music","genre":1}', /field "genre"/],
    ['an empty language', '{"type":"start_continuous_music","language":"  "}', /field "language"/],
    ['a bad session id', '{"type":"skip_music","session_id":"a/b"}', /field "session_id"/],
    ['the reserved session id', '{"type":"skip_music","session_id":"bridge"}', /reserved for the bridge/],
  ])('rejects %s with a reason', (_name, payload, reason) => {
    const r = parseCommand(payload);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('echoes type and request_id of a rejected command so the reply can name them', () => {
    const r = parseCommand('{"type":"start_continuous_music","genre":7,"request_id":"abc"}');
    expect(r).toMatchObject({ ok: false, type: 'start_continuous_music', requestId: 'abc' });
  });

  it('refuses oversized payloads before parsing them', () => {
    const r = parseCommand(Buffer.alloc(MAX_COMMAND_BYTES + 1, 0x20));
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/limit/) });
  });
});

describe('Topics', () => {
  const topics = new Topics('roomcast');
  it('builds and reads command topics', () => {
    expect(topics.allCommands).toBe('roomcast/+/command');
    expect(topics.command('r1')).toBe('roomcast/r1/command');
    expect(topics.reply('r1')).toBe('roomcast/r1/reply');
    expect(topics.sessionOf('roomcast/r1/command')).toBe('r1');
  });
  it('ignores topics that are not command topics', () => {
    expect(topics.sessionOf('roomcast/r1/reply')).toBeUndefined();
    expect(topics.sessionOf('other/r1/command')).toBeUndefined();
    expect(topics.sessionOf('roomcast//command')).toBeUndefined();
  });
  it('works with a nested base topic', () => {
    expect(new Topics('acme/prod/roomcast').sessionOf('acme/prod/roomcast/x/command')).toBe('x');
  });
});
