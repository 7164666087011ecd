import { describe, expect, it } from 'vitest';
import { parseAudioMime } from '../../src/sources/lyria/connection.js';
import { defaultPrompts, promptSteps } from '../../src/sources/lyria/prompts.js';
import { toGenerationConfig } from '../../src/protocol/lyriaSettings.js';

describe('Lyria prompts', () => {
  it('makes prompts from genre, mood and language', () => {
    expect(defaultPrompts({ genre: 'jazz', mood: 'calm', language: 'French' })).toEqual([
      { text: 'jazz', weight: 1 },
      { text: 'calm', weight: 0.7 },
      { text: 'French music', weight: 0.4 },
    ]);
    expect(defaultPrompts({})).toEqual([{ text: 'chill instrumental', weight: 1 }]);
  });

  it('fades weights from the old prompts to the new ones, never sending a zero weight', () => {
    const steps = promptSteps([{ text: 'jazz', weight: 1 }], [{ text: 'techno', weight: 2 }], 2_000);
    expect(steps).toHaveLength(4);
    expect(steps[0]).toEqual({
      delayMs: 0,
      prompts: [
        { text: 'jazz', weight: 0.75 },
        { text: 'techno', weight: 0.5 },
      ],
    });
    expect(steps[1]?.prompts).toEqual([
      { text: 'jazz', weight: 0.5 },
      { text: 'techno', weight: 1 },
    ]);
    expect(steps.at(-1)).toEqual({ delayMs: 500, prompts: [{ text: 'techno', weight: 2 }] });
    for (const step of steps) for (const p of step.prompts) expect(p.weight).toBeGreaterThan(0);
  });

  it('sends the new prompts at once when there is nothing to fade from, or no fade time', () => {
    expect(promptSteps([], [{ text: 'a', weight: 1 }], 3_000)).toEqual([{ delayMs: 0, prompts: [{ text: 'a', weight: 1 }] }]);
    expect(promptSteps([{ text: 'b', weight: 1 }], [{ text: 'a', weight: 1 }], 0)).toHaveLength(1);
  });
});

describe('Lyria wire details', () => {
  it('reads rate and channels from the chunk mimeType, defaulting to 48 kHz stereo', () => {
    expect(parseAudioMime('audio/l16;rate=44100;channels=1')).toEqual({ rate: 44100, channels: 1 });
    expect(parseAudioMime('audio/l16; rate=48000; channels=2')).toEqual({ rate: 48000, channels: 2 });
    expect(parseAudioMime(undefined)).toEqual({ rate: 48000, channels: 2 });
  });

  it('maps command settings onto the SDK config names', () => {
    expect(toGenerationConfig({ bpm: 90, top_k: 40, mute_bass: true, only_bass_and_drums: false, mode: 'DIVERSITY' })).toEqual({
      bpm: 90,
      topK: 40,
      muteBass: true,
      onlyBassAndDrums: false,
      musicGenerationMode: 'DIVERSITY',
    });
  });
});
