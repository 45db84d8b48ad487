import { createCipheriv, createDecipheriv } from 'node:crypto';
import { PunchlineError, malformed } from '../errors.js';

/** ChaCha20-Poly1305 as Noise uses it (Noise §12.2, RFC 8439). */
export const KEY_LEN = 32;
export const TAG_LEN = 16;
export const NONCE_LEN = 12;

/**
 * The 96-bit ChaCha20-Poly1305 nonce for Noise counter `n`: 32 zero bits, then n as a 64-bit
 * little-endian integer (Noise §12.2). `n` is a safe integer (< 2^53); see cipher-state.ts.
 */
export function counterNonce(n: number): Uint8Array {
  return writeCounterNonce(new Uint8Array(NONCE_LEN), n);
}

/** counterNonce written into `nonce` (12 bytes), so the per-packet path allocates none. */
export function writeCounterNonce(nonce: Uint8Array, n: number): Uint8Array {
  const lo = n >>> 0;
  const hi = Math.floor(n / 2 ** 32);
  nonce[0] = nonce[1] = nonce[2] = nonce[3] = 0;
  nonce[4] = lo & 0xff;
  nonce[5] = (lo >>> 8) & 0xff;
  nonce[6] = (lo >>> 16) & 0xff;
  nonce[7] = lo >>> 24;
  nonce[8] = hi & 0xff;
  nonce[9] = (hi >>> 8) & 0xff;
  nonce[10] = (hi >>> 16) & 0xff;
  nonce[11] = hi >>> 24;
  return nonce;
}

/** The nonce 2^64-1, which Noise reserves for REKEY (Noise §4.2, §11.3). */
export const MAX_NONCE: Uint8Array = Uint8Array.of(
  0,
  0,
  0,
  0,
  0xff,
  0xff,
  0xff,
  0xff,
  0xff,
  0xff,
  0xff,
  0xff,
);

/** ENCRYPT(k, n, ad, plaintext): ciphertext || 16-byte tag. */
export function aeadEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(plaintext.length + TAG_LEN);
  aeadEncryptInto(key, nonce, ad, plaintext, out, 0);
  return out;
}

/**
 * ENCRYPT into `out` at `offset` (plaintext.length + 16 bytes), so a packet's header, ciphertext
 * and tag share one buffer with no copy of the whole. node:crypto wants a new cipher object per
 * nonce; the nonce and key are copied by it, so callers may reuse theirs.
 */
export function aeadEncryptInto(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  if (out.length < offset + plaintext.length + TAG_LEN) throw new RangeError('AEAD output buffer too small');
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_LEN });
  cipher.setAAD(ad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  out.set(body, offset);
  // ChaCha20-Poly1305 is a stream cipher: final() returns nothing, but it must be called.
  const tail = cipher.final();
  out.set(tail, offset + body.length);
  out.set(cipher.getAuthTag(), offset + body.length + tail.length);
}

/**
 * DECRYPT(k, n, ad, ciphertext). Throws MALFORMED when the input cannot even hold a tag, and
 * BAD_SIGNATURE when authentication fails (the tag is the message's signature, in effect).
 */
export function aeadDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  if (ciphertext.length < TAG_LEN)
    throw malformed(`AEAD ciphertext of ${ciphertext.length} bytes has no tag`);
  const split = ciphertext.length - TAG_LEN;
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_LEN });
  decipher.setAAD(ad, { plaintextLength: ciphertext.length - TAG_LEN });
  decipher.setAuthTag(ciphertext.subarray(split));
  const body = decipher.update(ciphertext.subarray(0, split));
  let tail: Buffer;
  try {
    tail = decipher.final();
  } catch (e) {
    throw new PunchlineError('BAD_SIGNATURE', 'AEAD authentication failed', { cause: e });
  }
  if (tail.length === 0) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  const out = new Uint8Array(body.length + tail.length);
  out.set(body, 0);
  out.set(tail, body.length);
  return out;
}
