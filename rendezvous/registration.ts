import { peerIdOf, verifySignature } from '../common/identity/identity.js';
import { nameProblem } from '../common/names.js';
import { endpointKey } from '../common/net/types.js';
import { dh } from '../common/crypto/x25519.js';
import type { KeyPair } from '../common/crypto/x25519.js';
import { toHex } from '../common/wire/bytes.js';
import { MsgType } from '../common/wire/constants.js';
import { encode, registerSigningBytes } from '../common/wire/messages.js';
import type { Register } from '../common/wire/messages.js';
import { AuthChannel, deriveServerAuthKeys } from '../common/wire/server-auth.js';
import type { CookieJar } from './cookie.js';
import type { ServerCore } from './core.js';
import type { PresenceFanout } from './presence.js';
import type { RateKeys } from './rate-keys.js';
import { sourceKey } from './rate-keys.js';
import { sourcesOf } from './registry.js';
import type { MemberRecord, UpsertResult } from './registry.js';
import { sendError } from './reply.js';
import type { ReplyContext } from './reply.js';

/** What registration needs beside the core: cookies, the per-source bucket, the key, presence. */
export interface RegistrarParts {
  readonly cookies: CookieJar;
  /** Per source: REGISTERs (signature checks). */
  readonly limit: RateKeys;
  readonly serverKey: KeyPair;
  readonly presence: PresenceFanout;
}

/** A REGISTER past the cheap checks: who it names, the channel it keys, the record it replaces. */
interface Candidate {
  readonly m: Register;
  readonly ctx: ReplyContext;
  readonly id: Uint8Array;
  readonly idHex: string;
  readonly prev: MemberRecord | undefined;
  readonly auth: AuthChannel;
}

/**
 * REGISTER (docs/protocol.md): the cookie proves the source, the source's bucket bounds the
 * signature checks, the signature and the DH key the server's half of the authenticated channel;
 * then the room's rules (names, size, ids per source) and the registry decide. A success answers
 * REGISTERED sealed, binds the transport it came on, and tells presence.
 */
export class Registrar {
  constructor(
    private readonly core: ServerCore,
    private readonly parts: RegistrarParts,
  ) {}

  register(m: Register, ctx: ReplyContext, raw: Uint8Array): void {
    const shared = this.admit(m, ctx, raw);
    if (!shared) return;
    const c = this.candidate(m, ctx, shared);
    if (!c || !this.allowed(c)) return;
    const cluster = this.core.cluster;
    const prev = c.prev;
    // In a cluster a new name (or room) is claimed cluster-wide first; a name this node already
    // holds for the member (a refresh, the other transport) needs no round trip to Redis.
    if (cluster && (!prev || prev.node !== undefined || prev.name !== m.name || prev.room !== m.room)) {
      void cluster.claim(this.record(c)).then((claim) => {
        // Its connection closed meanwhile: nothing would ever unbind a binding made now.
        if (ctx.open && !ctx.open()) return;
        if (claim === 'taken') return this.refused(c, { ok: false, code: 'NAME_TAKEN', holder: m.name });
        // The registry may have changed while Redis answered: merge with the record as it is now.
        this.commit({ ...c, prev: this.core.registry.get(c.idHex) });
      });
      return;
    }
    this.commit(c);
  }

  private commit(c: Candidate): void {
    const rec = this.record(c);
    const result = this.core.registry.upsert(rec);
    if (!result.ok) return this.refused(c, result);
    this.accepted(c, rec, result);
  }

  /**
   * Cookie, rate, signature, DH: the shared secret, or undefined when refused (answered). The
   * cookie proved the source (a round trip): only then may it spend that source's tokens, so a
   * forged source address can neither fill the bucket map nor drain another address's bucket.
   */
  private admit(m: Register, ctx: ReplyContext, raw: Uint8Array): Uint8Array | undefined {
    const { stats } = this.core;
    if (!this.parts.cookies.check(m.cookie, ctx.from, ctx.transport)) {
      stats.dropped.bad_cookie++;
      return void sendError(ctx, m.txid, 'STALE', 'cookie stale or not for this address');
    }
    if (!this.parts.limit.take(sourceKey(ctx.from.address), this.core.clock.now())) {
      stats.rateLimited.register++;
      this.core.limitLog.note('register_rate', ctx.from.address);
      // Unsealed (no key is verified yet) and never larger than the REGISTER (§7.4).
      const text = 'too many registrations from this address; retry later';
      return void sendError(ctx, m.txid, 'RATE_LIMITED', text, undefined, raw.length);
    }
    stats.signatureChecks++;
    if (!verifySignature(m.signKey, registerSigningBytes(m), m.signature)) {
      stats.dropped.bad_signature++;
      return void sendError(ctx, m.txid, 'BAD_SIGNATURE', 'registration signature does not verify');
    }
    try {
      return dh(this.parts.serverKey, m.dhKey);
    } catch {
      stats.dropped.malformed++;
      return void sendError(ctx, m.txid, 'MALFORMED', 'dhKey is not a usable X25519 key');
    }
  }

