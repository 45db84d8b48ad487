import { describe, expect, it } from 'vitest';
import { MAX_NONCE, TAG_LEN, aeadDecrypt, aeadEncrypt, counterNonce } from '../../common/crypto/aead.js';
import { noiseHash } from '../../common/crypto/hash.js';
import { dh, generateKeyPair, keyPairFromPrivate } from '../../common/crypto/x25519.js';
import { isPunchlineError } from '../../common/errors.js';
import { fromHex, toHex, utf8Encode } from '../../common/wire/bytes.js';

describe('X25519', () => {
  // RFC 7748 §6.1.
  const alice = keyPairFromPrivate(
    fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  );
  const bob = keyPairFromPrivate(fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));

  it('derives public keys and the shared secret of RFC 7748 §6.1', () => {
    expect(toHex(alice.publicKey)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(toHex(bob.publicKey)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const k = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(toHex(dh(alice, bob.publicKey))).toBe(k);
    expect(toHex(dh(bob, alice.publicKey))).toBe(k);
  });

  it('generates key pairs from the injected random source', () => {
    const fixed = generateKeyPair((n) => new Uint8Array(n).fill(7));
    expect(fixed).toEqual(keyPairFromPrivate(new Uint8Array(32).fill(7)));
    const a = generateKeyPair();
    const b = generateKeyPair();
    expect(a.publicKey).not.toEqual(b.publicKey);
    expect(dh(a, b.publicKey)).toEqual(dh(b, a.publicKey));
  });

  it('rejects a low-order public key and wrong lengths', () => {
    expect(() => dh(alice, new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    expect(() => dh(alice, new Uint8Array(31))).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    expect(() => keyPairFromPrivate(new Uint8Array(33))).toThrow(
      expect.objectContaining({ code: 'BAD_ARGUMENT' }),
    );
  });
});

describe('ChaCha20-Poly1305', () => {
  // RFC 8439 §2.8.2.
  const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce = fromHex('070000004041424344454647');
  const ad = fromHex('50515253c0c1c2c3c4c5c6c7');
  const plaintext = utf8Encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const sealed = aeadEncrypt(key, nonce, ad, plaintext);

  it('matches RFC 8439 §2.8.2', () => {
    expect(toHex(sealed.subarray(0, 16))).toBe('d31a8d34648e60db7b86afbc53ef7ec2');
    expect(toHex(sealed.subarray(sealed.length - TAG_LEN))).toBe('1ae10b594f09e26a7e902ecbd0600691');
    expect(aeadDecrypt(key, nonce, ad, sealed)).toEqual(plaintext);
  });

  it('fails with BAD_SIGNATURE on any flipped bit, MALFORMED without room for a tag', () => {
    for (const i of [0, 50, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[i]! ^= 0x01;
      expect(() => aeadDecrypt(key, nonce, ad, bad)).toThrow(
        expect.objectContaining({ code: 'BAD_SIGNATURE' }),
      );
    }
    expect(() => aeadDecrypt(key, nonce, utf8Encode('other ad'), sealed)).toThrow(
      expect.objectContaining({ code: 'BAD_SIGNATURE' }),
    );
    let err: unknown;
    try {
      aeadDecrypt(key, nonce, ad, sealed.subarray(0, 15));
    } catch (e) {
      err = e;
    }
    expect(isPunchlineError(err, 'MALFORMED')).toBe(true);
  });

  it('encodes the Noise nonce as 4 zero bytes + 64-bit little-endian counter', () => {
    expect(toHex(counterNonce(0))).toBe('000000000000000000000000');
    expect(toHex(counterNonce(1))).toBe('000000000100000000000000');
    expect(toHex(counterNonce(0x0102030405))).toBe('000000000504030201000000');
    expect(toHex(counterNonce(Number.MAX_SAFE_INTEGER))).toBe('00000000ffffffffffff1f00');
    expect(toHex(MAX_NONCE)).toBe('00000000ffffffffffffffff');
  });
});

describe('Noise hash, HMAC and HKDF', () => {
  it('has the Noise HASHLEN of SHA256, and no other hash', () => {
    expect(noiseHash('SHA256').hashLen).toBe(32);
    expect(() => noiseHash('SHA512' as 'SHA256')).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(toHex(noiseHash('SHA256').hash(utf8Encode('ab'), utf8Encode('c')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('HMAC-SHA256 matches RFC 4231 test case 2', () => {
    const mac = noiseHash('SHA256').hmac(
      utf8Encode('Jefe'),
      utf8Encode('what do ya want '),
      utf8Encode('for nothing?'),
    );
    expect(toHex(mac)).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('HKDF follows Noise §4.3', () => {
    const h = noiseHash('SHA256');
    const ck = new Uint8Array(32).fill(1);
    const ikm = utf8Encode('input');
    const temp = h.hmac(ck, ikm);
    const o1 = h.hmac(temp, Uint8Array.of(1));
    const o2 = h.hmac(temp, o1, Uint8Array.of(2));
    const o3 = h.hmac(temp, o2, Uint8Array.of(3));
    expect(h.hkdf2(ck, ikm)).toEqual([o1, o2]);
    expect(h.hkdf3(ck, ikm)).toEqual([o1, o2, o3]);
  });
});
