/**
 * `npm start` without Docker: the local stack script brings up livekit-server (livekit.yaml),
 * Mosquitto, the demo catalog, the agent and the bridge with its listener page, on this
 * namespace's fixed default ports. A browser opens the printed page, joins room "demo", presses
 * Start and hears the demo music; an MQTT app on the printed broker gets its reply.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../harness/app.js';
import { launchChromium } from '../harness/browser.js';
import { startProcess, type Proc } from '../harness/processes.js';
import { processTree } from '../harness/procTree.js';

let stack: Proc;
let browser: Browser | undefined;

beforeAll(async () => {
  // `npm start` is provision (a no-op here: the suite provisioned), build (done), then this script.
  execFileSync('bash', ['scripts/provision.sh'], { stdio: 'ignore' });
  // No LIVEKIT_URL, MQTT_URL or MUSIC_CATALOG: every embedded default applies.
  stack = startProcess('local-stack', process.execPath, [join(process.cwd(), 'dist/scripts/local-stack.js')], { LOG_PRETTY: 'false' });
  await stack.waitFor(/Roomcast is up/, 60_000);
  await stack.waitFor(/registered worker/, 60_000);
  await stack.waitFor(/bridge ready/, 60_000);
});

afterAll(async () => {
  await browser?.close();
  // Its children run in process groups of their own: none may outlive the test on the fixed ports.
  const tree = stack?.child.pid ? processTree(stack.child.pid) : [];
  await stack?.stop('SIGINT');
  for (const { pid } of tree) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
});

describe('npm start', () => {
  it('prints the player page, which plays the demo music in room "demo"', async () => {
    const pageUrl = /(http:\/\/localhost:\d+\/listen\?room=demo)/.exec(stack.output())?.[1];
    expect(pageUrl).toBeDefined();
    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(pageUrl as string);
    await page.click('#join');
    await page.waitForSelector('#status:has-text("In room demo")', { timeout: 15_000 });
    await page.click('#start');
    await page.waitForSelector('#artist:has-text("Roomcast demo")', { timeout: 20_000 });
    await page.waitForFunction(() => Number(document.getElementById('frequency')?.dataset.hz) > 100, undefined, { timeout: 20_000 });
  });

  it("shows Roomcast's logs, not livekit-server's and Mosquitto's ordinary ones", () => {
    // livekit-server logs "<time>\tINFO\t…" at info level; Mosquitto its connections.
    expect(stack.output()).not.toMatch(/\tINFO\t/);
    expect(stack.output()).not.toMatch(/New client connected|New connection from/);
  });

  it('answers an MQTT app on the printed broker', async () => {
    const mqttUrl = /MQTT\s+(mqtt:\/\/\S+)/.exec(stack.output())?.[1] as string;
    const app = await App.connect(mqttUrl);
    try {
      const reply = await app.send('demo', { type: 'get_music_status' }).final;
      expect(reply.status).toBe('done');
      expect((reply.result as { status?: { state?: string } } | undefined)?.status?.state).toBe('playing');
    } finally {
      await app.close();
    }
  });

  it('Ctrl-C stops the agent and the bridge before the broker and the server, quietly', async () => {
    const from = stack.output().length;
    const exited = new Promise<number | null>((resolve) => stack.child.once('exit', (code) => resolve(code)));
    stack.child.kill('SIGINT');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 25_000));
    expect(await Promise.race([exited, timeout])).toBe(0);
    const said = stack.output().slice(from);
    expect(said).toMatch(/stopping the agent and the bridge, then Mosquitto and livekit-server/);
    expect(said).toMatch(/agent worker stopping/);
    // The broker was still there while they stopped: no reconnect attempts, no refused connections.
    expect(said).not.toMatch(/ECONNREFUSED|reconnect|connection refused|exited \(/i);
  });
});
