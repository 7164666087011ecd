/**
 * Live radio on the real stack: stations in the catalog (`"live": true`) served by local stations
 * (test/harness/radio.ts: an Icecast-style ICY server whose title changes every few seconds and
 * that drops on demand, and an HLS live playlist that ffmpeg keeps rolling). The listener hears
 * them; titles reach the room's state, `music_control` and the retained MQTT state; a drop is
 * survived; a station that stays down gives way to the next entry; songs and stations share a
 * shuffled round; and nothing a command says is ever fetched.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../harness/browser.js';
import { isTone, type HeardWindow, type Listener } from '../harness/listener.js';
import { ARTIFACTS } from '../harness/processes.js';
import { HlsStation, IcyServer } from '../harness/radio.js';
import { startRoomcast, type Roomcast } from '../harness/roomcast.js';
import { Speaker } from '../harness/speaker.js';
import { API_KEY, API_SECRET } from '../harness/stack.js';
import { makeTone } from '../harness/tones.js';

const dir = mkdtempSync(join(tmpdir(), 'roomcast-radio-e2e-'));
const TITLE_EVERY_MS = 3_000;
const FREQUENCY = { song440: 440, song660: 660, icy: 1_000, hls: 1_500, down: 1_200, song880: 880 };
let rc: Roomcast;
let catalogPath: string;
let icy: IcyServer;
let downIcy: IcyServer;
let hls: HlsStation;
const measured: Record<string, unknown> = {};

beforeAll(async () => {
  // The ICY station ~9 dB quieter than the songs (-27.5 LUFS): normalisation on the fly brings it up.
  icy = await IcyServer.start({ frequency: FREQUENCY.icy, dir, titles: ['Morning Show - Hour 1', 'Traffic - News', 'Artist - Song'], titleEveryMs: TITLE_EVERY_MS, gainDb: -6 });
  downIcy = await IcyServer.start({ frequency: FREQUENCY.down, dir, titles: ['Soon gone'] });
  hls = await HlsStation.start(join(dir, 'hls'), FREQUENCY.hls);
  const song = (id: string, frequency: number, genre: string) => ({ id, title: `Tone ${frequency}`, url: makeTone(dir, { id, frequency, format: 'mp3', seconds: 4 }), duration: 4, genre });
  const catalog = [
    song('song440', FREQUENCY.song440, 'mix'),
    song('song660', FREQUENCY.song660, 'mix'),
    { id: 'icy', title: 'Test Radio', url: icy.url, live: true, genre: 'mix' },
    { id: 'hls', title: 'HLS Radio', url: hls.url, live: true, genre: 'hls' },
    { id: 'down', title: 'Down Radio', url: downIcy.url, live: true, genre: 'down' },
    song('song880', FREQUENCY.song880, 'down'),
  ];
  catalogPath = join(dir, 'catalog.json');
  writeFileSync(catalogPath, JSON.stringify({ songs: catalog }, null, 2));
  rc = await startRoomcast(undefined, { STATION_GIVE_UP_MS: '3000' }, catalogPath, { LISTENER_PAGE: 'true' });
});

afterAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'radio-measurements.json'), JSON.stringify(measured, null, 2));
  console.log('radio measurements', JSON.stringify(measured));
  await rc?.stop();
  await Promise.all([icy?.close(), downIcy?.close(), hls?.close()]);
});

const trackOf = (state: Record<string, unknown> | undefined) => state?.track as { id?: string; stream_title?: string; live?: boolean } | undefined;

/** Which of `frequencies` the listener hears steadily (3 windows in a row) after `since`. */
async function heardOneOf(listener: Listener, frequencies: number[], since: number, timeoutMs = 15_000): Promise<{ frequency: number; window: HeardWindow }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const recent = listener.windows.filter((w) => w.at >= since);
    for (let i = 0; i + 3 <= recent.length; i++) {
      const f = frequencies.find((f) => recent.slice(i, i + 3).every((w) => isTone(w, f)));
      if (f !== undefined) return { frequency: f, window: recent[i] as HeardWindow };
    }
    if (Date.now() > deadline) throw new Error(`heard none of ${frequencies.join(', ')} Hz: ${listener.describeRecent()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('live radio', () => {
  it('check-catalog plays a second of every entry, stations as the agent reads them', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['dist/src/cli/main.js', 'check-catalog', catalogPath]);
    expect(stdout).toMatch(/6 of 6 entries play \(3 of them stations\)/);
  });

  it('an ICY station: heard, each title in the state within 2 s, a drop costs at most 2 s of silence', async () => {
    const listener = await rc.listen('radio-1');
    const sent = rc.app.send('radio-1', { type: 'play_music', song_name: 'Test Radio' });
    expect((await sent.final).result?.track).toMatchObject({ id: 'icy', live: true });
    await listener.waitForTone(FREQUENCY.icy, { since: sent.at });

    // The next two title changes, as the room's state (the attribute), music_control and the retained MQTT state show them.
    const delays: Record<string, number[]> = { room: [], music_control: [], mqtt: [] };
    for (let change = 0; change < 2; change++) {
      const title = await new Promise<string>((resolve) => {
        const now = icy.currentTitle();
        const timer = setInterval(() => icy.currentTitle() !== now && (clearInterval(timer), resolve(icy.currentTitle())), 20);
      });
      const roomState = await listener.waitForAgentState((s) => trackOf(s)?.stream_title === title, 5_000);
      const seenInRoom = Date.now();
      const sentAt = icy.titleSentAt.get(title) as number;
      const message = await listener.waitForMessage((m) => m.type === 'track_metadata' && (m.track as { stream_title?: string }).stream_title === title, { since: sentAt - 10, timeoutMs: 5_000 });
      const mqtt = await rc.app.waitForState('radio-1', (s) => trackOf(s)?.stream_title === title, { since: sentAt - 10, timeoutMs: 5_000 });
      expect(trackOf(roomState)).toMatchObject({ id: 'icy', live: true });
      delays.room?.push(seenInRoom - sentAt);
      delays.music_control?.push(message.at - sentAt);
      delays.mqtt?.push(mqtt.at - sentAt);
    }
    measured.titleDelayMs = delays;
    for (const list of Object.values(delays)) for (const ms of list) expect(ms).toBeLessThanOrEqual(2_000);

    // Normalised on the fly: ~9 dB quieter at the source than the songs, as loud as them here
    // (the songs' level, 0.12, measured in the shuffled round below; both are brought to -16 LUFS).
    const level = listener.windows.slice(-10).reduce((sum, w) => sum + w.level, 0) / 10;
    measured.stationLevel = level;
    expect(Math.abs(20 * Math.log10(level / 0.12))).toBeLessThan(2);

    // A 1-second outage: the connection is dropped and refused for 1 s.
    const connections = icy.connections.length;
    const dropAt = Date.now();
    icy.drop(1_000);
    const back = await listener.waitForTone(FREQUENCY.icy, { since: dropAt + 1_000, timeoutMs: 10_000 });
    const after = listener.windows.filter((w) => w.at >= dropAt && w.at <= back.at);
    const firstSilent = after.find((w) => w.level <= 0.01);
    const silenceMs = firstSilent ? Math.max(0, back.firstFrameAt - firstSilent.firstFrameAt) : 0;
    measured.dropSilenceMs = silenceMs;
    measured.reconnectedAfterMs = (icy.connections[connections] ?? NaN) - dropAt;
    expect(icy.connections.length).toBeGreaterThan(connections);
    expect(silenceMs).toBeLessThanOrEqual(2_000);
  });

  it('the player page shows the station, LIVE, and its title as it changes', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
      await page.goto(`${rc.bridge.opsUrl}/listen?room=radio-1`);
      await page.click('#join');
      await page.waitForSelector('#now:has-text("Test Radio")', { timeout: 15_000 });
      expect(await page.isVisible('#live')).toBe(true);
      expect(await page.isHidden('#progress')).toBe(true);
      const now = icy.currentTitle();
      const next = await new Promise<string>((resolve) => {
        const timer = setInterval(() => icy.currentTitle() !== now && (clearInterval(timer), resolve(icy.currentTitle())), 20);
      });
      await page.waitForSelector(`#stream-title:has-text("${next}")`, { timeout: 2_500 });
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'page-station.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });

  it('a paused station resumes live, on a new connection; volume and ducking apply to it', async () => {
    const listener = await rc.listen('radio-2');
    const sent = rc.app.send('radio-2', { type: 'play_music', song_name: 'Test Radio' });
    await listener.waitForTone(FREQUENCY.icy, { since: sent.at });
    expect((await rc.app.send('radio-2', { type: 'pause_music' }).final).status).toBe('done');
    await listener.waitForSilence({ since: Date.now() });
    const connections = icy.connections.length;
    await new Promise((r) => setTimeout(r, 1_500));
    const resumed = rc.app.send('radio-2', { type: 'resume_music' });
    expect((await resumed.final).status).toBe('done');
    const heard = await listener.waitForTone(FREQUENCY.icy, { since: resumed.at });
    measured.resumeToSoundMs = heard.firstFrameAt - resumed.at;
    expect(icy.connections.length).toBe(connections + 1);

    // Volume 50: half the amplitude (-6 dB), as for a song.
    await new Promise((r) => setTimeout(r, 3_000));
    const levelOver = (from: number, to: number) => {
      const windows = listener.windows.filter((w) => w.at >= from && w.at <= to);
      return windows.reduce((sum, w) => sum + w.level, 0) / Math.max(1, windows.length);
    };
    const full = levelOver(Date.now() - 1_000, Date.now());
    const halved = rc.app.send('radio-2', { type: 'set_volume', volume: 50 });
    expect((await halved.final).status).toBe('done');
    await new Promise((r) => setTimeout(r, 1_000));
    const half = levelOver(Date.now() - 600, Date.now());
    measured.stationVolume50Db = 20 * Math.log10(half / full);
    expect(Math.abs(20 * Math.log10(half / full) + 6)).toBeLessThan(1.5);

    // A voice agent speaks: the station ducks (15 dB by default), and comes back.
    const voice = await Speaker.join(rc.livekit.url, API_KEY, API_SECRET, 'radio-2', { identity: 'voice-agent', agent: true });
    try {
      const spoke = await voice.startSpeaking();
      const ducked = await listener.waitForWindow((w) => w.level < half * 0.25, { since: spoke, timeoutMs: 3_000, what: 'the station ducked' });
      measured.stationDuckedAfterMs = ducked.at - spoke;
      const quiet = await voice.stopSpeaking();
      await listener.waitForWindow((w) => w.level > half * 0.8, { since: quiet, timeoutMs: 3_000, what: 'the station back' });
    } finally {
      await voice.leave();
    }
    await rc.app.send('radio-2', { type: 'stop_continuous_music' }).final;
  });

  it('an HLS live playlist: heard; skip moves to the next catalog entry', async () => {
    const listener = await rc.listen('radio-3');
    const sent = rc.app.send('radio-3', { type: 'play_music', song_name: 'HLS Radio' });
    expect((await sent.final).status).toBe('done');
    const heard = await listener.waitForTone(FREQUENCY.hls, { since: sent.at });
    measured.hlsStartMs = heard.firstFrameAt - sent.at;
    const skip = rc.app.send('radio-3', { type: 'skip_music' });
    expect((await skip.final).result?.track?.id).not.toBe('hls');
    const others = Object.values(FREQUENCY).filter((f) => f !== FREQUENCY.hls);
    const next = await heardOneOf(listener, others, skip.at);
    expect(others).toContain(next.frequency);
    await rc.app.send('radio-3', { type: 'stop_continuous_music' }).final;
  });

  it('songs and stations play in one shuffled round', async () => {
    const { listener, sent } = await rc.startIn('radio-4', { type: 'start_continuous_music', genre: 'mix' });
    const round = [FREQUENCY.song440, FREQUENCY.song660, FREQUENCY.icy];
    const heard = new Set<number>();
    let since = sent.at;
    const levels: Record<string, number> = {};
    while (heard.size < round.length) {
      const { frequency, window } = await heardOneOf(
        listener,
        round.filter((f) => !heard.has(f) || f === FREQUENCY.icy),
        since,
        20_000,
      );
      heard.add(frequency);
      since = window.at + 1;
      if (frequency === FREQUENCY.icy) {
        // A station plays until skipped.
        const skip = rc.app.send('radio-4', { type: 'skip_music' });
        expect((await skip.final).status).toBe('done');
        since = skip.at;
      } else {
        // The song's level a little after it started (not its fade-in).
        await new Promise((r) => setTimeout(r, 1_000));
        const steady = listener.windows.filter((w) => w.at > window.at + 300 && w.at < window.at + 1_000 && isTone(w, frequency));
        levels[frequency] = steady.reduce((sum, w) => sum + w.level, 0) / Math.max(1, steady.length);
      }
    }
    measured.songLevels = levels;
    for (const level of Object.values(levels)) expect(Math.abs(20 * Math.log10(level / 0.12))).toBeLessThan(1);
    expect([...heard].sort()).toEqual([...round].sort());
    await rc.app.send('radio-4', { type: 'stop_continuous_music' }).final;
  });

  it('a station that stays down is reported (track_failed) and the next entry plays', async () => {
    const listener = await rc.listen('radio-5');
    const sent = rc.app.send('radio-5', { type: 'start_continuous_music', genre: 'down' });
    await sent.final;
    // The round's first entry may be the song: wait for the station.
    for (let i = 0; i < 3; i++) {
      const { frequency } = await heardOneOf(listener, [FREQUENCY.down, FREQUENCY.song880], sent.at);
      if (frequency === FREQUENCY.down) break;
      await rc.app.send('radio-5', { type: 'skip_music' }).final;
    }
    await listener.waitForTone(FREQUENCY.down, { since: sent.at });
    const downAt = Date.now();
    downIcy.drop(120_000);
    const failed = await listener.waitForMessage((m) => m.type === 'track_failed' && (m.track as { id?: string }).id === 'down', { since: downAt, timeoutMs: 10_000 });
    expect(String(failed.body.error)).toMatch(/unreachable for 3 s/);
    measured.giveUpAfterMs = failed.at - downAt;
    await listener.waitForTone(FREQUENCY.song880, { since: failed.at });
    await rc.app.send('radio-5', { type: 'stop_continuous_music' }).final;
  });

  it('fetches nothing a command names: URLs in commands are not catalog entries', async () => {
    let requests = 0;
    const trap = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'Content-Type': 'audio/mpeg' }).end();
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
    const address = trap.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/secret`;
    try {
      for (const command of [
        { type: 'play_music', song_name: url },
        { type: 'enqueue_music', query: url },
        { type: 'start_continuous_music', genre: url },
        { type: 'play_music', song_name: 'x', url },
        { type: 'start_continuous_music', url, live: true },
      ]) {
        const reply = await rc.app.send('radio-6', command).final;
        expect(reply.status === 'error' || reply.result?.track?.id !== undefined).toBe(true);
      }
      await new Promise((r) => setTimeout(r, 1_000));
      expect(requests).toBe(0);
    } finally {
      trap.close();
      await rc.app.send('radio-6', { type: 'stop_continuous_music' }).final;
    }
  });
});
