import { TAG_LEN } from '../crypto/aead.js';
import { HandshakeState, type TransportCiphers, createHandshake } from '../crypto/handshake.js';
import { DH_LEN, type KeyPair, type RandomBytes, generateKeyPair } from '../crypto/x25519.js';
import { PunchlineError, isPunchlineError, malformed } from '../errors.js';
import { equalBytes } from '../wire/bytes.js';
import {
  PAYLOAD_BYTES,
  type TransportParams,
  ZERO_CID,
  decodePayload,
  encodePayload,
} from './handshake-payload.js';
import { HANDSHAKE_HEADER_BYTES, MAX_DATAGRAM } from './packet.js';

/**
 * Drives Noise_XX_25519_ChaChaPoly_SHA256 (Noise §7.5) for a session:
 *
 *   -> e                      message 1, payload: initiator cid, padded to a 1200-byte datagram
 *   <- e, ee, s, es           message 2, payload: responder cid, echo of the initiator cid
 *   -> s, se                  message 3, payload: both cids
 *
 * XX because each side must prove the static key behind the id the rendezvous introduced, and
 * with XX each side reads the other's static key from the handshake and checks it against the
 * expected one: a different key is KEY_MISMATCH on both sides (IK would only time out on the
 * initiator). The session decides whether that is fatal (only on a path vouching for its sender). The prologue (the introduction id) binds the handshake to that introduction.
 *
 * Datagrams are lost, duplicated and forged, but a Noise HandshakeState dies on the first
 * message that fails to read. So every state here can be rebuilt: this side's ephemeral key is
 * generated once and kept, and a state that read a bad candidate is rebuilt by replaying this
 * side's own transcript (the same ephemeral and payload give byte-identical messages, which is
 * checked). Reusing the ephemeral this way never encrypts anything new under it: it reproduces
 * the same messages. Duplicates are recognised by their bytes and never reach readMessage.
 */
export const PATTERN = 'XX' as const;
/** Message 1 fills a 1200-byte datagram. */
export const MESSAGE1_BYTES = MAX_DATAGRAM - HANDSHAKE_HEADER_BYTES;
export const MESSAGE2_BYTES = DH_LEN + DH_LEN + TAG_LEN + PAYLOAD_BYTES + TAG_LEN;
export const MESSAGE3_BYTES = DH_LEN + TAG_LEN + PAYLOAD_BYTES + TAG_LEN;
/** A responder keeps this many distinct message-1 attempts (a restarted initiator, a forged one). */
export const MAX_RESPONDER_ATTEMPTS = 4;

export interface HandshakeConfig {
  readonly staticKey: KeyPair;
  readonly expectedRemoteStatic: Uint8Array;
  readonly prologue: Uint8Array;
  readonly localCid: Uint8Array;
  readonly params: TransportParams;
  readonly randomBytes: RandomBytes;
}

export interface HandshakeResult {
  readonly ciphers: TransportCiphers;
  readonly remoteCid: Uint8Array;
  readonly remoteParams: TransportParams;
  readonly remoteStatic: Uint8Array;
  /** Noise channel binding (Noise §11.2). */
  readonly handshakeHash: Uint8Array;
}

function newState(cfg: HandshakeConfig, initiator: boolean, e: KeyPair): HandshakeState {
  return createHandshake(
    {
      pattern: PATTERN,
      initiator,
      prologue: cfg.prologue,
      staticKey: cfg.staticKey,
      remoteStatic: cfg.expectedRemoteStatic,
      // Fixed so the state can be rebuilt; see the class comment.
      ephemeralKey: e,
    },
    { randomBytes: cfg.randomBytes },
  );
}

function finish(state: HandshakeState, remoteCid: Uint8Array, params: TransportParams): HandshakeResult {
  const remoteStatic = state.remoteStaticPublicKey;
  if (!remoteStatic) throw new PunchlineError('INTERNAL', 'handshake finished without a remote static key');
  const handshakeHash = state.handshakeHash;
  return { ciphers: state.split(), remoteCid, remoteParams: params, remoteStatic, handshakeHash };
}

export class InitiatorHandshake {
  readonly message1: Uint8Array;
  private readonly e: KeyPair;
  private state: HandshakeState | undefined;
  private accepted: { message2: Uint8Array; message3: Uint8Array } | undefined;

  constructor(private readonly cfg: HandshakeConfig) {
    this.e = generateKeyPair(cfg.randomBytes);
    const { state, message1 } = this.build();
    this.state = state;
    this.message1 = message1;
  }

  /** Message 3, once message 2 was accepted. */
  get message3(): Uint8Array | undefined {
    return this.accepted?.message3;
  }

  /** Whether `m` is the message 2 already accepted (a duplicate: answer with message 3 again). */
  isAccepted(m: Uint8Array): boolean {
    return this.accepted !== undefined && equalBytes(this.accepted.message2, m);
  }

