/**
 * e2e setup: when a test fails, print the warnings and errors every process logged while it ran.
 * CI keeps only the console, so this is what makes a rare failure readable afterwards.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { ARTIFACTS } from './processes.js';

const MAX_LINES = 60;
let startedAt = 0;

beforeEach(() => {
  startedAt = Date.now();
});

afterEach(({ task }) => {
  if (task.result?.state !== 'fail' || !existsSync(ARTIFACTS)) return;
  const lines = readdirSync(ARTIFACTS)
    .filter((f) => f.endsWith('.log'))
    .flatMap((file) => noteworthy(join(ARTIFACTS, file)).map(([at, text]) => ({ at, text: `${file}: ${text.slice(0, 400)}` })))
    .sort((a, b) => a.at - b.at);
  console.log(
    `warnings and errors logged during "${task.name}" (last ${MAX_LINES}):\n${lines
      .slice(-MAX_LINES)
      .map((l) => l.text)
      .join('\n')}`,
  );
});

/** pino lines at warn or above, and livekit-server's WARN/ERROR lines, logged since the test began. */
function noteworthy(file: string): Array<[number, string]> {
  const found: Array<[number, string]> = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const pino = /^\{"level":(\d+),"time":(\d+)/.exec(line);
    if (pino) {
      if (Number(pino[1]) >= 40 && Number(pino[2]) >= startedAt) found.push([Number(pino[2]), line]);
      continue;
    }
    const server = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\t(WARN|ERROR)/.exec(line);
    if (server && Date.parse(server[1] as string) >= startedAt) found.push([Date.parse(server[1] as string), line]);
  }
  return found;
}
