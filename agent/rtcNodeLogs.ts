/**
 * rtc-node's own logger (pino, named `lk-rtc`) made part of the process's: left alone it logs at
 * debug unless NODE_ENV is `production`, as raw JSON lines on stdout, so a terminal showed
 * `{"level":20,…,"name":"lk-rtc","msg":"Connect callback received"}` between the pretty lines for
 * every room joined. Routed, its lines follow LOG_LEVEL and come out like the process's own
 * (pretty or JSON, secrets redacted), marked `logger: "lk-rtc"`.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from '../src/log.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

export type RtcNodeLogger = Pick<Logger, 'level' | (typeof LEVELS)[number]>;

/** rtc-node's logger. It is not exported: loaded by path, it is the same module instance rtc-node uses. */
export function rtcNodeLogger(): RtcNodeLogger {
  const require = createRequire(import.meta.url);
  return (require(join(dirname(require.resolve('@livekit/rtc-node')), 'log.cjs')) as { log: RtcNodeLogger }).log;
}

/** From now on, whatever rtc-node logs goes to `log`, at `log`'s level. */
export function routeRtcNodeLogs(log: Logger, rtcNode: RtcNodeLogger = rtcNodeLogger()): void {
  const routed = log.child({ logger: 'lk-rtc' });
  // Setting a pino logger's level rewrites its level methods: the level first, then the methods.
  rtcNode.level = log.level;
  for (const level of LEVELS) rtcNode[level] = routed[level].bind(routed);
}
