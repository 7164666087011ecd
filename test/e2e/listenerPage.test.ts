/**
 * The listener page in a real browser (Debian's Chromium, driven by playwright-core): it joins a
 * room through the bridge's token endpoint, hears the music through livekit-client and WebAudio,
 * shows the current title, and its buttons command the room through the bridge.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../harness/browser.js';
import { startRoomcast, type Roomcast } from '../harness/roomcast.js';

let rc: Roomcast;
let browser: Browser;

beforeAll(async () => {
  rc = await startRoomcast(undefined, {}, undefined, { LISTENER_PAGE: 'true' });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await rc?.stop();
});

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

describe('listener page', () => {
  it('joins, hears the music, shows the title, and its buttons command the room', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${rc.bridge.opsUrl}/listen?room=web-1`);
    await page.click('#join');
    await page.waitForSelector('#status:has-text("In room web-1")', { timeout: 15_000 });
    await page.click('[data-command="start_continuous_music"]');
    const first = await heardTrack(page);
    expect(await page.textContent('#now')).toContain(rc.songs.find((s) => s.id === first)?.title);
    expect(await page.textContent('#state')).toBe('playing');
    await page.waitForSelector('#reply:has-text("Started continuous music")');

    await page.click('[data-command="skip_music"]');
    await heardTrack(page, first);
    await page.waitForSelector('#events:has-text("track_ended")');
    await page.click('[data-command="stop_continuous_music"]');
    await page.waitForSelector('#frequency:has-text("—")', { timeout: 10_000 });
    expect(await page.textContent('#state')).toBe('stopped');
    expect(errors).toEqual([]);
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
});
