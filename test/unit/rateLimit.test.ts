import { describe, expect, it } from 'vitest';
import { SessionRateLimit } from '../../bridge/rateLimit.js';

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('SessionRateLimit', () => {
  it('lets a burst through, then the sustained rate, and refuses the rest', () => {
    const t = clock();
    const limit = new SessionRateLimit({ perSecond: 20, burst: 40 }, t.now);
    const burst = Array.from({ length: 50 }, () => limit.take('a').ok);
    expect(burst.filter(Boolean)).toHaveLength(40);
    // Ten seconds at 1000 a second: 20 a second get through.
    let passed = 0;
    for (let i = 0; i < 10_000; i++) {
      t.advance(1);
      if (limit.take('a').ok) passed++;
    }
    expect(passed).toBeGreaterThanOrEqual(199);
    expect(passed).toBeLessThanOrEqual(201);
  });

  it('keeps sessions apart', () => {
    const t = clock();
    const limit = new SessionRateLimit({ perSecond: 1, burst: 2 }, t.now);
    expect([limit.take('a').ok, limit.take('a').ok, limit.take('a').ok]).toEqual([true, true, false]);
    expect(limit.take('b').ok).toBe(true);
  });

  it('reports the refused commands about once a second, not one by one', () => {
    const t = clock();
    const limit = new SessionRateLimit({ perSecond: 1, burst: 1 }, t.now);
    limit.take('a');
    const reports: number[] = [];
    for (let i = 0; i < 3_000; i++) {
      t.advance(1);
      const admission = limit.take('a');
      if (!admission.ok && admission.report) reports.push(admission.report);
    }
    expect(reports.length).toBeGreaterThanOrEqual(2);
    expect(reports.length).toBeLessThanOrEqual(4);
    // What was refused after the last report is told with the next one.
    expect(reports.reduce((a, b) => a + b, 0)).toBeGreaterThan(1_900);
  });

  it('forgets quiet sessions: memory stays bounded by the recently active ones', () => {
    const t = clock();
    const limit = new SessionRateLimit({ perSecond: 20, burst: 40 }, t.now);
    for (let i = 0; i < 10_000; i++) limit.take(`s${i}`);
    expect(limit.size).toBe(10_000);
    t.advance(3_000);
    limit.take('later');
    expect(limit.size).toBe(1);
  });

  it('is off at 0 commands per second', () => {
    const limit = new SessionRateLimit({ perSecond: 0, burst: 1 });
    for (let i = 0; i < 100; i++) expect(limit.take('a').ok).toBe(true);
  });
});
