/**
 * Watches a host process's event loop while it has rooms: every room's frames go through it, and a
 * stall longer than the native audio queue (AUDIO_QUEUE_MS, 20 ms) is a dropout in every room at
 * once. The longest stall of each 10 s goes to the log: at debug level, or as a warning past
 * STALL_WARN_MS. A host without rooms is not watched: the 20-ms timer of the watch alone costs a
 * process ~4.5 ms/s of CPU at rest (measured), and there is no audio to drop.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from '../src/log.js';

const WINDOW_MS = 10_000;
const STALL_WARN_MS = 100;

export class EventLoopWatch {
  private delay: IntervalHistogram | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger) {}

  /** Watch (the host has rooms) or stop watching (it has none). */
  watching(on: boolean): void {
    if (on === (this.delay !== undefined)) return;
    if (!on) return this.stop();
    const delay = monitorEventLoopDelay({ resolution: 20 });
    delay.enable();
    this.delay = delay;
    this.timer = setInterval(() => {
      const maxMs = Math.round(delay.max / 1e6);
      const p99Ms = Math.round(delay.percentile(99) / 1e6);
      delay.reset();
      if (maxMs > STALL_WARN_MS) this.log.warn({ maxMs, p99Ms }, 'event loop stalled: rooms of this process may have dropped audio');
      else this.log.debug({ maxMs, p99Ms }, 'event loop delay');
    }, WINDOW_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.delay?.disable();
    this.delay = undefined;
  }
}
