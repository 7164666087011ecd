/**
 * Watches a host process's event loop: every room's frames go through it, and a stall longer than
 * the native audio queue (AUDIO_QUEUE_MS, 20 ms) is a dropout in every room at once. The longest
 * stall of each 10 s goes to the log: at debug level, or as a warning past STALL_WARN_MS.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from '../log.js';

const WINDOW_MS = 10_000;
const STALL_WARN_MS = 100;

export function watchEventLoop(log: Logger): () => void {
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  const timer = setInterval(() => {
    const maxMs = Math.round(delay.max / 1e6);
    const p99Ms = Math.round(delay.percentile(99) / 1e6);
    delay.reset();
    if (maxMs > STALL_WARN_MS) log.warn({ maxMs, p99Ms }, 'event loop stalled: rooms of this process may have dropped audio');
    else log.debug({ maxMs, p99Ms }, 'event loop delay');
  }, WINDOW_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    delay.disable();
  };
}
