import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import { PunchlineError } from '../errors.js';

/** Noise DHLEN for Curve25519 (Noise §12.1). Public keys, private keys and DH outputs are all 32 bytes. */
export const DH_LEN = 32;

export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

/** Source of random bytes; injected in tests (docs/contributing.md §3). */
export type RandomBytes = (n: number) => Uint8Array;

export const defaultRandomBytes: RandomBytes = (n) => new Uint8Array(randomBytes(n));

// node:crypto takes X25519 keys only as KeyObjects; raw 32-byte keys are wrapped in the fixed
// DER prefixes of RFC 8410 (OID 1.3.101.110) rather than going through JWK's base64url.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

// The private KeyObject is parsed once per key pair, not once per DH.
const privateKeyObjects = new WeakMap<KeyPair, KeyObject>();

function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== DH_LEN)
    throw new PunchlineError('BAD_ARGUMENT', `X25519 private key must be ${DH_LEN} bytes`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== DH_LEN)
    throw new PunchlineError('MALFORMED', `X25519 public key must be ${DH_LEN} bytes`);
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/**
 * A key pair from a fixed 32-byte private key (test vectors, keys loaded from disk). The key is
 * used as given: X25519 clamps the scalar when it is used (RFC 7748 §5), so any 32 bytes are valid.
 */
export function keyPairFromPrivate(privateKey: Uint8Array): KeyPair {
  const priv = privateKeyObject(privateKey);
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  const pair: KeyPair = {
    privateKey: new Uint8Array(privateKey),
    publicKey: new Uint8Array(spki.subarray(spki.length - DH_LEN)),
  };
  privateKeyObjects.set(pair, priv);
  return pair;
}

/** GENERATE_KEYPAIR() (Noise §4.1): 32 bytes from the random source, used as the private key. */
export function generateKeyPair(random: RandomBytes = defaultRandomBytes): KeyPair {
  const priv = random(DH_LEN);
  if (priv.length !== DH_LEN) throw new PunchlineError('INTERNAL', 'random source returned the wrong length');
  return keyPairFromPrivate(priv);
}

/**
 * DH(key_pair, public_key) (Noise §4.1). OpenSSL refuses a low-order public key (the shared
 * secret would be all zeros); Noise §12.1 allows that rejection, and it surfaces as MALFORMED.
 */
export function dh(keyPair: KeyPair, publicKey: Uint8Array): Uint8Array {
  let priv = privateKeyObjects.get(keyPair);
  if (priv === undefined) {
    priv = privateKeyObject(keyPair.privateKey);
    privateKeyObjects.set(keyPair, priv);
  }
  const pub = publicKeyObject(publicKey);
  try {
    return new Uint8Array(diffieHellman({ privateKey: priv, publicKey: pub }));
  } catch (e) {
    throw new PunchlineError('MALFORMED', 'X25519: invalid (low-order) public key', { cause: e });
  }
}
