import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { toHex } from './bytes.js';
import { Limits } from './constants.js';

/**
 * Authentication of rendezvous messages after registration (docs/protocol.md "Server
 * authentication", docs/security.md).
 *
 * The server has a long-term X25519 key (sent in COOKIE, pinned by peers on first use like SSH's
 * known_hosts). A registration derives a fresh pair of keys from the static-static DH between
 * the server's key and the peer's Noise static key, salted with what makes that registration
 * unique: its transport, the REGISTER's txid and the server's cookie. Only the two holders of
 * those private keys can compute them, so a forged source address can neither inject a server
 * message into a peer nor speak for a member to the server. Every message that follows carries
 * an auth trailer: a u32 sequence number (replay window, as IPsec's RFC 4303 §3.4.3) and a 16-byte
 * HMAC-SHA256 over everything before the MAC.
 */

/** seq (u32) | mac (16). */
export const AUTH_TRAILER_BYTES = 4 + Limits.AUTH_MAC_BYTES;
/** Sequence numbers accepted behind the highest seen (out-of-order UDP, back-to-back presence parts). */
export const REPLAY_WINDOW = 64;

const LABEL = Buffer.from('punchline/server-auth/v1');
export const TRANSPORT_BYTE = { udp: 0, ws: 1 } as const;
export type AuthTransport = keyof typeof TRANSPORT_BYTE;

export interface DirectionalKeys {
  /** Key for what this side sends. */
  send: Uint8Array;
  /** Key for what this side receives. */
  recv: Uint8Array;
}

/**
 * HKDF-SHA256 (RFC 5869) of the static-static DH output into two 32-byte keys: server -> peer,
 * then peer -> server. `side` picks which one this party sends with.
 */
export function deriveServerAuthKeys(
  shared: Uint8Array,
  transport: AuthTransport,
  txid: Uint8Array,
  cookie: Uint8Array,
  side: 'server' | 'peer',
): DirectionalKeys {
  const info = Buffer.concat([LABEL, Buffer.of(TRANSPORT_BYTE[transport]), txid, cookie]);
  const okm = new Uint8Array(hkdfSync('sha256', shared, new Uint8Array(0), info, 64));
  const toPeer = okm.subarray(0, 32);
  const toServer = okm.subarray(32, 64);
  return side === 'server' ? { send: toPeer, recv: toServer } : { send: toServer, recv: toPeer };
}

/** The server key's fingerprint people compare: SHA-256 of a label and the key, first 16 bytes, hex (32 characters). */
export function serverFingerprint(key: Uint8Array): string {
  return toHex(createHash('sha256').update('punchline/server-key/v1').update(key).digest().subarray(0, 16));
}

/** The same fingerprint grouped for reading aloud: abcd:ef01:... */
export const groupFingerprint = (fp: string): string => (fp.match(/.{1,4}/g) ?? []).join(':');

/** Accepts the grouped or the plain form; undefined when it is not a fingerprint. */
export function parseFingerprint(text: string): string | undefined {
  const plain = text.replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{32}$/.test(plain) ? plain : undefined;
}

function mac(key: Uint8Array, bytes: Uint8Array): Buffer {
  return createHmac('sha256', key)
    .update(bytes.subarray(0, bytes.length - Limits.AUTH_MAC_BYTES))
    .digest()
    .subarray(0, Limits.AUTH_MAC_BYTES);
}

/** The sequence number in a message's auth trailer. */
export function trailerSeq(bytes: Uint8Array): number {
  const at = bytes.length - AUTH_TRAILER_BYTES;
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/** True when the trailer is all zeros: an ERROR sent before any key existed. */
export function isUnsealed(bytes: Uint8Array): boolean {
  for (let i = bytes.length - AUTH_TRAILER_BYTES; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * One registration's authenticated channel, on either side. seal() writes the next sequence
 * number and the MAC into the trailer of a freshly encoded message (encode() leaves it zeroed);
 * open() checks the MAC and the replay window and records the sequence number.
 */
export class AuthChannel {
  private nextSeq = 0;
  private highest = -1;
  private window = 0n; // bit i: highest - i was seen
  stats = { sealed: 0, opened: 0, badMac: 0, replayed: 0 };

  constructor(private readonly keys: DirectionalKeys) {}

  /** Seal `bytes` in place (it must end in the AUTH_TRAILER_BYTES that encode() reserved). */
  seal(bytes: Uint8Array): Uint8Array {
    if (bytes.length < 2 + AUTH_TRAILER_BYTES) throw new RangeError('message too short to seal');
    const seq = this.nextSeq;
    this.nextSeq = (this.nextSeq + 1) >>> 0;
    const at = bytes.length - AUTH_TRAILER_BYTES;
    bytes[at] = seq >>> 24;
    bytes[at + 1] = (seq >>> 16) & 0xff;
    bytes[at + 2] = (seq >>> 8) & 0xff;
    bytes[at + 3] = seq & 0xff;
    bytes.set(mac(this.keys.send, bytes), bytes.length - Limits.AUTH_MAC_BYTES);
    this.stats.sealed++;
    return bytes;
  }

  /** A copy of `bytes`, sealed: for one encoded message sent to several members. */
  sealCopy(bytes: Uint8Array): Uint8Array {
    return this.seal(new Uint8Array(bytes));
  }

  /** Does this MAC verify under our receive key? (No replay check, no state change.) */
  verifies(bytes: Uint8Array): boolean {
    if (bytes.length < 2 + AUTH_TRAILER_BYTES) return false;
    const got = bytes.subarray(bytes.length - Limits.AUTH_MAC_BYTES);
    return timingSafeEqual(got, mac(this.keys.recv, bytes));
  }

  /** Authentic and not seen before: accept (and remember) it. */
  open(bytes: Uint8Array): boolean {
    if (!this.verifies(bytes)) {
      this.stats.badMac++;
      return false;
    }
    const seq = trailerSeq(bytes);
    if (seq > this.highest) {
      const shift = seq - this.highest;
      this.window = shift >= REPLAY_WINDOW ? 1n : ((this.window << BigInt(shift)) | 1n) & WINDOW_MASK;
      this.highest = seq;
    } else {
      const back = this.highest - seq;
      const bit = 1n << BigInt(back);
      if (back >= REPLAY_WINDOW || (this.window & bit) !== 0n) {
        this.stats.replayed++;
        return false;
      }
      this.window |= bit;
    }
    this.stats.opened++;
    return true;
  }
}

const WINDOW_MASK = (1n << BigInt(REPLAY_WINDOW)) - 1n;
