/**
 * Issue "Lyria RealTime as a first-class music source", on the real stack: the agent's real
 * @google/genai client talks to a local fake of the Lyria WebSocket protocol; a real listener
 * checks the tone the fake generates (4 × bpm Hz).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeLyria } from '../harness/fakeLyria.js';
import type { Listener } from '../harness/listener.js';
import { ARTIFACTS, waitUntil } from '../harness/processes.js';
import { startRoomcast, trackId, type Roomcast } from '../harness/roomcast.js';

const API_KEY = 'fake-google-key-0123456789';
let rc: Roomcast;
let fake: FakeLyria;
const results: Record<string, unknown> = {};

beforeAll(async () => {
  fake = await FakeLyria.start(API_KEY);
  rc = await startRoomcast(undefined, {
    GOOGLE_API_KEY: API_KEY,
    LYRIA_BASE_URL: fake.baseUrl,
    // Above the longest gap between chunks in the jitter test (2 s + 1.5 s), as the default 6 s is.
    LYRIA_SILENCE_TIMEOUT_MS: '4000',
    LYRIA_PROMPT_FADE_MS: '1000',
    LYRIA_CONNECT_TIMEOUT_MS: '3000',
  });
});

afterAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'lyria-measurements.json'), JSON.stringify(results, null, 2));
  console.log('lyria measurements', JSON.stringify(results));
  await rc?.stop();
  await fake?.close();
  // The API key must not appear in any log of the run.
  for (const proc of [rc.agent, rc.bridge]) expect(proc.output()).not.toContain(API_KEY);
});

/**
 * Waits until the fake has received what the agent sent: the agent's confirmation travels
 * through LiveKit and may reach this process before the WebSocket message does.
 */
async function arrived(kind: string, since: number, check: (bodies: Array<Record<string, unknown>>) => boolean) {
  await waitUntil(() => check(fake.sent(kind, since).map((m) => m.body)), 3_000, `${kind} at the fake Lyria`).catch(() => undefined);
  return fake.sent(kind, since).map((m) => m.body);
}

/** The last `kind` message the fake received since `since` is `expected`. */
async function expectLast(kind: string, since: number, expected: object) {
  const bodies = await arrived(kind, since, (b) => JSON.stringify(b.at(-1)) === JSON.stringify(expected));
  expect(bodies.at(-1)).toEqual(expected);
}

/** The fake received the playback control `name` since `since`. */
async function expectControl(since: number, name: string) {
  const bodies = await arrived('playbackControl', since, (b) => b.some((m) => m.playbackControl === name));
  expect(bodies.map((b) => b.playbackControl)).toContain(name);
}

const started = (l: Listener, since: number) => l.waitForMessage((m) => m.type === 'continuous_music_started', { since, timeoutMs: 30_000 });

