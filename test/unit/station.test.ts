/**
 * A live station against local ones (test/harness/radio.ts) and real ffmpeg: an ICY stream's
 * audio and titles, a drop survived, a station that stays down failing, an HLS live playlist.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AudioFrame } from '@livekit/rtc-node';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openStation, type StationOptions } from '../../src/sources/station.js';
import { LiveLoudness } from '../../src/playout/liveLoudness.js';
import { dominantFrequency } from '../harness/spectrum.js';
import { HlsStation, IcyServer } from '../harness/radio.js';

const dir = mkdtempSync(join(tmpdir(), 'roomcast-radio-'));
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers) await close();
});

function options(extra: Partial<StationOptions> = {}): StationOptions & { titles: string[]; drops: string[] } {
  const titles: string[] = [];
  const drops: string[] = [];
  return {
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    startTimeoutMs: 5_000,
    stallTimeoutMs: 2_000,
    giveUpMs: 5_000,
    onTitle: (t) => titles.push(t),
    onDrop: (r) => drops.push(r),
    titles,
    drops,
    ...extra,
  };
}

/** The dominant frequency of the left channel of a run of frames. */
function frequencyOf(frames: AudioFrame[]): number {
  const left = new Int16Array(frames.length * 960);
  frames.forEach((f, i) => {
    for (let s = 0; s < 960; s++) left[i * 960 + s] = f.data[s * 2] as number;
  });
  return dominantFrequency(left.subarray(0, 4096), 48_000);
}

async function take(frames: AsyncGenerator<AudioFrame>, n: number): Promise<AudioFrame[]> {
  const out: AudioFrame[] = [];
  while (out.length < n) {
    const next = await frames.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

describe('station', () => {
  it('plays an ICY stream and reports its titles as they change', async () => {
    const icy = await IcyServer.start({ frequency: 700, dir, titles: ['First - One', 'Second - Two'], titleEveryMs: 1_000 });
    closers.push(() => icy.close());
    const opts = options();
    const station = openStation({ id: 'r', title: 'Radio', url: icy.url, live: true }, opts);
    const frames = await take(station.frames, 50);
    expect(Math.abs(frequencyOf(frames.slice(10)) - 700)).toBeLessThan(25);
    // The stream runs in real time: 3 s more of it carry both titles.
    await take(station.frames, 150);
    await station.frames.return(undefined);
    expect(opts.titles.slice(0, 2).sort()).toEqual(['First - One', 'Second - Two']);
  });

  it('comes back after a drop, on a new connection, and fails a station that stays down', async () => {
    const icy = await IcyServer.start({ frequency: 900, dir, titles: ['Only'] });
    closers.push(() => icy.close());
    const opts = options({ giveUpMs: 2_000 });
    const station = openStation({ id: 'r', title: 'Radio', url: icy.url, live: true }, opts);
    await take(station.frames, 60);
    icy.drop(1_000);
    const before = icy.connections.length;
    const after = await take(station.frames, 100);
    expect(icy.connections.length).toBeGreaterThan(before);
    expect(opts.drops.length).toBeGreaterThan(0);
    expect(Math.abs(frequencyOf(after.slice(-40)) - 900)).toBeLessThan(25);
    // Down for good: the station fails after giveUpMs.
    icy.drop(60_000);
    const failed = (async () => {
      for (;;) if ((await station.frames.next()).done) return 'ended';
    })();
    await expect(failed).rejects.toThrow(/unreachable for 2 s/);
  }, 20_000);

  it('reconnect() makes a new connection: the next frames are live', async () => {
    const icy = await IcyServer.start({ frequency: 500, dir, titles: ['Only'] });
    closers.push(() => icy.close());
    const station = openStation({ id: 'r', title: 'Radio', url: icy.url, live: true }, options());
    await take(station.frames, 10);
    station.reconnect();
    await take(station.frames, 10);
    expect(icy.connections.length).toBe(2);
    await station.frames.return(undefined);
  });

  it('plays a Shoutcast v1 station (ICY 200 OK, which Node refuses) through ffmpeg', async () => {
    const v1 = await IcyServer.start({ frequency: 600, dir, titles: ['Only'], shoutcastV1: true });
    closers.push(() => v1.close());
    const station = openStation({ id: 'v1', title: 'Old Radio', url: v1.url, live: true }, options());
    const frames = await take(station.frames, 60);
    expect(Math.abs(frequencyOf(frames.slice(20)) - 600)).toBeLessThan(25);
    await station.frames.return(undefined);
  });

  it('plays an HLS live playlist (ffmpeg reads it)', async () => {
    const hls = await HlsStation.start(join(dir, 'hls'), 1_100);
    closers.push(() => hls.close());
    const opts = options();
    const station = openStation({ id: 'h', title: 'HLS', url: hls.url, live: true }, opts);
    const frames = await take(station.frames, 100);
    expect(Math.abs(frequencyOf(frames.slice(20)) - 1_100)).toBeLessThan(25);
    await station.frames.return(undefined);
  });
});

describe('station loudness', () => {
  it('brings a quiet station to the target on the fly, within seconds', async () => {
    // About -27.5 LUFS at the source: +11.5 dB to reach -16.
    const icy = await IcyServer.start({ frequency: 1_000, dir, titles: ['Only'], gainDb: -6 });
    closers.push(() => icy.close());
    const station = openStation({ id: 'q', title: 'Quiet', url: icy.url, live: true }, options({ targetLufs: -16 }));
    const frames = await take(station.frames, 200);
    await station.frames.return(undefined);
    // The last second as heard, measured as BS.1770 does.
    const meter = new LiveLoudness(-16);
    for (const frame of frames.slice(-50)) meter.apply(new AudioFrame(new Int16Array(frame.data), 48_000, 2, 960));
    expect(meter.measuredLufs).toBeGreaterThan(-17);
    expect(meter.measuredLufs).toBeLessThan(-15);
  });
});
