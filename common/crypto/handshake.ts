import { concatBytes } from '../wire/bytes.js';
import { PunchlineError, badArgument, closed, malformed, toPunchlineError } from '../errors.js';
import { Reader, equalBytes } from '../wire/bytes.js';
import { TAG_LEN } from './aead.js';
import { CipherState, MAX_MESSAGE_LEN } from './cipher-state.js';
import { type HashName, isHashName, noiseHash } from './hash.js';
import {
  type HandshakePattern,
  type PatternName,
  type Token,
  PATTERNS,
  isPatternName,
  needsLocalStatic,
} from './patterns.js';
import { SymmetricState } from './symmetric-state.js';
import {
  DH_LEN,
  type KeyPair,
  type RandomBytes,
  defaultRandomBytes,
  dh,
  generateKeyPair,
  keyPairFromPrivate,
} from './x25519.js';

export interface HandshakeOptions {
  pattern: PatternName;
  initiator: boolean;
  /** Default 'SHA256'. */
  hash?: HashName;
  /** Bound into the handshake hash; both sides must pass the same bytes (Noise §6). */
  prologue?: Uint8Array;
  /** This side's static key pair, required when the pattern sends it (both sides of XX). */
  staticKey?: KeyPair;
  /**
   * The peer's static public key, when known beforehand: an expectation. When the peer's `s`
   * arrives and differs, readMessage throws KEY_MISMATCH and the handshake is dead, before this
   * side reveals anything more.
   */
  remoteStatic?: Uint8Array;
  /** A fixed ephemeral key pair, for test vectors only: reusing an ephemeral breaks Noise. */
  ephemeralKey?: KeyPair;
}

export interface HandshakeComponents {
  /** Random source for ephemeral keys (default node:crypto randomBytes). */
  randomBytes?: RandomBytes;
}

/** The transport ciphers from Split(), oriented for this side. */
export interface TransportCiphers {
  send: CipherState;
  receive: CipherState;
}

export const protocolName = (pattern: PatternName, hash: HashName): string =>
  `Noise_${pattern}_25519_ChaChaPoly_${hash}`;

const EMPTY = new Uint8Array(0);

type Phase = 'handshake' | 'failed' | 'split';

/**
 * HandshakeState (Noise §5.3) with an interpreter for the tokens e, s, ee, es and se, driven by
 * the table in patterns.ts.
 *
 * Every message is hostile (docs/contributing.md §2). Each WriteMessage/ReadMessage runs on a copy of
 * the state and commits only on success, so the visible state (handshakeHash,
 * remoteStaticPublicKey) never holds half a message. A failure still kills the handshake:
 * every later call throws CLOSED, and the caller starts a new handshake.
 *
 * Errors (PunchlineError codes):
 * - MALFORMED: wrong length (truncated fields, a message over 65535 bytes, no room for a tag),
 *   or a low-order X25519 public key;
 * - BAD_SIGNATURE: an AEAD tag did not verify (tampering, a wrong static key, a wrong prologue);
 * - KEY_MISMATCH: the peer's static key differs from `remoteStatic` given as an expectation;
 * - CLOSED: the handshake failed earlier, is complete, or was already split;
 * - INTERNAL: writeMessage/readMessage called when it is the other side's turn (a bug; the
 *   state is left untouched);
 * - BAD_ARGUMENT: bad options, or a payload too large for one Noise message (state untouched).
 */
export class HandshakeState {
  readonly protocolName: string;
  private symmetric: SymmetricState;
  private e: KeyPair | undefined;
  private re: Uint8Array | undefined;
  private rs: Uint8Array | undefined;
  private readonly s: KeyPair | undefined;
  private readonly expectedRemoteStatic: Uint8Array | undefined;
  private readonly random: RandomBytes;
  private index = 0;
  private phase: Phase = 'handshake';

