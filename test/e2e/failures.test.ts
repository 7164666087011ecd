/**
 * Songs that cannot play: served over http by a local server that injects a 404, a truncated
 * body and a stall, plus a corrupt local file. Each is reported as a failed track and the next
 * song starts within 3 s; when every song fails, playback stops with an error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Listener } from '../harness/listener.js';
import { startRoomcast, trackId, type Roomcast } from '../harness/roomcast.js';
import { makeToneCatalog } from '../harness/tones.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

let rc: Roomcast;
let server: Server;
let base: string;
const results: Record<string, number> = {};

/**
 * Serves the tone files, honouring Range requests (ffmpeg reconnects with one): /ok/<file>;
 * /404/…; /truncated/<file>, whose connection dies half-way, every time; /stall/<file>, which
 * sends half the file and then nothing more.
 */
function startFaultyServer(dir: string): Promise<Server> {
  const srv = createServer((req, res) => {
    const [, mode, file] = (req.url ?? '').split('/');
    if (mode === '404' || !file) return res.writeHead(404).end('not found');
    const body = readFileSync(join(dir, file));
    const from = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
    const headers = {
      'Content-Type': 'audio/mpeg',
      'Accept-Ranges': 'bytes',
      'Content-Length': body.length - from,
      ...(from ? { 'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
    };
    res.writeHead(from ? 206 : 200, headers);
    const half = Math.floor(body.length / 2);
    if (mode === 'ok') return res.end(body.subarray(from));
    if (from < half) res.write(body.subarray(from, half));
    if (mode === 'truncated') setTimeout(() => res.destroy(), 50);
    // stall: keep the connection open, send nothing more
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-faulty-'));
  const tones = makeToneCatalog(dir, [
    { id: 'good440', frequency: 440, format: 'mp3', seconds: 4 },
    { id: 'good660', frequency: 660, format: 'mp3', seconds: 4 },
  ]);
  writeFileSync(join(dir, 'corrupt.mp3'), Buffer.alloc(50_000, 0x5a));
  server = await startFaultyServer(dir);
  const { port } = server.address() as { port: number };
  base = `http://127.0.0.1:${port}`;
  const song = (id: string, url: string, language: string) => ({ id, title: id, url, language });
  const catalog = join(dir, 'faulty.json');
  writeFileSync(
    catalog,
    JSON.stringify([
      song('missing', `${base}/404/gone.mp3`, 'x404'),
      song('after404', `${base}/ok/good440.mp3`, 'x404'),
      { ...song('truncated', `${base}/truncated/good660.mp3`, 'xtrunc'), duration: 4 },
      song('aftertrunc', `${base}/ok/good440.mp3`, 'xtrunc'),
      song('stalled', `${base}/stall/good660.mp3`, 'xstall'),
      song('afterstall', `${base}/ok/good440.mp3`, 'xstall'),
      song('corrupt', join(dir, 'corrupt.mp3'), 'xcorrupt'),
      song('aftercorrupt', tones.songs[0]?.url as string, 'xcorrupt'),
      song('dead1', `${base}/404/a.mp3`, 'xdead'),
      song('dead2', join(dir, 'corrupt.mp3'), 'xdead'),
    ]),
  );
  rc = await startRoomcast(undefined, {}, catalog);
});

afterAll(async () => {
  console.log('failure measurements', JSON.stringify(results));
  await rc?.stop();
  server?.close();
});

/** Stops, then play_music starts a playlist of `language` (the bad song and one good one) with `bad`. */
async function failsOver(listener: Listener, bad: string, language: string, next: string, frequency: number) {
  await rc.app.send('failures', { type: 'stop_continuous_music' }).final;
  const sent = rc.app.send('failures', { type: 'play_music', song_name: bad, language });
  const failed = await listener.waitForMessage((m) => m.type === 'track_failed' && trackId(m) === bad, { since: sent.at, timeoutMs: 10_000 });
  const started = await listener.waitForMessage((m) => m.type === 'track_started' && trackId(m) === next, { since: sent.at, timeoutMs: 10_000 });
  expect(started.at - failed.at).toBeLessThan(3_000);
  await listener.waitForTone(frequency, { since: failed.at });
  return started.at - sent.at;
}

describe('songs that cannot play', () => {
  let listener: Listener;

  it('a 404 is reported as a failed track and the next song plays', async () => {
    listener = await rc.listen('failures');
    results.notFoundToNextSongMs = await failsOver(listener, 'missing', 'x404', 'after404', 440);
    expect(listener.messages.find((m) => m.body.type === 'track_failed')?.body.error).toMatch(/404|Not Found/i);
  });

  it('a stream that stalls mid-song fails after the stall timeout and the next song plays', async () => {
    results.stallToNextSongMs = await failsOver(listener, 'stalled', 'xstall', 'afterstall', 440);
  });

  it('a corrupt file is reported and skipped', async () => {
    results.corruptToNextSongMs = await failsOver(listener, 'corrupt', 'xcorrupt', 'aftercorrupt', 440);
  });

  it('a download that keeps breaking off plays what arrived, fails, and the next song plays', async () => {
    results.truncatedToNextSongMs = await failsOver(listener, 'truncated', 'xtrunc', 'aftertrunc', 440);
  });

  it('when every song fails, playback stops with an error, without a busy loop', async () => {
    const sent = rc.app.send('failures', { type: 'start_continuous_music', language: 'xdead' });
    const reply = await sent.final;
    expect(reply).toMatchObject({ ok: false, error: { code: 'command_failed', reason: expect.stringMatching(/every song failed/) } });
    const state = await rc.app.waitForState('failures', (s) => s.state === 'stopped' && typeof s.error === 'string', { since: sent.at });
    expect(state.state.error).toMatch(/every song failed/);
    const failures = listener.messages.filter((m) => m.at >= sent.at && m.body.type === 'track_failed');
    expect(failures).toHaveLength(2);
  });
});