  /** The id and its channel; a REGISTER older than the one in force is refused (undefined). */
  private candidate(m: Register, ctx: ReplyContext, shared: Uint8Array): Candidate | undefined {
    const regTxid = toHex(m.txid);
    const id = peerIdOf(m.signKey, m.dhKey);
    const idHex = toHex(id);
    const prev = this.core.registry.get(idHex);
    const prevBinding = prev?.[ctx.transport];
    // The same REGISTER again (a retransmission): keep its channel, whose counters run on.
    const same = prevBinding?.regTxid === regTxid && prevBinding.regTime === m.time;
    const kept = same && prev ? this.core.bindings.of(prev, ctx.transport)?.auth : undefined;
    const auth =
      kept ?? new AuthChannel(deriveServerAuthKeys(shared, ctx.transport, m.txid, m.cookie, 'server'));
    if (!same && prevBinding && m.time < prevBinding.regTime) {
      // Older than the registration in force: a captured REGISTER replayed within its cookie's life.
      this.core.stats.dropped.stale_register++;
      return void sendError(ctx, m.txid, 'STALE', 'a newer registration of this id is in force', auth);
    }
    return { m, ctx, id, idHex, prev, auth };
  }

  /** The checks that need no registry write: fields, the name's shape, ids per source. */
  private allowed({ m, ctx, prev, auth }: Candidate): boolean {
    const { stats, opts } = this.core;
    if (m.room.length === 0 || m.name.length === 0) {
      sendError(ctx, m.txid, 'MALFORMED', 'empty room or name', auth);
      return false;
    }
    if (ctx.transport === 'ws' && ctx.connection === undefined) {
      sendError(ctx, m.txid, 'MALFORMED', 'stream registration without a connection', auth);
      return false;
    }
    const problem = nameProblem(m.name);
    if (problem !== undefined) {
      stats.refused.bad_name++;
      sendError(ctx, m.txid, 'BAD_NAME', problem, auth);
      return false;
    }
    // A new id for this source counts against its quota; a binding it already holds does not.
    const source = sourceKey(ctx.from.address);
    if (
      !(prev && sourcesOf(prev).includes(source)) &&
      this.core.registry.idsFrom(source) >= opts.maxIdsPerIp
    ) {
      stats.refused.ids_per_ip++;
      this.core.limitLog.note('ids_per_ip', ctx.from.address);
      const text = `this address holds ${opts.maxIdsPerIp} registrations, the most this server allows; one must leave or expire first`;
      sendError(ctx, m.txid, 'TOO_MANY_IDS', text, auth);
      return false;
    }
    return true;
  }

  /** A new record (the registry counts bindings per record); the other transport's binding stays. */
  private record({ m, ctx, id, idHex, prev: held }: Candidate): MemberRecord {
    // A record mirrored from another node (a member moving here) lends nothing: its bindings are there.
    const prev = held?.node === undefined ? held : undefined;
    const registration = { regTxid: toHex(m.txid), regTime: m.time };
    return {
      id,
      idHex,
      room: m.room,
      name: m.name,
      // Copies: the decoded fields are views into the received buffer, which must not be kept alive.
      signKey: prev?.signKey ?? new Uint8Array(m.signKey),
      dhKey: prev?.dhKey ?? new Uint8Array(m.dhKey),
      // The relay stream registers with no LAN addresses: keep the ones the UDP registration gave.
      lan: ctx.transport === 'udp' || !prev ? m.lan : prev.lan,
      udp:
        ctx.transport === 'udp'
          ? { observed: ctx.from, lastSeen: this.core.clock.now(), ...registration }
          : prev?.udp,
      ws:
        ctx.transport === 'ws'
          ? { remote: ctx.from, connection: ctx.connection!, ...registration }
          : prev?.ws,
    };
  }

  private refused({ m, ctx, auth }: Candidate, result: UpsertResult & { ok: false }): void {
    const { refused } = this.core.stats;
    if (result.code === 'ROOM_FULL') {
      refused.room_full++;
      return sendError(ctx, m.txid, 'ROOM_FULL', `room "${m.room}" is full`, auth);
    }
    refused.name_taken++;
    const text =
      result.holder === m.name
        ? `name "${m.name}" is taken in room "${m.room}" by another key`
        : `name "${m.name}" looks like "${result.holder}", taken in room "${m.room}" by another key`;
    sendError(ctx, m.txid, 'NAME_TAKEN', text, auth);
  }

  private accepted(c: Candidate, rec: MemberRecord, result: UpsertResult & { ok: true }): void {
    const { m, ctx, auth, prev } = c;
    this.core.bindings.set(rec.idHex, ctx.transport, { send: ctx.reply, auth });
    this.core.stats.registrations++;
    ctx.onRegistered?.(rec);
    this.core.cluster?.changed(rec);
    ctx.reply(
      auth.seal(
        encode({
          type: MsgType.REGISTERED,
          txid: m.txid,
          id: rec.id,
          observed: ctx.from,
          keepaliveMs: this.core.opts.keepaliveMs,
          expiryMs: this.core.opts.expiryMs,
        }),
      ),
    );
    if (result.previousRoom !== undefined && prev) this.parts.presence.changed(result.previousRoom, prev);
    if (result.changed)
      this.core.log.info('registered', {
        id: rec.idHex,
        name: m.name,
        room: m.room,
        transport: ctx.transport,
        observed: endpointKey(ctx.from),
      });
    // The registrant gets the full list (a retransmitted or refreshed registration too: its client
    // starts a new presence epoch); the others learn of a change by delta.
    this.parts.presence.registered(rec, result.changed);
  }
}
