/**
 * Everything random in the demo comes from `--seed`, so one seed tells one story, byte for byte:
 * the keys, the session's ephemeral keys and nonces, the rendezvous's introduction ids, and the
 * retry jitter. The simulator draws its own randomness (loss, ports) from the same seed.
 */
import { createHash } from 'node:crypto';
import { identityFromSeed } from '../../common/identity/identity.js';
import type { Identity } from '../../common/identity/identity.js';

/** A stream of pseudo-random bytes: SHA-256 in counter mode over a label. Not for real keys. */
export function seededBytes(label: string): (n: number) => Uint8Array {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (n) => {
    // Gather the blocks and join them once: a megabyte drawn at once (the --transfer payload)
    // stays linear instead of copying the growing pool for every 32-byte block.
    if (pool.length < n) {
      const blocks = [pool];
      let have = pool.length;
      while (have < n) {
        const block = createHash('sha256').update(`${label}/${counter++}`).digest();
        blocks.push(block);
        have += block.length;
      }
      pool = Buffer.concat(blocks, have);
    }
    const out = new Uint8Array(pool.subarray(0, n));
    pool = pool.subarray(n);
    return out;
  };
}

/**
 * A demo identity derived from the seed and the name (so alice's id is the same on every run
 * with the same seed). Only for the simulated demo: real identities come from
 * loadOrCreateIdentity.
 */
export function demoIdentity(seed: number, name: string): Identity {
  return identityFromSeed(seededBytes(`punchline-demo/${seed}/identity/${name}`)(64));
}
