import { describe, expect, it } from 'vitest';
import { Replicas } from '../../bridge/replicas.js';

const rooms = Array.from({ length: 200 }, (_, i) => `room-${i}`);

describe('Replicas', () => {
  it('alone, owns every room', () => {
    const replicas = new Replicas('a', 1_000);
    expect(rooms.every((r) => replicas.owns(r))).toBe(true);
  });

  it('two replicas agree on one owner per room and split the rooms', () => {
    const a = new Replicas('a', 1_000);
    const b = new Replicas('b', 1_000);
    expect(a.heard('b', true)).toBe(true);
    expect(b.heard('a', true)).toBe(true);
    const ownedByA = rooms.filter((r) => a.owns(r));
    const ownedByB = rooms.filter((r) => b.owns(r));
    expect(ownedByA.length + ownedByB.length).toBe(rooms.length);
    expect(ownedByA.filter((r) => ownedByB.includes(r))).toEqual([]);
    expect(ownedByA.length).toBeGreaterThan(60);
    expect(ownedByB.length).toBeGreaterThan(60);
  });

  it('a third replica takes rooms only from the others, never moves them between the others', () => {
    const two = new Replicas('a', 1_000);
    two.heard('b', true);
    const three = new Replicas('a', 1_000);
    three.heard('b', true);
    three.heard('c', true);
    for (const room of rooms) {
      const owner = three.owner(room);
      if (owner !== 'c') expect(owner).toBe(two.owner(room));
    }
  });

  it('a replica that says offline or goes unheard is out', () => {
    const a = new Replicas('a', 1_000);
    a.heard('b', true, 0);
    expect(a.heard('b', true, 500)).toBe(false);
    expect(a.sweep(1_400)).toBe(false);
    expect(a.sweep(1_600)).toBe(true);
    expect(a.live()).toEqual(['a']);
    a.heard('c', true, 2_000);
    expect(a.heard('c', false, 2_100)).toBe(true);
    expect(a.heard('a', false)).toBe(false);
    expect(a.live()).toEqual(['a']);
  });
});