  /** Initialize(...) (Noise §5.3). Prefer createHandshake(). */
  constructor(
    readonly pattern: HandshakePattern,
    readonly initiator: boolean,
    options: Omit<HandshakeOptions, 'pattern' | 'initiator'>,
    components: HandshakeComponents = {},
  ) {
    const hashName = options.hash ?? 'SHA256';
    if (!isHashName(hashName)) throw badArgument(`unsupported Noise hash: ${String(hashName)}`);
    this.protocolName = protocolName(pattern.name, hashName);
    this.random = components.randomBytes ?? defaultRandomBytes;
    this.s = options.staticKey === undefined ? undefined : checkedKeyPair(options.staticKey, 'staticKey');
    this.e =
      options.ephemeralKey === undefined ? undefined : checkedKeyPair(options.ephemeralKey, 'ephemeralKey');
    if (options.remoteStatic !== undefined && options.remoteStatic.length !== DH_LEN) {
      throw badArgument(`remoteStatic must be ${DH_LEN} bytes`);
    }
    const remoteStatic =
      options.remoteStatic === undefined ? undefined : new Uint8Array(options.remoteStatic);
    if (needsLocalStatic(pattern, initiator) && this.s === undefined) {
      throw badArgument(`${pattern.name} ${role(initiator)} needs staticKey`);
    }
    this.expectedRemoteStatic = remoteStatic;

    this.symmetric = SymmetricState.initialize(noiseHash(hashName), this.protocolName);
    // No pre-messages in XX: the prologue is all Initialize mixes in (Noise §5.3).
    this.symmetric.mixHash(options.prologue ?? EMPTY);
  }

  /** All handshake messages have been written or read; split() is next. */
  get complete(): boolean {
    return this.index >= this.pattern.messages.length;
  }

  /** A message failed; the handshake is dead. */
  get failed(): boolean {
    return this.phase === 'failed';
  }

  /** Whether this side writes the next message. */
  get isMyTurn(): boolean {
    return this.phase === 'handshake' && !this.complete && this.index % 2 === (this.initiator ? 0 : 1);
  }

  /** The peer's static public key once received. Authenticated only once complete. */
  get remoteStaticPublicKey(): Uint8Array | undefined {
    return this.rs === undefined ? undefined : new Uint8Array(this.rs);
  }

  /** The handshake hash h; after completion, the channel binding value (Noise §11.2). */
  get handshakeHash(): Uint8Array {
    return this.symmetric.handshakeHash;
  }

  /** WriteMessage(payload, message_buffer) (Noise §5.3). Returns the message to send. */
  writeMessage(payload: Uint8Array = EMPTY): Uint8Array {
    const tokens = this.turn('write');
    const overhead = tokens.reduce(
      (n, t) => n + (t === 'e' ? DH_LEN : t === 's' ? DH_LEN + TAG_LEN : 0),
      TAG_LEN,
    );
    if (payload.length + overhead > MAX_MESSAGE_LEN) {
      throw badArgument(`handshake payload of ${payload.length} bytes exceeds the Noise message limit`);
    }
    return this.transaction(() => {
      const sym = this.symmetric.clone();
      let e = this.e;
      const parts: Uint8Array[] = [];
      for (const token of tokens) {
        if (token === 'e') {
          // A fixed ephemeral (test vectors) is used once; otherwise GENERATE_KEYPAIR().
          e = e ?? generateKeyPair(this.random);
          parts.push(e.publicKey);
          sym.mixHash(e.publicKey);
        } else if (token === 's') {
          parts.push(sym.encryptAndHash(this.localStatic()));
        } else {
          sym.mixKey(this.dhToken(token, e, this.re, this.rs));
        }
      }
      parts.push(sym.encryptAndHash(payload));
      this.commit(sym, e, this.re, this.rs);
      return concatBytes(...parts);
    });
  }

  /** ReadMessage(message, payload_buffer) (Noise §5.3). Returns the payload. */
  readMessage(message: Uint8Array): Uint8Array {
    const tokens = this.turn('read');
    return this.transaction(() => {
      if (message.length > MAX_MESSAGE_LEN) throw malformed(`handshake message of ${message.length} bytes`);
      const r = new Reader(message, 'Noise handshake message');
      const sym = this.symmetric.clone();
      let re = this.re;
      let rs = this.rs;
      for (const token of tokens) {
        if (token === 'e') {
          re = new Uint8Array(r.bytes(DH_LEN));
          sym.mixHash(re);
        } else if (token === 's') {
          rs = sym.decryptAndHash(r.bytes(sym.hasKey() ? DH_LEN + TAG_LEN : DH_LEN));
          if (this.expectedRemoteStatic !== undefined && !equalBytes(rs, this.expectedRemoteStatic)) {
            throw new PunchlineError('KEY_MISMATCH', 'peer proved a different static key than expected');
          }
        } else {
          sym.mixKey(this.dhToken(token, this.e, re, rs));
        }
      }
      const payload = sym.decryptAndHash(r.rest());
      this.commit(sym, this.e, re, rs);
      return payload;
    });
  }

