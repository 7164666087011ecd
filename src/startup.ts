/** Startup failures (bad config, no ffmpeg, unreadable catalog) print one clear message and exit 1. */
import { ConfigError } from './config.js';

export async function startupStep<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : `Cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
}
