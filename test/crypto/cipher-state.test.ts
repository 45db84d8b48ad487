import { describe, expect, it } from 'vitest';
import { MAX_NONCE, aeadEncrypt, counterNonce } from '../../common/crypto/aead.js';
import { CipherState, MAX_COUNTER } from '../../common/crypto/cipher-state.js';
import { utf8Encode } from '../../common/wire/bytes.js';

const key = new Uint8Array(32).map((_, i) => i);
const ad = utf8Encode('ad');
const msg = utf8Encode('hello');
const code = (c: string) => expect.objectContaining({ code: c });

describe('CipherState', () => {
  it('passes data through without a key (Noise §5.1)', () => {
    const c = new CipherState();
    expect(c.hasKey()).toBe(false);
    expect(c.encryptWithAd(ad, msg)).toEqual(msg);
    expect(c.decryptWithAd(ad, msg)).toEqual(msg);
    expect(c.nonce).toBe(0);
  });

  it('increments the nonce per message and uses it as the AEAD nonce', () => {
    const c = new CipherState(key);
    const first = c.encryptWithAd(ad, msg);
    const second = c.encryptWithAd(ad, msg);
    expect(c.nonce).toBe(2);
    expect(first).toEqual(aeadEncrypt(key, counterNonce(0), ad, msg));
    expect(second).toEqual(aeadEncrypt(key, counterNonce(1), ad, msg));
    expect(first).not.toEqual(second);

    const r = new CipherState(key);
    expect(r.decryptWithAd(ad, first)).toEqual(msg);
    expect(r.decryptWithAd(ad, second)).toEqual(msg);
    expect(r.nonce).toBe(2);
    // A replay of the first message is now under the wrong nonce.
    expect(() => r.decryptWithAd(ad, first)).toThrow(code('BAD_SIGNATURE'));
  });

  it('does not advance the nonce when decryption fails', () => {
    const s = new CipherState(key);
    const r = new CipherState(key);
    const good = s.encryptWithAd(ad, msg);
    const forged = good.slice();
    forged[0]! ^= 0x80;
    expect(() => r.decryptWithAd(ad, forged)).toThrow(code('BAD_SIGNATURE'));
    expect(() => r.decryptWithAd(ad, good.subarray(0, 10))).toThrow(code('MALFORMED'));
    expect(r.nonce).toBe(0);
    expect(r.decryptWithAd(ad, good)).toEqual(msg);
  });

  it('explicit-nonce encryption leaves the counter alone and matches the counter form', () => {
    const a = new CipherState(key);
    a.setNonce(2 ** 32 + 5);
    const viaCounter = a.encryptWithAd(ad, msg);
    const b = new CipherState(key);
    expect(b.encryptWithNonce(2 ** 32 + 5, ad, msg)).toEqual(viaCounter);
    expect(b.nonce).toBe(0);
    expect(b.decryptWithNonce(2 ** 32 + 5, ad, viaCounter)).toEqual(msg);
    expect(() => b.decryptWithNonce(2 ** 32 + 6, ad, viaCounter)).toThrow(code('BAD_SIGNATURE'));
    expect(() => b.encryptWithNonce(-1, ad, msg)).toThrow(code('BAD_ARGUMENT'));
    expect(() => b.encryptWithNonce(1.5, ad, msg)).toThrow(code('BAD_ARGUMENT'));
  });

  it('refuses to encrypt once the counter is exhausted', () => {
    const c = new CipherState(key);
    c.setNonce(MAX_COUNTER);
    expect(() => c.encryptWithAd(ad, msg)).toThrow(code('CLOSED'));
  });

  it('enforces the 65535-byte Noise message limit', () => {
    const c = new CipherState(key);
    expect(() => c.encryptWithAd(ad, new Uint8Array(65535 - 16 + 1))).toThrow(code('BAD_ARGUMENT'));
    expect(c.encryptWithAd(ad, new Uint8Array(65535 - 16))).toHaveLength(65535);
    expect(() => c.decryptWithAd(ad, new Uint8Array(65536))).toThrow(code('MALFORMED'));
  });

  it('rekey() derives k = ENCRYPT(k, 2^64-1, "", zeros)[0..32] and keeps the nonce', () => {
    const s = new CipherState(key);
    const r = new CipherState(key);
    r.decryptWithAd(ad, s.encryptWithAd(ad, msg));
    s.rekey();
    expect(s.nonce).toBe(1);
    const expectedKey = aeadEncrypt(key, MAX_NONCE, new Uint8Array(0), new Uint8Array(32)).subarray(0, 32);
    const afterRekey = s.encryptWithAd(ad, msg);
    expect(afterRekey).toEqual(aeadEncrypt(expectedKey, counterNonce(1), ad, msg));
    // The receiver still on the old key cannot read it; after its own rekey it can.
    expect(() => r.clone().decryptWithAd(ad, afterRekey)).toThrow(code('BAD_SIGNATURE'));
    r.rekey();
    expect(r.decryptWithAd(ad, afterRekey)).toEqual(msg);
  });

  it('clone() is independent', () => {
    const a = new CipherState(key);
    const b = a.clone();
    a.encryptWithAd(ad, msg);
    a.rekey();
    expect(b.nonce).toBe(0);
    expect(b.encryptWithAd(ad, msg)).toEqual(aeadEncrypt(key, counterNonce(0), ad, msg));
  });
});