describe('Lyria RealTime', () => {
  const room = 'lyria-room';
  let listener: Listener;

  it('start with source "lyria" plays the generated music', async () => {
    listener = await rc.listen(room);
    const sent = rc.app.send(room, { type: 'start_continuous_music', source: 'lyria', prompts: [{ text: 'warm synth pads', weight: 1 }], bpm: 120, density: 0.4 });
    expect(await sent.response).toMatchObject({ ok: true, status: 'accepted' });
    const confirmation = await started(listener, sent.at);
    expect(confirmation.body).toMatchObject({ ok: true, source: 'lyria' });
    await listener.waitForTone(480, { since: sent.at, timeoutMs: 15_000 });
    results.commandToFirstAudioMs = (listener.onsetAfter(sent.at) ?? NaN) - sent.at;
    const [setup] = fake.sent('setup', sent.at);
    expect(setup?.body).toEqual({ setup: { model: 'models/lyria-realtime-exp' } });
    await expectLast('clientContent', sent.at, { clientContent: { weightedPrompts: [{ text: 'warm synth pads', weight: 1 }] } });
    const state = await listener.waitForAgentState((s) => s.source === 'lyria' && s.state === 'playing');
    expect(state).toMatchObject({ settings: { bpm: 120, density: 0.4 }, connection: 'connected' });
  });

  it('a bpm change is applied through a context reset, with the whole config resent', async () => {
    const sent = rc.app.send(room, { type: 'set_music_config', bpm: 90 });
    const confirmation = await listener.waitForMessage((m) => m.type === 'music_config_set', { since: sent.at });
    expect(confirmation.body).toMatchObject({ ok: true, context_reset: true, message: expect.stringMatching(/context was reset/) });
    await expectLast('musicGenerationConfig', sent.at, { musicGenerationConfig: { bpm: 90, density: 0.4 } });
    await expectControl(sent.at, 'RESET_CONTEXT');
    await listener.waitForTone(360, { since: sent.at, timeoutMs: 8_000 });
    results.bpmChangeToNewTempoMs = (listener.windows.find((w) => w.at >= sent.at && Math.abs(w.frequency - 360) < 10)?.firstFrameAt ?? NaN) - sent.at;

    const density = rc.app.send(room, { type: 'set_music_config', density: 0.8 });
    const noReset = await listener.waitForMessage((m) => m.type === 'music_config_set', { since: density.at });
    expect(noReset.body).toMatchObject({ ok: true, context_reset: false });
    await expectLast('musicGenerationConfig', density.at, { musicGenerationConfig: { bpm: 90, density: 0.8 } });
  });

  it('a dropped session is reported and recovered with the same prompts and settings', async () => {
    const connectionsBefore = fake.connections;
    const droppedAt = Date.now();
    fake.dropAll();
    const reconnecting = await listener.waitForMessage((m) => m.type === 'source_state' && m.state === 'reconnecting', { since: droppedAt });
    expect(reconnecting.body.error).toMatch(/closed/);
    const recovered = await listener.waitForMessage((m) => m.type === 'source_state' && m.state === 'connected', { since: droppedAt, timeoutMs: 15_000 });
    expect(fake.connections).toBe(connectionsBefore + 1);
    await expectLast('clientContent', droppedAt, { clientContent: { weightedPrompts: [{ text: 'warm synth pads', weight: 1 }] } });
    await expectLast('musicGenerationConfig', droppedAt, { musicGenerationConfig: { bpm: 90, density: 0.8 } });
    await listener.waitForTone(360, { since: recovered.at, timeoutMs: 8_000 });
    // The app sees it too, in the retained state.
    const mirrored = await rc.app.waitForState(room, (s) => (s.last_drop as { recovered_after_ms?: number } | undefined)?.recovered_after_ms !== undefined, { since: droppedAt });
    expect(mirrored.state).toMatchObject({ source: 'lyria', reconnects: 1, last_drop: { reason: expect.stringMatching(/closed/) } });
    results.dropRecovery = { reportedAfterMs: reconnecting.at - droppedAt, reconnectedAfterMs: recovered.body.recovered_after_ms };
  });

  it('a session that goes silent is detected and replaced', async () => {
    const silencedAt = Date.now();
    fake.silenceAll();
    const reconnecting = await listener.waitForMessage((m) => m.type === 'source_state' && m.state === 'reconnecting', { since: silencedAt, timeoutMs: 15_000 });
    expect(reconnecting.body.error).toMatch(/no audio from Lyria/);
    await listener.waitForMessage((m) => m.type === 'source_state' && m.state === 'connected', { since: silencedAt, timeoutMs: 15_000 });
    await listener.waitForTone(360, { since: reconnecting.at, timeoutMs: 8_000 });
    results.silenceDetectedAfterMs = reconnecting.at - silencedAt;
  });

  it('chunk jitter of up to 1.5 s causes no underrun at the default pre-buffer', async () => {
    const before = (listener.agentState()?.underruns as number) ?? 0;
    fake.jitterMs = 1_500;
    const since = Date.now();
    await new Promise((r) => setTimeout(r, 14_000));
    fake.jitterMs = 0;
    const state = await listener.waitForAgentState(() => true);
    results.underrunsWithJitter1500ms = { over14s: (state.underruns as number) - before };
    expect((state.underruns as number) - before).toBe(0);
    const heard = listener.windows.filter((w) => w.at >= since);
    expect(heard.filter((w) => w.level < 0.01)).toHaveLength(0);
  });

  it('a filtered prompt reaches the room and the state', async () => {
    const sent = rc.app.send(room, {
      type: 'set_music_prompts',
      prompts: [
        { text: 'forbidden chant', weight: 1 },
        { text: 'ambient', weight: 1 },
      ],
    });
    const filtered = await listener.waitForMessage((m) => m.type === 'prompt_filtered', { since: sent.at });
    expect(filtered.body).toMatchObject({ text: 'forbidden chant', reason: expect.stringMatching(/safety/) });
    await listener.waitForAgentState((s) => (s.last_notice as { type?: string } | undefined)?.type === 'prompt_filtered');
    const mirrored = await rc.app.waitForState(room, (s) => (s.last_notice as { type?: string } | undefined)?.type === 'prompt_filtered', { since: sent.at });
    expect(mirrored.state.last_notice).toMatchObject({ text: 'forbidden chant' });
    // The fade ends on exactly the new prompts.
    await new Promise((r) => setTimeout(r, 1_500));
    await expectLast('clientContent', sent.at, {
      clientContent: {
        weightedPrompts: [
          { text: 'forbidden chant', weight: 1 },
          { text: 'ambient', weight: 1 },
        ],
      },
    });
    expect(fake.sent('clientContent', sent.at).length).toBeGreaterThan(1);
  });

  it('skip resets the context; pause and resume map to the playback controls', async () => {
    const skip = rc.app.send(room, { type: 'skip_music' });
    const skipped = await listener.waitForMessage((m) => m.type === 'music_skipped', { since: skip.at });
    expect(skipped.body).toMatchObject({ ok: true, source: 'lyria' });
    await expectControl(skip.at, 'RESET_CONTEXT');

    const pause = rc.app.send(room, { type: 'pause_music' });
    await listener.waitForMessage((m) => m.type === 'music_paused', { since: pause.at });
    await expectControl(pause.at, 'PAUSE');
    await listener.waitForSilence({ since: pause.at + 300 });
    await listener.waitForAgentState((s) => s.state === 'paused');

    const resume = rc.app.send(room, { type: 'resume_music' });
    await listener.waitForMessage((m) => m.type === 'music_resumed', { since: resume.at });
    await expectControl(resume.at, 'PLAY');
    await listener.waitForTone(360, { since: resume.at, timeoutMs: 8_000 });
  });

  it('a malformed frame and a service warning do not stop the music', async () => {
    const since = Date.now();
    fake.broadcast('{"serverContent": {"audioChunks": [');
    fake.broadcast(JSON.stringify({ warning: 'quota nearly exhausted' }));
    const warning = await listener.waitForMessage((m) => m.type === 'source_warning', { since });
    expect(warning.body.message).toMatch(/quota/);
    await listener.waitForTone(360, { since: since + 500, timeoutMs: 8_000 });
    expect(rc.agent.child.exitCode).toBeNull();
  });

  it('audio at another rate and channel count is resampled to 48 kHz stereo', async () => {
    fake.format = { rate: 24_000, channels: 1 };
    const sent = rc.app.send(room, { type: 'skip_music' });
    await listener.waitForTone(360, { since: sent.at + 200, timeoutMs: 8_000 });
    fake.format = { rate: 48_000, channels: 2 };
  });

  it('switches between the playlist and Lyria without restarting the agent', async () => {
    const toPlaylist = rc.app.send(room, { type: 'start_continuous_music', genre: 'rock' });
    const playlist = await started(listener, toPlaylist.at);
    expect(playlist.body).toMatchObject({ source: 'playlist', track: { id: 'b1320' } });
    await listener.waitForTone(1320, { since: toPlaylist.at });
    expect(trackId(playlist.body)).toBe('b1320');

    const toLyria = rc.app.send(room, { type: 'start_continuous_music', source: 'lyria', genre: 'lo-fi', bpm: 150 });
    await started(listener, toLyria.at);
    const heard = await listener.waitForTone(600, { since: toLyria.at, timeoutMs: 10_000 });
    results.warmCommandToLyriaAudioMs = heard.firstFrameAt - toLyria.at;
    expect(fake.sent('clientContent', toLyria.at)[0]?.body).toEqual({ clientContent: { weightedPrompts: [{ text: 'lo-fi', weight: 1 }] } });
  });

  it('an unreachable Lyria gets an error and the room keeps its music', async () => {
    fake.hangHandshakes = true;
    const sent = rc.app.send(room, { type: 'start_continuous_music', source: 'lyria', bpm: 100 });
    const confirmation = await started(listener, sent.at);
    fake.hangHandshakes = false;
    expect(confirmation.body).toMatchObject({ ok: false, message: expect.stringMatching(/no Lyria session within 3000 ms.*keeps its current music/) });
    expect(await sent.final).toMatchObject({ ok: false, status: 'error', error: { code: 'command_failed', reason: expect.stringMatching(/no Lyria session/) } });
    await listener.waitForTone(600, { since: confirmation.at, timeoutMs: 5_000 });
    rc.app.send(room, { type: 'stop_continuous_music' });
    await listener.waitForMessage((m) => m.type === 'continuous_music_stopped', { since: confirmation.at });
  });

  it('set_music_config on a playlist room is refused with a reason', async () => {
    const start = rc.app.send(room, { type: 'start_continuous_music', genre: 'pop' });
    await started(listener, start.at);
    const sent = rc.app.send(room, { type: 'set_music_config', bpm: 100 });
    const confirmation = await listener.waitForMessage((m) => m.type === 'music_config_set', { since: sent.at });
    expect(confirmation.body).toMatchObject({ ok: false, message: expect.stringMatching(/applies to Lyria music/) });
    rc.app.send(room, { type: 'stop_continuous_music' });
    const metrics = await (await fetch(`${rc.agent.opsUrl}/metrics`)).text();
    expect(Number(/^roomcast_agent_source_reconnects_total\{source="lyria"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
  });
});
