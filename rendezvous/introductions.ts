import type { TimerHandle } from '../common/clock.js';
import { toHex } from '../common/wire/bytes.js';
import { Limits, MsgType } from '../common/wire/constants.js';
import { encode } from '../common/wire/messages.js';
import type { Connect, IntroduceAck, Message } from '../common/wire/messages.js';
import { authenticate, authenticateRequest } from './core.js';
import type { ServerCore } from './core.js';
import type { IntroducedPairs } from './introduced.js';
import { RateKeys } from './rate-keys.js';
import { observedUdp } from './registry.js';
import type { MemberRecord } from './registry.js';
import { sendError } from './reply.js';
import type { ReplyContext } from './reply.js';

/**
 * CONNECTs for the same pair within this window share one introduction. Crossing first
 * messages arrive within a round trip of each other; the window stays well under the peers'
 * first direct-path retry (5 s), which must get a fresh introduction to punch again.
 */
const PAIR_INTRO_WINDOW_MS = 2_000;

/** A CONNECT's requester|txid is remembered this long, so its retransmissions get the same answer. */
const RECENT_CONNECT_MS = 30_000;

/**
 * What identifies one registration (one running peer process): its UDP registration, kept when
 * the same process also registers over the stream and replaced when a new process registers; for
 * a peer on the stream only, its stream registration. Plain data (the REGISTER's txid), as the
 * registry's records are.
 */
const registrationOf = (rec: MemberRecord): string =>
  rec.udp ? `udp:${rec.udp.regTxid}` : `ws:${rec.ws?.regTxid ?? ''}`;

interface PairIntro {
  introId: Uint8Array;
  at: number;
  requester: string;
  requesterRegistration: string;
  targetRegistration: string;
}

interface PendingIntro {
  timer: TimerHandle;
  tries: number;
  /** The target's id (hex): only its authenticated INTRODUCE_ACK ends the retransmissions. */
  target: string;
}

/**
 * CONNECT -> INTRODUCE to both sides (docs/protocol.md): one introduction per pair and moment
 * (retransmitted and crossing CONNECTs share it), a per-member rate limit on new ones, and the
 * target's copy retransmitted until its INTRODUCE_ACK. Introduced pairs may relay (introduced.ts).
 */
export class Introducer {
  /** Per member: new CONNECTs (introductions). */
  readonly limit: RateKeys;
  /** CONNECT retransmissions get the same introduction: requester|txid -> introId, expiring. */
  private readonly recentConnects = new Map<string, { introId: Uint8Array; at: number }>();
  /**
   * The last introduction per pair (either direction). Two CONNECTs that cross (both peers send
   * their first message at once) get the same introduction id, so both sides settle on one
   * session instead of each keeping a different one.
   */
  private readonly pairIntros = new Map<string, PairIntro>();
  private readonly pending = new Map<string, PendingIntro>();

  constructor(
    private readonly core: ServerCore,
    private readonly introduced: IntroducedPairs,
  ) {
    this.limit = new RateKeys(core.opts.connectRate, core.opts.connectBurst, core.opts.maxRateKeys);
  }

  connect(m: Connect, ctx: ReplyContext, raw: Uint8Array): void {
    const who = authenticateRequest(this.core, m, ctx, raw);
    if (!who) return;
    const { rec: from, auth } = who;
    const { clock, registry, stats } = this.core;
    if (ctx.transport === 'udp' && from.udp) from.udp.lastSeen = clock.now();
    const target = registry.get(toHex(m.target));
    if (!target || target.room !== from.room || target.idHex === from.idHex)
      return sendError(ctx, m.txid, 'UNKNOWN_PEER', 'no such peer in your room', auth);

    const now = clock.now();
    const key = `${from.idHex}|${toHex(m.txid)}`;
    const seen = this.recentConnects.get(key);
    // A new CONNECT (not a retransmission) spends one of the member's tokens before anything is made.
    if (!seen && !this.limit.take(from.idHex, now)) {
      stats.rateLimited.connect++;
      this.core.limitLog.note('connect_rate', ctx.from.address);
      const text = 'too many introductions; retry later';
      return sendError(ctx, m.txid, 'RATE_LIMITED', text, auth, raw.length);
    }
    const pairKey =
      from.idHex < target.idHex ? `${from.idHex}|${target.idHex}` : `${target.idHex}|${from.idHex}`;
    const crossing = seen ? undefined : this.crossing(pairKey, from, target, now);
    const introId = seen?.introId ?? crossing?.introId ?? this.core.random(Limits.INTRO_ID_BYTES);
    if (!seen) this.recentConnects.set(key, { introId, at: now });
    if (!crossing && !seen)
      this.pairIntros.set(pairKey, {
        introId,
        at: now,
        requester: from.idHex,
        requesterRegistration: registrationOf(from),
        targetRegistration: registrationOf(target),
      });

    // The pair may now relay to each other (both directions), for relayPairTtlMs after this.
    this.introduced.add(from.idHex, target.idHex, now);
    // Both introductions leave back to back, so both sides start punching at the same moment.
    ctx.reply(auth.seal(encode(this.introduction(m.txid, introId, true, target, from))));
    // A retransmitted CONNECT: the target's copy is already being retransmitted. A crossing one:
    // the target asked first and has this very introduction already.
    if (seen || crossing) return;
    stats.introductions++;
    if (target.node !== undefined && this.core.cluster) {
      // Held by another node: that node sends (and retransmits) the target's half.
      this.core.cluster.introduce(target, from, introId);
      this.core.log.info('introduced', {
        from: from.idHex,
        to: target.idHex,
        room: from.room,
        node: target.node,
      });
      return;
    }
    this.introduceTarget(from, target, introId);
  }

