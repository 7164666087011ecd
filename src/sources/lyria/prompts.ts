/** Lyria prompts: defaults made from a command's genre/language/mood, and smooth transitions. */
import type { WeightedPrompt } from '../../protocol/lyriaSettings.js';

/** Prompts for a start command that gives none. */
export function defaultPrompts({ genre, language, mood }: { genre?: string | undefined; language?: string | undefined; mood?: string | undefined }): WeightedPrompt[] {
  const prompts: WeightedPrompt[] = [{ text: genre ?? 'chill instrumental', weight: 1 }];
  if (mood) prompts.push({ text: mood, weight: 0.7 });
  if (language) prompts.push({ text: `${language} music`, weight: 0.4 });
  return prompts;
}

const STEP_MS = 500;

export interface PromptStep {
  /** Wait this long after the previous step before sending. */
  delayMs: number;
  prompts: WeightedPrompt[];
}

/**
 * The prompt sets to send, one every 500 ms, to move from `from` to `to` over `fadeMs`: each
 * text's weight goes linearly from its old weight (0 if new) to its new one (0 if dropped).
 * Zero weights are left out, since the API refuses them. The last step is exactly `to`.
 */
export function promptSteps(from: WeightedPrompt[], to: WeightedPrompt[], fadeMs: number): PromptStep[] {
  const count = Math.max(1, Math.round(fadeMs / STEP_MS));
  if (from.length === 0 || count === 1) return [{ delayMs: 0, prompts: to }];
  const texts = [...new Set([...from, ...to].map((p) => p.text))];
  const weight = (list: WeightedPrompt[], text: string) => list.find((p) => p.text === text)?.weight ?? 0;
  const steps: PromptStep[] = [];
  for (let i = 1; i < count; i++) {
    const a = i / count;
    const prompts = texts.map((text) => ({ text, weight: Number((weight(from, text) * (1 - a) + weight(to, text) * a).toFixed(3)) })).filter((p) => p.weight > 0);
    steps.push({ delayMs: i === 1 ? 0 : STEP_MS, prompts });
  }
  steps.push({ delayMs: STEP_MS, prompts: to });
  return steps;
}
