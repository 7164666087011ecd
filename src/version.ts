/** Roomcast's own version, from its package.json (Home Assistant shows it on each room's device). */
import { readFileSync } from 'node:fs';

export function roomcastVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
