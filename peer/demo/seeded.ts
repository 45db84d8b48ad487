/**
 * Everything random in the demo comes from `--seed`, so one seed tells one story, byte for byte:
 * the keys, the session's ephemeral keys and nonces, the rendezvous's introduction ids, and the
 * retry jitter. The simulator draws its own randomness (loss, ports) from the same seed.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { identityFromKeys } from '../../common/identity.js';
import type { Identity } from '../../common/identity.js';

// PKCS#8 DER headers for a raw 32-byte Ed25519 / X25519 private key (RFC 8410 §7).
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** A stream of pseudo-random bytes: SHA-256 in counter mode over a label. Not for real keys. */
export function seededBytes(label: string): (n: number) => Uint8Array {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (n) => {
    while (pool.length < n) {
      const block = createHash('sha256').update(`${label}/${counter++}`).digest();
      pool = Buffer.concat([pool, block]);
    }
    const out = new Uint8Array(pool.subarray(0, n));
    pool = pool.subarray(n);
    return out;
  };
}

/** A number in [0, 1) from the same kind of stream. */
export function seededRandom(label: string): () => number {
  const bytes = seededBytes(label);
  return () => Buffer.from(bytes(6)).readUIntBE(0, 6) / 2 ** 48;
}

function rawPublic(privateDer: Buffer): Uint8Array {
  const key = createPrivateKey({ key: privateDer, format: 'der', type: 'pkcs8' });
  const der = createPublicKey(key).export({
    format: 'der',
    type: 'spki',
  });
  return new Uint8Array(der.subarray(der.length - 32));
}

/**
 * A demo identity derived from the seed and the name (so alice's id is the same on every run
 * with the same seed). Only for the simulated demo: real identities come from
 * loadOrCreateIdentity.
 */
export function demoIdentity(seed: number, name: string): Identity {
  const bytes = seededBytes(`punchline-demo/${seed}/identity/${name}`);
  const edDer = Buffer.concat([ED25519_PKCS8, bytes(32)]);
  const dhPrivate = bytes(32);
  const edPrivate = createPrivateKey({ key: edDer, format: 'der', type: 'pkcs8' });
  return identityFromKeys(edPrivate, rawPublic(Buffer.concat([X25519_PKCS8, dhPrivate])), dhPrivate);
}

/**
 * Run `fn` with Math.random drawn from the seed. The peer's request retries and reconnect
 * backoff take their jitter from Math.random (peer/requests.ts, peer/rendezvous-client.ts,
 * peer/peer-node.ts) and PeerNode has no component for it yet; with --loss those retries
 * change the story, so the seed must fix them too. The original is restored however fn ends.
 */
export async function withSeededMathRandom<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  const original = Math.random;
  Math.random = seededRandom(`punchline-demo/${seed}/math-random`);
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}