  /**
   * Read a candidate message 2. Success gives the transport ciphers and message 3 to send.
   * Failure throws (MALFORMED, BAD_SIGNATURE, KEY_MISMATCH) and leaves this side ready for the
   * next candidate; whether KEY_MISMATCH is fatal depends on the path it came on (Session).
   */
  onMessage2(m: Uint8Array): { result: HandshakeResult; message3: Uint8Array } {
    if (this.accepted) throw new PunchlineError('INTERNAL', 'message 2 already accepted');
    if (m.length !== MESSAGE2_BYTES) throw malformed(`handshake message 2 of ${m.length} bytes`);
    const state = this.state ?? this.build().state;
    this.state = undefined; // consumed: rebuilt for the next candidate if this one fails
    const payload = decodePayload(state.readMessage(m));
    if (!equalBytes(payload.peerCid, this.cfg.localCid)) throw malformed('message 2 echoes the wrong cid');
    const message3 = state.writeMessage(
      encodePayload({ senderCid: this.cfg.localCid, peerCid: payload.senderCid, params: this.cfg.params }),
    );
    const result = finish(state, payload.senderCid, payload.params);
    this.accepted = { message2: new Uint8Array(m), message3 };
    return { result, message3 };
  }

  private build(): { state: HandshakeState; message1: Uint8Array } {
    const state = newState(this.cfg, true, this.e);
    const message1 = state.writeMessage(
      encodePayload(
        { senderCid: this.cfg.localCid, peerCid: ZERO_CID, params: this.cfg.params },
        MESSAGE1_BYTES - DH_LEN,
      ),
    );
    if (this.message1 !== undefined && !equalBytes(message1, this.message1))
      throw new PunchlineError('INTERNAL', 'rebuilt handshake diverged');
    return { state, message1 };
  }
}

interface Attempt {
  readonly message1: Uint8Array;
  readonly e: KeyPair;
  readonly message2: Uint8Array;
  readonly initiatorCid: Uint8Array;
  readonly params: TransportParams;
  state: HandshakeState | undefined;
}

export class ResponderHandshake {
  private readonly attempts: Attempt[] = [];

  constructor(private readonly cfg: HandshakeConfig) {}

  /** The newest attempt's message 2 and the cid to send it to (what the retransmission timer resends). */
  get latest(): { message2: Uint8Array; initiatorCid: Uint8Array } | undefined {
    return this.attempts[this.attempts.length - 1];
  }

  /**
   * A message 1: a known one gets its message 2 again without touching Noise; a new one starts
   * an attempt (the oldest of MAX_RESPONDER_ATTEMPTS is dropped). Throws MALFORMED.
   */
  onMessage1(m: Uint8Array): { message2: Uint8Array; initiatorCid: Uint8Array; fresh: boolean } {
    if (m.length !== MESSAGE1_BYTES) throw malformed(`handshake message 1 of ${m.length} bytes`);
    const known = this.attempts.find((a) => equalBytes(a.message1, m));
    if (known) return { message2: known.message2, initiatorCid: known.initiatorCid, fresh: false };
    const e = generateKeyPair(this.cfg.randomBytes);
    const state = newState(this.cfg, false, e);
    const payload = decodePayload(state.readMessage(m));
    if (!equalBytes(payload.peerCid, ZERO_CID)) throw malformed('message 1 names a peer cid');
    const message2 = state.writeMessage(this.payload2(payload.senderCid));
    this.attempts.push({
      message1: new Uint8Array(m),
      e,
      message2,
      initiatorCid: payload.senderCid,
      params: payload.params,
      state,
    });
    if (this.attempts.length > MAX_RESPONDER_ATTEMPTS) this.attempts.shift();
    return { message2, initiatorCid: payload.senderCid, fresh: true };
  }

  /**
   * A candidate message 3, tried against each attempt, newest first. When none accepts it,
   * throws KEY_MISMATCH if one read a different static key (a forger's own attempt, or the peer
   * really holds another key), otherwise the last error. Every attempt stays usable.
   */
  onMessage3(m: Uint8Array): HandshakeResult {
    if (m.length !== MESSAGE3_BYTES) throw malformed(`handshake message 3 of ${m.length} bytes`);
    if (this.attempts.length === 0) throw malformed('message 3 before any message 1');
    let last: unknown;
    let mismatch: unknown;
    for (let i = this.attempts.length - 1; i >= 0; i--) {
      const a = this.attempts[i]!;
      const state = a.state ?? this.rebuild(a);
      a.state = undefined;
      try {
        const payload = decodePayload(state.readMessage(m));
        if (!equalBytes(payload.senderCid, a.initiatorCid) || !equalBytes(payload.peerCid, this.cfg.localCid))
          throw malformed('message 3 names the wrong cids');
        return finish(state, a.initiatorCid, a.params);
      } catch (err) {
        if (isPunchlineError(err, 'KEY_MISMATCH')) mismatch = err;
        last = err;
      }
    }
    throw mismatch ?? last;
  }

  private payload2(initiatorCid: Uint8Array): Uint8Array {
    return encodePayload({ senderCid: this.cfg.localCid, peerCid: initiatorCid, params: this.cfg.params });
  }

  private rebuild(a: Attempt): HandshakeState {
    const state = newState(this.cfg, false, a.e);
    state.readMessage(a.message1);
    const message2 = state.writeMessage(this.payload2(a.initiatorCid));
    if (!equalBytes(message2, a.message2)) throw new PunchlineError('INTERNAL', 'rebuilt handshake diverged');
    return state;
  }
}
