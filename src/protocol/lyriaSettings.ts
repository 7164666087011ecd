/**
 * Lyria RealTime's prompts and generation settings as commands carry them (snake_case), with the
 * API's ranges, and their mapping onto the SDK's LiveMusicGenerationConfig.
 */
import { z } from 'zod';

export const SCALES = [
  'C_MAJOR_A_MINOR',
  'D_FLAT_MAJOR_B_FLAT_MINOR',
  'D_MAJOR_B_MINOR',
  'E_FLAT_MAJOR_C_MINOR',
  'E_MAJOR_D_FLAT_MINOR',
  'F_MAJOR_D_MINOR',
  'G_FLAT_MAJOR_E_FLAT_MINOR',
  'G_MAJOR_E_MINOR',
  'A_FLAT_MAJOR_F_MINOR',
  'A_MAJOR_G_FLAT_MINOR',
  'B_FLAT_MAJOR_G_MINOR',
  'B_MAJOR_A_FLAT_MINOR',
  'SCALE_UNSPECIFIED',
] as const;

export const MODES = ['QUALITY', 'DIVERSITY', 'VOCALIZATION'] as const;

export const weightedPromptSchema = z.object({
  text: z.string().trim().min(1).max(500),
  weight: z.number().gt(0, 'must be above 0 (the API refuses a weight of 0)').max(100).default(1),
});

export const weightedPromptsSchema = z.array(weightedPromptSchema).min(1).max(10);

export type WeightedPrompt = z.infer<typeof weightedPromptSchema>;

/** Every setting is optional in a command; ranges are the API's. */
export const lyriaSettingsShape = {
  bpm: z.number().int().min(60).max(200).optional(),
  density: z.number().min(0).max(1).optional(),
  brightness: z.number().min(0).max(1).optional(),
  scale: z.enum(SCALES).optional(),
  guidance: z.number().min(0).max(6).optional(),
  temperature: z.number().min(0).max(3).optional(),
  top_k: z.number().int().min(1).max(1000).optional(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
  mute_bass: z.boolean().optional(),
  mute_drums: z.boolean().optional(),
  only_bass_and_drums: z.boolean().optional(),
  mode: z.enum(MODES).optional(),
};

export const LYRIA_SETTING_NAMES = Object.keys(lyriaSettingsShape) as Array<keyof typeof lyriaSettingsShape>;

export type LyriaSettings = { [K in keyof typeof lyriaSettingsShape]?: z.infer<(typeof lyriaSettingsShape)[K]> };

/** The Lyria settings present in a command. */
export function pickLyriaSettings(command: Record<string, unknown>): LyriaSettings {
  return Object.fromEntries(LYRIA_SETTING_NAMES.filter((k) => command[k] !== undefined).map((k) => [k, command[k]])) as LyriaSettings;
}

/** Settings that only take effect after a context reset. */
export const RESET_SETTINGS = ['bpm', 'scale'] as const satisfies ReadonlyArray<keyof LyriaSettings>;

/** Where the SDK's LiveMusicGenerationConfig names a setting differently. */
const SDK_NAMES: Partial<Record<keyof LyriaSettings, string>> = {
  top_k: 'topK',
  mute_bass: 'muteBass',
  mute_drums: 'muteDrums',
  only_bass_and_drums: 'onlyBassAndDrums',
  mode: 'musicGenerationMode',
};

/** The SDK's LiveMusicGenerationConfig (camelCase) for a full set of settings. */
export function toGenerationConfig(s: LyriaSettings): Record<string, unknown> {
  return Object.fromEntries(LYRIA_SETTING_NAMES.filter((k) => s[k] !== undefined).map((k) => [SDK_NAMES[k] ?? k, s[k]]));
}
