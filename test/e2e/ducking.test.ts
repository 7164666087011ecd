/**
 * Music that shares the room with a voice agent: a stand-in voice agent (participant kind agent,
 * `lk.agent.state`) and a person talk over the music; a listener measures the `music` track and
 * the voice track separately. Figures go to test-artifacts/ducking-measurements.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Room, RoomEvent } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Listener } from '../harness/listener.js';
import { ARTIFACTS, waitUntil } from '../harness/processes.js';
import { startRoomcast, type Roomcast } from '../harness/roomcast.js';
import { Speaker } from '../harness/speaker.js';
import { FakeLyria } from '../harness/fakeLyria.js';
import { sharpestBend } from '../harness/spectrum.js';
import { concatSamples } from '../../src/playout/samples.js';
import { API_KEY, API_SECRET } from '../harness/stack.js';

let rc: Roomcast;
let lyria: FakeLyria;
const measured: Record<string, unknown> = {};
const GOOGLE_KEY = 'fake-google-key-ducking-0123';

beforeAll(async () => {
  lyria = await FakeLyria.start(GOOGLE_KEY);
  rc = await startRoomcast(undefined, { GOOGLE_API_KEY: GOOGLE_KEY, LYRIA_BASE_URL: lyria.baseUrl, LYRIA_CONNECT_TIMEOUT_MS: '3000' });
});

afterAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'ducking-measurements.json'), JSON.stringify(measured, null, 2));
  console.log('ducking measurements', JSON.stringify(measured));
  await rc?.stop();
  await lyria?.close();
});

const rms = (samples: Int16Array) => {
  let sum = 0;
  for (const s of samples) sum += (s / 32768) ** 2;
  return Math.sqrt(sum / Math.max(1, samples.length));
};
const dB = (ratio: number) => 20 * Math.log10(Math.max(ratio, 1e-6));
/** The music's level (RMS) over the frames that arrived between `from` and `to`. */
const levelBetween = (l: Listener, from: number, to: number) => rms(concatSamples(l.recorded.filter((f) => f.at >= from && f.at < to).map((f) => f.samples)));
/** When the music first arrived at least `downDb` below `reference` after `since` (per 10-ms frame). */
const firstBelow = (l: Listener, since: number, reference: number, downDb: number) => l.recorded.find((f) => f.at >= since && dB(rms(f.samples) / reference) <= -downDb)?.at;
/** When the music was last below `reference` − `withinDb` after `since` (it is back from then on). */
const backAt = (l: Listener, since: number, reference: number, withinDb: number) => {
  const low = l.recorded.filter((f) => f.at >= since && dB(rms(f.samples) / reference) < -withinDb);
  return low.at(-1)?.at ?? since;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function playingRoom(room: string, source: 'playlist' | 'lyria' = 'playlist'): Promise<Listener> {
  // One long tone: level changes come from ducking only (the fake Lyria plays 4 × bpm Hz).
  const start =
    source === 'lyria' ? { type: 'start_continuous_music', source: 'lyria', prompts: [{ text: 'warm synth pads', weight: 1 }], bpm: 120 } : { type: 'start_continuous_music', genre: 'rock' };
  const { listener, sent } = await rc.startIn(room, start);
  await listener.waitForTone(source === 'lyria' ? 480 : 1320, { since: sent.at, timeoutMs: 15_000 });
  listener.recorded.length = 0;
  listener.recording = true;
  await sleep(1_000);
  return listener;
}

describe('ducking', () => {
  it("a voice agent's speech ducks the music at once and lets it back within a second, without clicks; its own audio and data are untouched", async () => {
    const room = 'ducking-agent';
    const listener = await playingRoom(room);
    const voice = await Speaker.join(rc.livekit.url, API_KEY, API_SECRET, room, { identity: 'voice-agent', agent: true });
    const voiceHeard = await rc.listen(room, { trackName: 'voice' });
    voiceHeard.recording = true;
    // A peer of the voice agent gets its packets on the agent's own topic.
    const peer = new Room();
    const peerToken = new AccessToken(API_KEY, API_SECRET, { identity: 'assistant-peer' });
    peerToken.addGrant({ room, roomJoin: true, canSubscribe: false, canPublish: false, canPublishData: true });
    const peerGot: string[] = [];
    peer.on(RoomEvent.DataReceived, (payload, _p, _k, topic) => topic === 'assistant' && peerGot.push(new TextDecoder().decode(payload)));
    await peer.connect(rc.livekit.url, await peerToken.toJwt(), { autoSubscribe: false, dynacast: false });
    await sleep(1_500);
    const before = levelBetween(listener, Date.now() - 1_000, Date.now());
    expect(before).toBeGreaterThan(0.01);

    const delays: number[] = [];
    const returns: number[] = [];
    const voiceLevels: number[] = [];
    for (let burst = 0; burst < 3; burst++) {
      const spokeAt = await voice.startSpeaking();
      await voice.send('assistant', { text: `reply ${burst}` }, 'assistant-peer');
      await sleep(1_500);
      const down = firstBelow(listener, spokeAt, before, 12);
      expect(down, `burst ${burst}: the music went 12 dB down`).toBeDefined();
      delays.push((down as number) - spokeAt);
      voiceLevels.push(rms(concatSamples(voiceHeard.recorded.filter((f) => f.at > spokeAt + 500).map((f) => f.samples))));
      const stoppedAt = await voice.stopSpeaking();
      await sleep(2_000);
      returns.push(backAt(listener, stoppedAt, before, 1) - stoppedAt);
      expect(dB(levelBetween(listener, Date.now() - 500, Date.now()) / before)).toBeGreaterThan(-1);
    }
    voiceHeard.recording = false;
    measured.agentSpeakingToDuckedMs = delays;
    // Of which the agent's own reaction: from `speaking` to its ducking log line (same clock).
    const engaged = rc.agent
      .output()
      .split('\n')
      .filter((l) => l.includes(`"room":"${room}"`) && l.includes('"msg":"ducking"') && l.includes('"active":true'))
      .map((l) => (JSON.parse(l.slice(l.indexOf('{'))) as { time: number }).time);
    measured.agentReactionMs = voice.bursts.map((b) => (engaged.find((t) => t >= b.from - 50) ?? NaN) - b.from);
    measured.agentSilentToBackMs = returns;
    measured.sharpestBend = Math.round(sharpestBend(concatSamples(listener.recorded.map((f) => f.samples))).bend * 1000) / 1000;
    expect(Math.max(...delays)).toBeLessThan(300);
    expect(Math.max(...returns)).toBeLessThan(1_000);
    // A 1320 Hz tone bends 0.03; a click 0.3 or more (see the cuts test).
    expect(measured.sharpestBend as number).toBeLessThan(0.1);
    // The voice reaches the listener at the level it was sent (a sine of 12,000: RMS 0.259).
    measured.voiceLevelDb = voiceLevels.map((l) => Math.round(dB(l / 0.259) * 10) / 10);
    for (const level of voiceLevels) expect(Math.abs(dB(level / 0.259))).toBeLessThan(1.5);
    expect(peerGot).toEqual(['{"text":"reply 0"}', '{"text":"reply 1"}', '{"text":"reply 2"}']);
    // Roomcast took none of it: nothing said on music_control since the voice agent came.
    expect(listener.messages.filter((m) => m.at > voice.bursts[0]!.from && m.body.type !== 'track_started' && m.body.type !== 'track_ended')).toEqual([]);
    expect(rc.agent.output()).not.toMatch(/rejected command packet.*assistant|"from":"voice-agent"/);
    // The room's state shows ducking, and says when it is active.
    const state = await rc.app.waitForState(room, (s) => (s.ducking as { enabled?: boolean } | undefined)?.enabled === true, { timeoutMs: 5_000 });
    expect(state.state.ducking).toMatchObject({ enabled: true, mode: 'duck', depth_db: -15 });
    await voice.leave();
    await peer.disconnect();
  });

  it('a person who talks ducks the music (heard from their own audio, before LiveKit reports them speaking)', async () => {
    const room = 'ducking-person';
    const listener = await playingRoom(room);
    const person = await Speaker.join(rc.livekit.url, API_KEY, API_SECRET, room, { identity: 'person', agent: false });
    await sleep(1_000);
    const before = levelBetween(listener, Date.now() - 1_000, Date.now());
    const spokeAt = await person.startSpeaking();
    await waitUntil(() => listener.speakerUpdates.some((u) => u.at >= spokeAt && u.identities.includes('person')), 5_000, 'LiveKit to report the person speaking');
    const reportedAt = listener.speakerUpdates.find((u) => u.at >= spokeAt && u.identities.includes('person'))?.at as number;
    await sleep(1_500);
    const down = firstBelow(listener, spokeAt, before, 12);
    expect(down).toBeDefined();
    const stoppedAt = await person.stopSpeaking();
    await sleep(3_000);
    measured.personReportedSpeakingMs = reportedAt - spokeAt;
    measured.personReportedToDuckedMs = (down as number) - reportedAt;
    measured.personSpeakingToDuckedMs = (down as number) - spokeAt;
    measured.personSilentToBackMs = backAt(listener, stoppedAt, before, 1) - stoppedAt;
    // How much of that is LiveKit's: when its speaker list let the person go.
    const reportedStopAt = listener.speakerUpdates.find((u) => u.at >= stoppedAt && !u.identities.includes('person'))?.at;
    measured.personReportedSilentMs = reportedStopAt === undefined ? undefined : reportedStopAt - stoppedAt;
    expect((down as number) - reportedAt).toBeLessThan(500);
    expect(measured.personSilentToBackMs as number).toBeLessThan(2_500);
    expect(dB(levelBetween(listener, Date.now() - 500, Date.now()) / before)).toBeGreaterThan(-1);

    // A room without music lets go of people's audio (it costs the worker while subscribed), and
    // hears them again when the music comes back.
    const hearingLines = (what: string) =>
      rc.agent
        .output()
        .split('\n')
        .filter((l) => l.includes(`"room":"${room}"`) && l.includes(what)).length;
    const subscribed = hearingLines('subscribing to the people');
    expect(await rc.app.send(room, { type: 'stop_continuous_music' }).final).toMatchObject({ status: 'done' });
    await waitUntil(() => hearingLines('letting go of the people') > 0, 15_000, 'the agent to let go of the people after the music stopped');
    const restarted = rc.app.send(room, { type: 'start_continuous_music', genre: 'rock' });
    await restarted.final;
    await listener.waitForTone(1320, { since: restarted.at, timeoutMs: 15_000 });
    await waitUntil(() => hearingLines('subscribing to the people') > subscribed, 5_000, 'the agent to hear the people again');
    await sleep(1_500);
    const again = levelBetween(listener, Date.now() - 1_000, Date.now());
    const spokeAgainAt = await person.startSpeaking();
    await sleep(1_500);
    expect(firstBelow(listener, spokeAgainAt, again, 12), 'the music ducks for the person again').toBeDefined();
    await person.stopSpeaking();
    await person.leave();
  });

  it('Lyria music ducks too', async () => {
    const room = 'ducking-lyria';
    const listener = await playingRoom(room, 'lyria');
    const voice = await Speaker.join(rc.livekit.url, API_KEY, API_SECRET, room, { identity: 'voice-agent-3', agent: true });
    await sleep(1_000);
    const before = levelBetween(listener, Date.now() - 1_000, Date.now());
    const spokeAt = await voice.startSpeaking();
    await sleep(1_000);
    const down = firstBelow(listener, spokeAt, before, 12);
    expect(down).toBeDefined();
    measured.lyriaSpeakingToDuckedMs = (down as number) - spokeAt;
    const stoppedAt = await voice.stopSpeaking();
    await sleep(1_500);
    expect(dB(levelBetween(listener, Date.now() - 500, Date.now()) / before)).toBeGreaterThan(-1);
    measured.lyriaSilentToBackMs = backAt(listener, stoppedAt, before, 1) - stoppedAt;
    await voice.leave();
  });

  it('set_ducking: off stops ducking; pause mode pauses the music and resumes it', async () => {
    const room = 'ducking-settings';
    const listener = await playingRoom(room);
    const voice = await Speaker.join(rc.livekit.url, API_KEY, API_SECRET, room, { identity: 'voice-agent-2', agent: true });
    await sleep(1_000);
    const before = levelBetween(listener, Date.now() - 1_000, Date.now());
    const off = await rc.app.send(room, { type: 'set_ducking', enabled: false }).final;
    expect(off).toMatchObject({ status: 'done', result: { type: 'music_ducking_set', ducking: { enabled: false } } });
    let spokeAt = await voice.startSpeaking();
    await sleep(1_000);
    expect(firstBelow(listener, spokeAt, before, 6)).toBeUndefined();
    await voice.stopSpeaking();

    expect(await rc.app.send(room, { type: 'set_ducking', enabled: true, mode: 'pause' }).final).toMatchObject({ status: 'done' });
    await sleep(500);
    spokeAt = await voice.startSpeaking();
    await rc.app.waitForState(room, (s) => s.state === 'paused', { since: spokeAt, timeoutMs: 5_000 });
    await sleep(500);
    expect(levelBetween(listener, Date.now() - 300, Date.now())).toBeLessThan(0.005);
    const stoppedAt = await voice.stopSpeaking();
    await rc.app.waitForState(room, (s) => s.state === 'playing', { since: stoppedAt, timeoutMs: 5_000 });
    await listener.waitForTone(1320, { since: stoppedAt, timeoutMs: 5_000 });

    const bad = await rc.app.send(room, { type: 'set_ducking', depth_db: 12 }).final;
    expect(bad).toMatchObject({ status: 'error', error: { code: 'invalid_command' } });
    await voice.leave();
  });
});
