import { createHmac, randomBytes } from 'node:crypto';
import type { Endpoint } from '../common/net/types.js';
import { equalBytes } from '../common/wire/bytes.js';
import { Limits } from '../common/wire/constants.js';
import type { AuthTransport } from '../common/wire/server-auth.js';

/**
 * Stateless address-bound cookies (the DTLS HelloVerifyRequest / QUIC Retry idea). A REGISTER
 * must carry a cookie the server minted for the source address it arrives from, so:
 *  - a registration cannot be replayed from another address (it would move the victim's
 *    observed endpoint to the attacker), and is fresh: cookies live 1-2 buckets (30-60 s);
 *  - a registration cannot be replayed over the other transport (UDP vs WebSocket) from the
 *    same address: the transport is inside the MAC;
 *  - the server keeps no state for unverified senders.
 * Layout (20 bytes): bucket u32 | HMAC-SHA256(secret, bucket | transport | ip:port)[0..16].
 */
export const COOKIE_BUCKET_MS = 30_000;

export class CookieJar {
  constructor(
    private readonly now: () => number,
    private readonly secret: Uint8Array = randomBytes(32),
  ) {}

  private mac(bucket: number, from: Endpoint, transport: AuthTransport): Uint8Array {
    const h = createHmac('sha256', this.secret);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(bucket >>> 0);
    h.update(b).update(`${transport}|${from.address}|${from.port}`);
    return new Uint8Array(h.digest().subarray(0, Limits.COOKIE_BYTES - 4));
  }

  private bucket(): number {
    return Math.floor(this.now() / COOKIE_BUCKET_MS) >>> 0;
  }

  issue(from: Endpoint, transport: AuthTransport): Uint8Array {
    const bucket = this.bucket();
    const out = new Uint8Array(Limits.COOKIE_BYTES);
    new DataView(out.buffer).setUint32(0, bucket);
    out.set(this.mac(bucket, from, transport), 4);
    return out;
  }

  check(cookie: Uint8Array, from: Endpoint, transport: AuthTransport): boolean {
    if (cookie.length !== Limits.COOKIE_BYTES) return false;
    const bucket = new DataView(cookie.buffer, cookie.byteOffset, cookie.byteLength).getUint32(0);
    const current = this.bucket();
    if (bucket !== current && bucket !== (current - 1) >>> 0) return false;
    return equalBytes(cookie.subarray(4), this.mac(bucket, from, transport));
  }
}
