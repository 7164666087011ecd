import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AttributeUpdates } from '../../agent/attributeUpdates.js';

describe('AttributeUpdates', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends a lone change after the short delay, with every key changed meanwhile', () => {
    const sent: string[][] = [];
    const updates = new AttributeUpdates<'a' | 'b'>(async (keys) => void sent.push(keys), 10, 100);
    updates.changed('a');
    updates.changed('b');
    updates.changed('a');
    vi.advanceTimersByTime(9);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([['a', 'b']]);
  });

  it('sends at most one update per interval during a burst', () => {
    const sent: number[] = [];
    const updates = new AttributeUpdates<'a'>(async () => void sent.push(Date.now()), 10, 100);
    const start = Date.now();
    for (let ms = 0; ms < 500; ms += 5) {
      updates.changed('a');
      vi.advanceTimersByTime(5);
    }
    vi.advanceTimersByTime(200);
    const at = sent.map((t) => t - start);
    expect(at[0]).toBe(10);
    for (let i = 1; i < at.length; i++) expect((at[i] as number) - (at[i - 1] as number)).toBeGreaterThanOrEqual(100);
    expect(at.length).toBeGreaterThanOrEqual(5);
    expect(at.at(-1)).toBeGreaterThanOrEqual(500 - 5);
  });

  it('sends nothing once stopped, not even for a change that comes after (the player stopping as the agent leaves)', () => {
    const publish = vi.fn(async () => undefined);
    const updates = new AttributeUpdates<'a'>(publish, 10, 100);
    updates.changed('a');
    updates.stop();
    updates.changed('a');
    vi.advanceTimersByTime(1_000);
    expect(publish).not.toHaveBeenCalled();
  });
});
