/**
 * Per-session rate limit at the bridge: a token bucket for each session id. One app publishing
 * thousands of payloads a second (good or bad) would otherwise put its room's agent minutes
 * behind and keep the bridge busy for everyone; past its rate, a session's commands get an error
 * reply (`rate_limited`) and nothing is queued, and other sessions are not affected. Buckets of
 * sessions that have been quiet long enough to be full again are dropped, so memory is bounded by
 * the sessions active in the last few seconds.
 */
export interface RateLimitOptions {
  /** Commands per second a session may keep up; 0 turns the limit off. */
  perSecond: number;
  /** Commands a session may send at once after a quiet spell. */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
  /** Commands refused since the last report, and when that was. */
  refused: number;
  reportedAt: number;
}

/** `report`: when set, the commands refused in the last second or so (one log line, not one each). */
export type Admission = { ok: true } | { ok: false; report?: number };

export class SessionRateLimit {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `session`; refused when the session is over its rate. */
  take(session: string): Admission {
    const { perSecond, burst } = this.options;
    if (perSecond <= 0) return { ok: true };
    const now = this.now();
    this.sweep(now);
    const bucket = this.buckets.get(session) ?? { tokens: burst, at: now, refused: 0, reportedAt: -Infinity };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    this.buckets.set(session, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    bucket.refused++;
    if (now - bucket.reportedAt < 1_000) return { ok: false };
    const report = bucket.refused;
    bucket.refused = 0;
    bucket.reportedAt = now;
    return { ok: false, report };
  }

  /** Sessions with a bucket (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** Once a second: forget buckets that have refilled (they would start full anyway). */
  private sweep(now: number): void {
    if (now - this.lastSweep < 1_000) return;
    this.lastSweep = now;
    const refillMs = (this.options.burst / this.options.perSecond) * 1000;
    for (const [session, bucket] of this.buckets) if (now - bucket.at >= refillMs) this.buckets.delete(session);
  }
}
