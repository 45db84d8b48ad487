/** The Noise Protocol Framework (revision 34) over node:crypto: 25519, ChaChaPoly, SHA256/SHA512/BLAKE2b. */
export { KEY_LEN, NONCE_LEN, TAG_LEN, aeadDecrypt, aeadEncrypt, counterNonce } from './aead.js';
export { CipherState, MAX_COUNTER, MAX_MESSAGE_LEN } from './cipher-state.js';
export { HASH_NAMES, type HashName, type NoiseHash, isHashName, noiseHash } from './hash.js';
export {
  HandshakeState,
  createHandshake,
  protocolName,
  type HandshakeComponents,
  type HandshakeOptions,
  type TransportCiphers,
} from './handshake.js';
export { PATTERNS, PATTERN_NAMES, type HandshakePattern, type PatternName, type Token } from './patterns.js';
export { SymmetricState } from './symmetric-state.js';
export { DH_LEN, type KeyPair, type RandomBytes, dh, generateKeyPair, keyPairFromPrivate } from './x25519.js';