  /**
   * Split() (Noise §5.2), once, after the last message: the transport ciphers oriented for this
   * side (the initiator sends with the first CipherState, the responder with the second).
   */
  split(): TransportCiphers {
    if (this.phase === 'failed') throw closed('handshake failed');
    if (this.phase === 'split') throw closed('handshake already split');
    if (!this.complete) throw new PunchlineError('INTERNAL', 'split() before the handshake completed');
    const [c1, c2] = this.symmetric.split();
    this.phase = 'split';
    this.e = undefined;
    return this.initiator ? { send: c1, receive: c2 } : { send: c2, receive: c1 };
  }

  /** The token list for the next message, checking that it is this side's turn to `op`. */
  private turn(op: 'write' | 'read'): readonly Token[] {
    if (this.phase === 'failed') throw closed('handshake failed');
    if (this.complete || this.phase === 'split') throw closed('handshake already complete');
    const mine = this.index % 2 === (this.initiator ? 0 : 1);
    if (mine !== (op === 'write')) {
      throw new PunchlineError('INTERNAL', `${op}Message called when it is not this side's turn to ${op}`);
    }
    return this.pattern.messages[this.index]!;
  }

  /** Runs one message step; any failure kills the handshake. */
  private transaction<T>(step: () => T): T {
    try {
      return step();
    } catch (err) {
      this.phase = 'failed';
      throw toPunchlineError(err);
    }
  }

  private commit(sym: SymmetricState, e: KeyPair | undefined, re?: Uint8Array, rs?: Uint8Array): void {
    this.symmetric = sym;
    this.e = e;
    this.re = re;
    this.rs = rs;
    this.index++;
  }

  /** This side's static public key, for `s`. */
  private localStatic(): Uint8Array {
    const key = this.s?.publicKey;
    if (key === undefined) throw new PunchlineError('INTERNAL', 'pattern needs a static key that is missing');
    return key;
  }

  /**
   * The DH of a token (Noise §5.3): ee = DH(e, re); es = DH(e, rs) for the initiator and
   * DH(s, re) for the responder; se mirrors es.
   */
  private dhToken(token: Token, e: KeyPair | undefined, re?: Uint8Array, rs?: Uint8Array): Uint8Array {
    const localEphemeral =
      token === 'ee' || (token === 'es' && this.initiator) || (token === 'se' && !this.initiator);
    const remoteEphemeral =
      token === 'ee' || (token === 'es' && !this.initiator) || (token === 'se' && this.initiator);
    const local = localEphemeral ? e : this.s;
    const remote = remoteEphemeral ? re : rs;
    if (local === undefined || remote === undefined) {
      throw new PunchlineError('INTERNAL', `${this.pattern.name}: token ${token} before its keys are known`);
    }
    return dh(local, remote);
  }
}

/** The convenience constructor punchline's session uses. */
export function createHandshake(
  options: HandshakeOptions,
  components: HandshakeComponents = {},
): HandshakeState {
  if (!isPatternName(options.pattern)) throw badArgument(`unknown Noise pattern: ${String(options.pattern)}`);
  const { pattern, initiator, ...rest } = options;
  return new HandshakeState(PATTERNS[pattern], initiator, rest, components);
}

const role = (initiator: boolean): string => (initiator ? 'initiator' : 'responder');

/** Rebuilds the pair from its private key and checks the public half matches. */
function checkedKeyPair(pair: KeyPair, what: string): KeyPair {
  const derived = keyPairFromPrivate(pair.privateKey);
  if (!equalBytes(derived.publicKey, pair.publicKey)) throw badArgument(`${what}: public key does not match`);
  return derived;
}
