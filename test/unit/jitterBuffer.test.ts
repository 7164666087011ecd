import { describe, expect, it } from 'vitest';
import { JitterBuffer } from '../../src/playout/jitterBuffer.js';

const ramp = (from: number, frames: number) => Int16Array.from({ length: frames * 2 }, (_, i) => from + Math.floor(i / 2));

describe('JitterBuffer', () => {
  it('holds audio back until the pre-buffer is full, then plays it in order', () => {
    const b = new JitterBuffer(2, 100, 10_000);
    const out = new Int16Array(40 * 2);
    b.push(ramp(0, 60));
    expect(b.read(out)).toBe(false);
    b.push(ramp(60, 60));
    expect(b.read(out)).toBe(true);
    expect(out[0]).toBe(0);
    expect(out.at(-1)).toBe(39);
    expect(b.read(out)).toBe(true);
    expect(out[0]).toBe(40);
    expect(b.frames).toBe(40);
  });

  it('counts one underrun when it runs dry, and waits for the pre-buffer again', () => {
    const b = new JitterBuffer(2, 50, 10_000);
    const out = new Int16Array(40 * 2);
    b.push(ramp(0, 60));
    expect(b.read(out)).toBe(true);
    expect(b.read(out)).toBe(false);
    expect(b.read(out)).toBe(false);
    expect(b.underruns).toBe(1);
    // 20 frames were left over; the pre-buffer needs 50 again.
    b.push(ramp(0, 20));
    expect(b.read(out)).toBe(false);
    b.push(ramp(0, 20));
    expect(b.read(out)).toBe(true);
  });

  it('drops the oldest audio past its limit', () => {
    const b = new JitterBuffer(2, 10, 100);
    b.push(ramp(0, 80));
    b.push(ramp(80, 80));
    expect(b.frames).toBe(100);
    expect(b.overflowed).toBe(120);
    const out = new Int16Array(2);
    b.read(out);
    expect(out[0]).toBe(60);
  });

  it('clear() empties it and re-arms the pre-buffer without counting an underrun', () => {
    const b = new JitterBuffer(2, 10, 100);
    b.push(ramp(0, 20));
    b.clear();
    expect(b.read(new Int16Array(2))).toBe(false);
    expect(b.underruns).toBe(0);
  });
});
