/** A pino logger that keeps its lines, for tests of what is logged and at which level. */
import { pino, type Logger } from 'pino';

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export function recordedLog(level = 'debug'): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level, formatters: { level: (label) => ({ level: label }) } }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}
