import { describe, expect, it } from 'vitest';
import { Rng } from '../../common/net/sim/random.js';

const draw = (r: Rng, n: number): number[] => Array.from({ length: n }, () => r.uint32());

describe('Rng (xoshiro128**)', () => {
  it('gives the same sequence for the same seed and label, and a different one otherwise', () => {
    expect(draw(new Rng(42), 8)).toEqual(draw(new Rng(42), 8));
    expect(draw(new Rng(42), 8)).not.toEqual(draw(new Rng(43), 8));
    expect(draw(new Rng(42, 'a'), 8)).not.toEqual(draw(new Rng(42, 'b'), 8));
  });

  it('forks streams that do not depend on how much the parent has drawn', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    draw(b, 100);
    expect(draw(a.fork('link:x'), 5)).toEqual(draw(b.fork('link:x'), 5));
    expect(draw(a.fork('link:x'), 5)).not.toEqual(draw(a.fork('link:y'), 5));
  });

  it('keeps int() within bounds and hits both ends', () => {
    const r = new Rng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(r.int(3, 7));
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
  });

  it('is roughly uniform: next() mean ≈ 0.5 and chance(p) ≈ p over 20k draws', () => {
    const r = new Rng(99);
    let sum = 0;
    let hits = 0;
    let outside = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const v = r.next();
      if (!(v >= 0 && v < 1)) outside++;
      sum += v;
      if (r.chance(0.25)) hits++;
    }
    expect(outside).toBe(0);
    expect(sum / n).toBeGreaterThan(0.49);
    expect(sum / n).toBeLessThan(0.51);
    expect(hits / n).toBeGreaterThan(0.24);
    expect(hits / n).toBeLessThan(0.26);
  });

  it('chance(0) is never true, chance(1) always', () => {
    const r = new Rng(5);
    const draws = Array.from({ length: 1000 }, () => [r.chance(0), r.chance(1)]);
    expect(draws.every(([never, always]) => !never && always)).toBe(true);
  });

  it('fills byte arrays of any length deterministically', () => {
    const a = new Rng(3).fill(new Uint8Array(7));
    const b = new Rng(3).fill(new Uint8Array(7));
    expect(a).toEqual(b);
    expect(a.some((x) => x !== 0)).toBe(true);
  });
});
