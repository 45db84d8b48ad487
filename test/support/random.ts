import { Rng } from '../../common/net/sim/random.js';

/** A seeded source of numbers in [0, 1) for tests: the simulator's PRNG, so there is one. */
export function seeded(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}