  /** The target's INTRODUCE: sent now, retransmitted until its INTRODUCE_ACK. */
  private introduceTarget(from: MemberRecord, target: MemberRecord, introId: Uint8Array): void {
    const txid = this.core.random(Limits.TXID_BYTES);
    const toTarget = encode(this.introduction(txid, introId, false, from, target));
    this.core.bindings.deliver(target, toTarget);
    this.core.log.info('introduced', { from: from.idHex, to: target.idHex, room: from.room });
    this.retransmit(toHex(txid), toTarget, target.idHex, 0);
  }

  /**
   * Another node got `fromHex`'s CONNECT for `targetHex`, held here (docs/architecture.md,
   * Cluster): the pair may relay here too, and the target gets its INTRODUCE as for a local one.
   * Ignored unless the requester is mirrored here and the two share a room.
   */
  introduceFromNode(fromHex: string, targetHex: string, introId: Uint8Array): boolean {
    const from = this.core.registry.get(fromHex);
    const target = this.core.registry.get(targetHex);
    if (!from || !target || from.node === undefined || target.node !== undefined || from.room !== target.room)
      return false;
    this.introduced.add(fromHex, targetHex, this.core.clock.now());
    this.introduceTarget(from, target, introId);
    return true;
  }

  /**
   * The pair's introduction if this CONNECT crosses it: the *other* side asked within the window,
   * and both are still the registrations (processes) that took part then, so the requester
   * already holds that introduction.
   */
  private crossing(
    pairKey: string,
    from: MemberRecord,
    target: MemberRecord,
    now: number,
  ): PairIntro | undefined {
    const pair = this.pairIntros.get(pairKey);
    return pair !== undefined &&
      now - pair.at <= PAIR_INTRO_WINDOW_MS &&
      pair.requester === target.idHex &&
      pair.requesterRegistration === registrationOf(target) &&
      pair.targetRegistration === registrationOf(from)
      ? pair
      : undefined;
  }

  /** INTRODUCE_ACK: the target's authenticated acknowledgement ends its retransmissions. */
  ack(msg: IntroduceAck, ctx: ReplyContext, raw: Uint8Array): void {
    if (typeof authenticate(this.core, toHex(msg.id), ctx, raw) === 'string') return;
    const p = this.pending.get(toHex(msg.txid));
    if (p && p.target === toHex(msg.id)) {
      this.core.clock.clearTimeout(p.timer);
      this.pending.delete(toHex(msg.txid));
    }
  }

  private retransmit(txidHex: string, bytes: Uint8Array, targetHex: string, tries: number): void {
    if (tries >= this.core.opts.introRetries) {
      this.pending.delete(txidHex);
      return;
    }
    const timer = this.core.clock.setTimeout(
      () => {
        // Looked up afresh: the target may have re-registered or moved to another transport.
        const target = this.core.registry.get(targetHex);
        if (!target) return void this.pending.delete(txidHex);
        this.core.bindings.deliver(target, bytes);
        this.retransmit(txidHex, bytes, targetHex, tries + 1);
      },
      this.core.opts.introRetryMs * 2 ** tries,
    );
    this.pending.set(txidHex, { timer, tries, target: targetHex });
  }

  private introduction(
    txid: Uint8Array,
    introId: Uint8Array,
    initiator: boolean,
    other: MemberRecord,
    to: MemberRecord,
  ): Message {
    // The other's port behaviour, only for a recipient that has sent NAT_INFO itself: an older
    // peer would refuse the longer message (docs/protocol.md, INTRODUCE).
    const nat = to.udp?.nat !== undefined ? other.udp?.nat : undefined;
    return {
      type: MsgType.INTRODUCE,
      txid,
      introId,
      initiator,
      id: other.id,
      name: other.name,
      signKey: other.signKey,
      dhKey: other.dhKey,
      // 0.0.0.0:0 when the other side has no UDP registration: "no UDP candidate, relay only".
      observed: observedUdp(other),
      lan: other.lan,
      ...(nat && nat.kind !== 'unknown' ? { nat } : {}),
    };
  }

  /** Forget old CONNECT transactions and crossing windows (the server's sweep). */
  sweep(now: number): void {
    for (const [k, v] of this.recentConnects)
      if (now - v.at > RECENT_CONNECT_MS) this.recentConnects.delete(k);
    for (const [k, v] of this.pairIntros) if (now - v.at > PAIR_INTRO_WINDOW_MS) this.pairIntros.delete(k);
  }

  /** Stop every retransmission (server shutdown); idempotent. */
  close(): void {
    for (const p of this.pending.values()) this.core.clock.clearTimeout(p.timer);
    this.pending.clear();
  }
}
