import { createHash, createHmac } from 'node:crypto';
import { PunchlineError } from '../errors.js';

/**
 * The Noise hash function punchline's sessions use, SHA-256 (Noise §12.3):
 * Noise_XX_25519_ChaChaPoly_SHA256.
 */
export type HashName = 'SHA256';
export const HASH_NAMES: readonly HashName[] = ['SHA256'];

export interface NoiseHash {
  readonly name: HashName;
  /** HASHLEN: 32. */
  readonly hashLen: number;
  /** HASH(data) over the concatenation of `parts`. */
  hash(...parts: Uint8Array[]): Uint8Array;
  /** HMAC-HASH(key, data) per RFC 2104 with the hash's BLOCKLEN (Noise §4.3). */
  hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array;
  /** HKDF(chaining_key, input_key_material, 2) (Noise §4.3). */
  hkdf2(chainingKey: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array];
  /** HKDF(chaining_key, input_key_material, 3) (Noise §4.3). */
  hkdf3(chainingKey: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array, Uint8Array];
}

// OpenSSL digest names; the block size (64 for SHA-256) is the BLOCKLEN Noise specifies, so
// node's HMAC is Noise's HMAC.
const ALGORITHMS: Record<HashName, { algorithm: string; hashLen: number }> = {
  SHA256: { algorithm: 'sha256', hashLen: 32 },
};

const BYTE_1 = Uint8Array.of(1);
const BYTE_2 = Uint8Array.of(2);
const BYTE_3 = Uint8Array.of(3);

export function isHashName(name: string): name is HashName {
  return (HASH_NAMES as readonly string[]).includes(name);
}

export function noiseHash(name: HashName): NoiseHash {
  const entry = ALGORITHMS[name];
  if (entry === undefined)
    throw new PunchlineError('BAD_ARGUMENT', `unsupported Noise hash: ${String(name)}`);
  const { algorithm, hashLen } = entry;
  const hash = (...parts: Uint8Array[]): Uint8Array => {
    const h = createHash(algorithm);
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  };
  const hmac = (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array => {
    const h = createHmac(algorithm, key);
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  };
  // Noise's HKDF (§4.3): the extract step keys HMAC with the chaining key, and each output
  // block is HMAC(temp_key, previous_output || byte(i)).
  const hkdf2 = (ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] => {
    const tempKey = hmac(ck, ikm);
    const out1 = hmac(tempKey, BYTE_1);
    const out2 = hmac(tempKey, out1, BYTE_2);
    return [out1, out2];
  };
  const hkdf3 = (ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] => {
    const tempKey = hmac(ck, ikm);
    const out1 = hmac(tempKey, BYTE_1);
    const out2 = hmac(tempKey, out1, BYTE_2);
    const out3 = hmac(tempKey, out2, BYTE_3);
    return [out1, out2, out3];
  };
  return { name, hashLen, hash, hmac, hkdf2, hkdf3 };
}
