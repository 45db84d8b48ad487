import { KEY_LEN } from './aead.js';
import { CipherState } from './cipher-state.js';
import type { NoiseHash } from './hash.js';

const EMPTY = new Uint8Array(0);

/**
 * SymmetricState (Noise §5.2): the chaining key `ck`, the handshake hash `h` and the
 * CipherState used for handshake payloads and static keys.
 */
export class SymmetricState {
  private constructor(
    readonly hash: NoiseHash,
    private ck: Uint8Array,
    private h: Uint8Array,
    private readonly cipher: CipherState,
  ) {}

  /** InitializeSymmetric(protocol_name). */
  static initialize(hash: NoiseHash, protocolName: string): SymmetricState {
    const name = new TextEncoder().encode(protocolName);
    // A name no longer than HASHLEN is zero-padded to HASHLEN; a longer one is hashed.
    let h: Uint8Array;
    if (name.length <= hash.hashLen) {
      h = new Uint8Array(hash.hashLen);
      h.set(name);
    } else {
      h = hash.hash(name);
    }
    return new SymmetricState(hash, h, h, new CipherState());
  }

  /** The current handshake hash (a copy). After the handshake it is the channel binding (§11.2). */
  get handshakeHash(): Uint8Array {
    return new Uint8Array(this.h);
  }

  hasKey(): boolean {
    return this.cipher.hasKey();
  }

  /** MixKey(input_key_material). */
  mixKey(ikm: Uint8Array): void {
    const [ck, tempK] = this.hash.hkdf2(this.ck, ikm);
    this.ck = ck;
    // HASHLEN 64: the cipher key is the first 32 bytes (Noise §5.2).
    this.cipher.initializeKey(tempK.subarray(0, KEY_LEN));
  }

  /** MixHash(data): h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    this.h = this.hash.hash(this.h, data);
  }

  /** MixKeyAndHash(input_key_material), for PSK modes (Noise §5.2); unused by the base patterns. */
  mixKeyAndHash(ikm: Uint8Array): void {
    const [ck, tempH, tempK] = this.hash.hkdf3(this.ck, ikm);
    this.ck = ck;
    this.mixHash(tempH);
    this.cipher.initializeKey(tempK.subarray(0, KEY_LEN));
  }

  /** EncryptAndHash(plaintext): encrypts with ad = h (if there is a key), then mixes the ciphertext. */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipher.encryptWithAd(this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** DecryptAndHash(ciphertext): throws BAD_SIGNATURE / MALFORMED from the AEAD on failure. */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipher.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /**
   * Split(): two CipherStates, the first for initiator-to-responder traffic, the second for
   * responder-to-initiator (Noise §5.2).
   */
  split(): [CipherState, CipherState] {
    const [k1, k2] = this.hash.hkdf2(this.ck, EMPTY);
    return [new CipherState(k1.subarray(0, KEY_LEN)), new CipherState(k2.subarray(0, KEY_LEN))];
  }

  /** An independent copy (ck and h are never mutated in place, so sharing them is safe). */
  clone(): SymmetricState {
    return new SymmetricState(this.hash, this.ck, this.h, this.cipher.clone());
  }
}
