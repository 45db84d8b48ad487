import { PunchlineError, badArgument, closed } from '../errors.js';
import {
  KEY_LEN,
  MAX_NONCE,
  NONCE_LEN,
  TAG_LEN,
  aeadDecrypt,
  aeadEncrypt,
  aeadEncryptInto,
  writeCounterNonce,
} from './aead.js';

/** Noise messages are at most 65535 bytes (Noise §3). */
export const MAX_MESSAGE_LEN = 65535;

/**
 * Noise's 64-bit nonce is kept in a JS number, so the counter stops at 2^53-1 instead of
 * 2^64-2: encryption refuses to go on long before a nonce could repeat.
 */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/**
 * CipherState (Noise §5.1): a key `k` (or none) and the nonce counter `n`.
 *
 * Besides the counter-driven EncryptWithAd/DecryptWithAd, `encryptWithNonce`/`decryptWithNonce`
 * take the nonce explicitly and leave the counter alone: a datagram session that may lose or
 * reorder packets sends the nonce (its packet number) in the clear, as Noise §11.4 allows.
 */
export class CipherState {
  private k: Uint8Array | undefined;
  private n = 0;
  /** The explicit nonce, rewritten per packet (node:crypto copies it into each cipher). */
  private readonly nonceBuf = new Uint8Array(NONCE_LEN);

  constructor(key?: Uint8Array) {
    this.initializeKey(key);
  }

  /** InitializeKey(key): sets k and resets n to 0. */
  initializeKey(key: Uint8Array | undefined): void {
    if (key !== undefined && key.length !== KEY_LEN) throw badArgument(`cipher key must be ${KEY_LEN} bytes`);
    this.k = key === undefined ? undefined : new Uint8Array(key);
    this.n = 0;
  }

  hasKey(): boolean {
    return this.k !== undefined;
  }

  /** The next nonce EncryptWithAd/DecryptWithAd will use. */
  get nonce(): number {
    return this.n;
  }

  setNonce(n: number): void {
    checkCounter(n);
    this.n = n;
  }

  /** EncryptWithAd(ad, plaintext): with no key, returns the plaintext (a copy). */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.k === undefined) return new Uint8Array(plaintext);
    if (this.n >= MAX_COUNTER) throw closed('cipher nonce exhausted: rekey or handshake again');
    const out = this.encryptWithNonce(this.n, ad, plaintext);
    this.n++;
    return out;
  }

  /**
   * DecryptWithAd(ad, ciphertext): with no key, returns the ciphertext (a copy). On failure
   * the nonce is not advanced (Noise §5.1), so one forged packet does not desynchronise.
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.k === undefined) return new Uint8Array(ciphertext);
    if (this.n >= MAX_COUNTER) throw closed('cipher nonce exhausted: rekey or handshake again');
    const out = this.decryptWithNonce(this.n, ad, ciphertext);
    this.n++;
    return out;
  }

  /** ENCRYPT(k, n, ad, plaintext) with an explicit nonce; the counter is untouched. */
  encryptWithNonce(n: number, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const k = this.requireKey();
    checkCounter(n);
    if (plaintext.length > MAX_MESSAGE_LEN - TAG_LEN) {
      throw badArgument(`plaintext of ${plaintext.length} bytes exceeds the Noise message limit`);
    }
    return aeadEncrypt(k, writeCounterNonce(this.nonceBuf, n), ad, plaintext);
  }

  /** encryptWithNonce, written into `out` at `offset` (plaintext.length + 16 bytes of room). */
  encryptWithNonceInto(
    n: number,
    ad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    offset: number,
  ): void {
    const k = this.requireKey();
    checkCounter(n);
    if (plaintext.length > MAX_MESSAGE_LEN - TAG_LEN) {
      throw badArgument(`plaintext of ${plaintext.length} bytes exceeds the Noise message limit`);
    }
    aeadEncryptInto(k, writeCounterNonce(this.nonceBuf, n), ad, plaintext, out, offset);
  }

  /** DECRYPT(k, n, ad, ciphertext) with an explicit nonce; the counter is untouched. */
  decryptWithNonce(n: number, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const k = this.requireKey();
    checkCounter(n);
    if (ciphertext.length > MAX_MESSAGE_LEN) {
      throw new PunchlineError('MALFORMED', `ciphertext of ${ciphertext.length} bytes exceeds 65535`);
    }
    return aeadDecrypt(k, writeCounterNonce(this.nonceBuf, n), ad, ciphertext);
  }

  /**
   * Rekey() (Noise §4.2, §11.3): k = the first 32 bytes of ENCRYPT(k, 2^64-1, zerolen, zeros).
   * The nonce counter is left as it is. Both sides must rekey at the same point in the stream.
   */
  rekey(): void {
    const k = this.requireKey();
    this.k = aeadEncrypt(k, MAX_NONCE, new Uint8Array(0), new Uint8Array(KEY_LEN)).slice(0, KEY_LEN);
  }

  /** An independent copy (used to make handshake steps all-or-nothing). */
  clone(): CipherState {
    const c = new CipherState(this.k);
    c.n = this.n;
    return c;
  }

  private requireKey(): Uint8Array {
    if (this.k === undefined) throw new PunchlineError('INTERNAL', 'cipher state has no key');
    return this.k;
  }
}

function checkCounter(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw badArgument(`nonce must be an integer in [0, 2^53): ${n}`);
}
