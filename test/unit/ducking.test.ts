import { AudioFrame } from '@livekit/rtc-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Ducking, type DuckingSettings } from '../../agent/ducking.js';
import { CHANNELS, SAMPLES_PER_FRAME, SAMPLE_RATE, type NativeAudioSink } from '../../src/playout/audioFormat.js';
import { DuckSink } from '../../src/playout/duck.js';

const DEFAULTS: DuckingSettings = { enabled: true, mode: 'duck', depthDb: -15, attackMs: 50, holdMs: 500, releaseMs: 600 };

/** A full-scale constant frame (every sample 10,000), and a sink that keeps what it is given. */
const frame = () => new AudioFrame(new Int16Array(SAMPLES_PER_FRAME * CHANNELS).fill(10_000), SAMPLE_RATE, CHANNELS, SAMPLES_PER_FRAME);
function collector() {
  const samples: number[] = [];
  const sink: NativeAudioSink = {
    captureFrame: async (f) => {
      for (let i = 0; i < f.samplesPerChannel; i++) samples.push(f.data[i * f.channels] as number);
    },
    queuedDuration: 0,
  };
  return { sink, samples };
}
const db = (sample: number) => 20 * Math.log10(sample / 10_000);

describe('DuckSink', () => {
  it('goes down by the depth within the attack and back within the release, without a jump', async () => {
    const { sink, samples } = collector();
    const duck = new DuckSink(sink, { depthDb: -15, attackMs: 50, releaseMs: 600 });
    await duck.captureFrame(frame());
    expect(samples.every((s) => s === 10_000)).toBe(true);
    duck.duck(true);
    for (let i = 0; i < 6; i++) await duck.captureFrame(frame());
    // 5 frames of 10 ms: the attack is over.
    expect(db(samples.at(-1) as number)).toBeCloseTo(-15, 1);
    // Eased out: half-way through the attack, three quarters of the depth (a straight line: half).
    expect(db(samples[SAMPLES_PER_FRAME + (SAMPLE_RATE * 25) / 1000] as number)).toBeCloseTo(-11.25, 0);
    // 12 dB down after 55% of the attack.
    expect(db(samples[SAMPLES_PER_FRAME + (SAMPLE_RATE * 28) / 1000] as number)).toBeLessThan(-12);
    duck.duck(false);
    for (let i = 0; i < 61; i++) await duck.captureFrame(frame());
    expect(samples.at(-1)).toBe(10_000);
    let largestStep = 0;
    for (let i = 1; i < samples.length; i++) largestStep = Math.max(largestStep, Math.abs((samples[i] as number) - (samples[i - 1] as number)));
    // A click would be a jump of thousands; the steepest step of the 50-ms attack is a few units.
    expect(largestStep).toBeLessThan(20);
  });
});

describe('Ducking', () => {
  afterEach(() => vi.useRealTimers());
  const make = (settings: Partial<DuckingSettings> = {}) => {
    const calls: string[] = [];
    const ducking = new Ducking(
      { ...DEFAULTS, ...settings },
      {
        duck: (on) => calls.push(on ? 'duck' : 'up'),
        pause: async () => (calls.push('pause'), true),
        resume: async () => void calls.push('resume'),
        changed: () => undefined,
      },
    );
    return { ducking, calls };
  };

  it('ducks while a voice agent speaks and comes back as soon as it stops', () => {
    const { ducking, calls } = make();
    ducking.agentState('voice', 'listening');
    ducking.agentState('voice', 'speaking');
    expect(ducking.status().active).toBe(true);
    ducking.agentState('voice', 'thinking');
    expect(calls).toEqual(['duck', 'up']);
  });

  it("holds through an active speaker's pauses between words", () => {
    vi.useFakeTimers();
    const { ducking, calls } = make();
    ducking.speakers(['human']);
    ducking.speakers([]);
    vi.advanceTimersByTime(300);
    ducking.speakers(['human']);
    ducking.speakers([]);
    vi.advanceTimersByTime(499);
    expect(calls).toEqual(['duck']);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual(['duck', 'up']);
  });

  it('pauses and resumes in pause mode, and does nothing once disabled', async () => {
    const { ducking, calls } = make({ mode: 'pause' });
    ducking.agentState('voice', 'speaking');
    await Promise.resolve();
    ducking.agentState('voice', 'listening');
    await Promise.resolve();
    expect(calls).toEqual(['pause', 'up', 'resume']);
    ducking.configure({ enabled: false });
    ducking.agentState('voice', 'speaking');
    expect(ducking.status()).toMatchObject({ enabled: false, active: false });
    expect(calls).toEqual(['pause', 'up', 'resume']);
  });

  it("a person heard directly counts, with the hold, and LiveKit's lagging list does not keep them speaking", () => {
    vi.useFakeTimers();
    const { ducking, calls } = make();
    ducking.voice('person', true);
    ducking.speakers(['person']);
    ducking.voice('person', false);
    // LiveKit still lists the person: their own audio says they stopped.
    ducking.speakers([]);
    vi.advanceTimersByTime(500);
    expect(calls).toEqual(['duck', 'up']);
  });

  it('a speaker who leaves the room ends the ducking', () => {
    const { ducking, calls } = make();
    ducking.agentState('voice', 'speaking');
    ducking.left('voice');
    expect(calls).toEqual(['duck', 'up']);
  });
});
