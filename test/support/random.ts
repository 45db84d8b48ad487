import { Rng } from '../../common/net/sim/random.js';

/** A seeded source of numbers in [0, 1) for tests: the simulator's PRNG, so there is one. */
export function seeded(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** A seeded source of random bytes for tests (the injected randomBytes seam). */
export function seededRandom(seed: number): (n: number) => Uint8Array {
  const r = new Rng(seed);
  return (n) => r.fill(new Uint8Array(n));
}
