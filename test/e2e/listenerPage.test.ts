/**
 * The player page in a real browser (Debian's Chromium, driven by playwright-core): it joins a
 * room through the bridge's token endpoint, hears the music through livekit-client and WebAudio,
 * shows the song, its progress and what plays next, Lyria's prompts and the ducking state, starts
 * with the catalog's genres and languages, has a room volume and one of its own, says when the room
 * is empty and when the bridge is offline, and fits a phone. A screenshot of each state goes to
 * test-artifacts/page-*.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../harness/browser.js';
import { FakeLyria } from '../harness/fakeLyria.js';
import { ARTIFACTS } from '../harness/processes.js';
import { startRoomcast, type Roomcast } from '../harness/roomcast.js';
import { Speaker } from '../harness/speaker.js';
import { API_KEY, API_SECRET } from '../harness/stack.js';

const GOOGLE_KEY = 'fake-google-key-for-the-page-0123';
let rc: Roomcast;
let browser: Browser;
let lyria: FakeLyria;

beforeAll(async () => {
  lyria = await FakeLyria.start(GOOGLE_KEY);
  rc = await startRoomcast(undefined, { GOOGLE_API_KEY: GOOGLE_KEY, LYRIA_BASE_URL: lyria.baseUrl }, undefined, { LISTENER_PAGE: 'true' });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await rc?.stop();
  await lyria?.close();
});

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `page-${name}.png`), fullPage: true });
}

async function openRoom(room: string, viewport = { width: 1000, height: 900 }): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${rc.bridge.opsUrl}/listen?room=${room}`);
  await page.click('#join');
  await page.waitForSelector(`#status:has-text("In room ${room}")`, { timeout: 15_000 });
  return { page, errors };
}
/** Resolves once the page shows a playing track and hears its tone (±3%); returns the track id. */
async function heardTrack(page: Page, notId?: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const [id, hz] = await page.evaluate(() => [document.getElementById('now')?.dataset.trackId ?? '', Number(document.getElementById('frequency')?.dataset.hz || NaN)] as const);
    const expected = rc.frequencyOf(id);
    if (id && id !== notId && Math.abs(hz - expected) <= expected * 0.03) return id;
    if (Date.now() > deadline) throw new Error(`the page shows track "${id}" and hears ${hz} Hz`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('player page', () => {
  it('says an empty room is empty, starts from the pickers, hears the music and shows song, progress and what plays next', async () => {
    const { page, errors } = await openRoom('web-1');
    await page.waitForSelector('#message:has-text("Nothing plays in this room yet")');
    expect(await page.$$eval('#genre option', (o) => o.map((e) => (e as HTMLOptionElement).value))).toEqual(['', 'pop', 'rock']);
    expect(await page.$$eval('#language option', (o) => o.map((e) => (e as HTMLOptionElement).value))).toEqual(['', 'English', 'Spanish']);
    expect(await page.isDisabled('[data-command="skip_music"]')).toBe(true);
    await screenshot(page, 'empty');

    await page.selectOption('#genre', 'pop');
    await page.click('#start');
    const first = await heardTrack(page);
    const song = rc.songs.find((s) => s.id === first);
    expect(await page.textContent('#now')).toBe(song?.title);
    expect(await page.textContent('#state')).toBe('playing');
    await page.waitForSelector('#reply:has-text("Started continuous music")');
    expect(await page.isHidden('#message')).toBe(true);
    // What plays next is another pop song; the progress counts towards the song's 4 s.
    await page.waitForSelector('#next:has-text("Up next: ")');
    const next = (await page.textContent('#next'))?.replace('Up next: ', '');
    expect(rc.songs.filter((s) => s.genre === 'pop').map((s) => (s.artist ? `${s.title} — ${s.artist}` : s.title))).toContain(next);
    expect(await page.textContent('#duration')).toBe('0:04');
    const at = Number(await page.getAttribute('#elapsed', 'data-ms'));
    await page.waitForTimeout(1000);
    const later = Number(await page.getAttribute('#elapsed', 'data-ms'));
    expect(later - at).toBeGreaterThan(600);
    await screenshot(page, 'playing');

    // The listener's own volume: this page only, at once; the room's stays where it was.
    await page.fill('#my-volume', '25');
    expect(await page.$eval('#music', (e) => (e as HTMLAudioElement).volume)).toBeCloseTo(0.25);
    expect(await page.textContent('#room-volume-value')).toBe('100');
    // The room's volume: a command, and the state says it back.
    await page.fill('#room-volume', '40');
    await page.dispatchEvent('#room-volume', 'change');
    await page.waitForSelector('#reply:has-text("Volume set to 40")');

    await page.click('[data-command="skip_music"]');
    const second = await heardTrack(page, first);
    await page.waitForSelector('#events:has-text("track_ended")', { state: 'attached' });
    await page.click('[data-command="pause_music"]');
    await page.waitForSelector('#message:has-text("The music is paused")');
    await screenshot(page, 'paused');
    await page.click('[data-command="resume_music"]');
    await page.waitForSelector('#message', { state: 'hidden' });

    // A language from the picker: the only Spanish song.
    await page.selectOption('#genre', '');
    await page.selectOption('#language', 'Spanish');
    await page.click('#start');
    expect(await heardTrack(page, second)).toBe('b1320');

    await page.click('[data-command="stop_continuous_music"]');
    await page.waitForSelector('#frequency:has-text("—")', { state: 'attached', timeout: 10_000 });
    await page.waitForSelector('#message:has-text("The music is stopped")');
    expect(await page.textContent('#state')).toBe('stopped');
    await screenshot(page, 'stopped');
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows when a voice agent ducks the music, and Lyria's prompts", async () => {
    const { page, errors } = await openRoom('web-3');
    await page.selectOption('#genre', 'rock');
    await page.click('#start');
    await heardTrack(page);
    const voice = await Speaker.join(rc.livekit.url, API_KEY, API_SECRET, 'web-3', { identity: 'voice-agent', agent: true });
    try {
      await voice.startSpeaking();
      await page.waitForSelector('#ducking:has-text("Voice speaking: music 15 dB down")', { timeout: 5_000 });
      await screenshot(page, 'ducked');
      await voice.stopSpeaking();
      await page.waitForSelector('#ducking', { state: 'hidden', timeout: 5_000 });
    } finally {
      await voice.leave();
    }

    await page.selectOption('#source', 'lyria');
    expect(await page.isVisible('#prompt')).toBe(true);
    await page.fill('#prompt', 'warm rhodes piano');
    await page.click('#start');
    await page.waitForSelector('#prompts li:has-text("warm rhodes piano")', { timeout: 15_000 });
    expect(await page.textContent('#now')).toBe('Lyria RealTime');
    expect(await page.isHidden('#progress')).toBe(true);
    await screenshot(page, 'lyria');
    await page.click('[data-command="stop_continuous_music"]');
    await page.waitForSelector('#message:has-text("The music is stopped")');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('fits a phone', async () => {
    const { page, errors } = await openRoom('web-4', { width: 390, height: 844 });
    await page.click('#start');
    await heardTrack(page);
    await page.waitForSelector('#next:has-text("Up next: ")');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    const start = await page.locator('#start').boundingBox();
    expect(start && start.x + start.width).toBeLessThanOrEqual(390);
    await screenshot(page, 'phone');
    await page.click('[data-command="stop_continuous_music"]');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('hands out subscribe-only tokens and refuses bad rooms and commands with a reason', async () => {
    const join = (await (await fetch(`${rc.bridge.opsUrl}/api/join?room=web-2`)).json()) as { url: string; token: string };
    expect(join.url).toBe(rc.livekit.url);
    const claims = JSON.parse(Buffer.from(join.token.split('.')[1] as string, 'base64url').toString()) as { exp: number; nbf: number; video: Record<string, unknown> };
    expect(claims.video).toMatchObject({ room: 'web-2', roomJoin: true, canSubscribe: true, canPublish: false, canPublishData: false });
    expect(claims.exp - claims.nbf).toBeLessThanOrEqual(3600);
    const badRoom = await fetch(`${rc.bridge.opsUrl}/api/join?room=${encodeURIComponent('a/b')}`);
    expect(badRoom.status).toBe(400);
    const badCommand = await fetch(`${rc.bridge.opsUrl}/api/command?room=web-2`, { method: 'POST', body: '{"type":"dance"}' });
    expect(badCommand.status).toBe(400);
    expect(((await badCommand.json()) as { error: { code: string } }).error.code).toBe('invalid_command');
    const huge = await fetch(`${rc.bridge.opsUrl}/api/command?room=web-2`, { method: 'POST', body: 'x'.repeat(10_000) });
    expect(huge.status).toBe(413);
  });

  it('says when the bridge is offline, while the music plays on', async () => {
    const { page, errors } = await openRoom('web-5');
    await page.click('#start');
    const playing = await heardTrack(page);
    expect(await page.isHidden('#offline')).toBe(true);
    await rc.bridge.stop();
    await page.waitForSelector('#offline', { state: 'visible', timeout: 8_000 });
    expect(await page.isDisabled('[data-command="skip_music"]')).toBe(true);
    expect(await page.isDisabled('#start')).toBe(true);
    // Still in the room, still hearing a song of the catalog.
    expect(rc.frequencyOf(await heardTrack(page))).toBeGreaterThan(0);
    expect(playing).toBeTruthy();
    await screenshot(page, 'offline');
    expect(errors).toEqual([]);
    await page.close();
  });
});
