import { createHash } from 'node:crypto';
import type { Clock, TimerHandle } from '../clock.js';
import type { RandomBytes } from '../crypto/x25519.js';
import { PunchlineError, isPunchlineError } from '../errors.js';
import type { Logger } from '../log.js';
import { describePath, pathKey } from '../path/path-id.js';
import { equalBytes } from '../wire/bytes.js';
import { MsgType } from '../wire/constants.js';
import {
  type HandshakeConfig,
  type HandshakeResult,
  InitiatorHandshake,
  ResponderHandshake,
} from './handshake-driver.js';
import type { SessionTuning } from './options.js';
import { CID_BYTES, encodeHandshakePacket, parseHandshakePacket } from './packet.js';
import { type SessionPath, samePath } from './session-path.js';
import type { DropCounts, SessionStats } from './stats.js';

/** The initiator by the default rule: the lower static public key, compared bytewise. */
export function initiatorByKeys(localStatic: Uint8Array, remoteStatic: Uint8Array): boolean {
  return Buffer.compare(localStatic, remoteStatic) < 0;
}

/**
 * The connection id the initiator's first message goes to, before it knows the responder's:
 * both sides derive it from the prologue, so the owner can route message 1 to the session it
 * created for that introduction.
 */
export function initialConnectionId(prologue: Uint8Array): Uint8Array {
  const h = createHash('sha256').update('punchline/session/initial-cid/v1').update(prologue).digest();
  return new Uint8Array(h.subarray(0, CID_BYTES));
}

/** This side's connection id: random, never all zeros, never the initial one. */
export function freshConnectionId(random: RandomBytes, initialCid: Uint8Array): Uint8Array {
  for (let i = 0; i < 8; i++) {
    const cid = random(CID_BYTES);
    if (cid.length === CID_BYTES && cid.some((b) => b !== 0) && !equalBytes(cid, initialCid))
      return new Uint8Array(cid);
  }
  throw new PunchlineError('INTERNAL', 'random source gave no usable connection id');
}

/**
 * The floor of a retransmission timeout timed from a measured round trip: the peer's side of the
 * handshake costs three X25519 operations and a turn of its event loop, which a busy host may
 * delay by tens of ms, so a sub-millisecond LAN sample must not mean a retransmission every ms.
 */
export const HANDSHAKE_PTO_FLOOR_MS = 50;

/**
 * The first retransmission timeout after one RTT sample (RFC 9002 §5.3: smoothed_rtt = sample,
 * rttvar = sample / 2; §6.2.1: PTO = smoothed_rtt + 4 x rttvar, no max_ack_delay in the
 * handshake), floored at HANDSHAKE_PTO_FLOOR_MS.
 */
export const ptoFromSample = (rttMs: number): number =>
  Math.max(HANDSHAKE_PTO_FLOOR_MS, rttMs + 4 * (rttMs / 2));

/** Paths message 1 is raced on at most (a few direct candidates and the relay). */
export const MAX_OFFERED_PATHS = 6;

export type HandshakeTuning = Pick<
  SessionTuning,
  'handshakeRetransmitMs' | 'handshakeRetransmitMaxMs' | 'handshakeTimeoutMs'
>;

/** What the handshake needs from its session. */
export interface HandshakeHost {
  readonly clock: Clock;
  readonly log: Logger;
  readonly dropped: DropCounts;
  state(): SessionStats['state'];
  /** The path the owner set, if any. */
  path(): SessionPath | undefined;
  sendRaw(path: SessionPath, datagram: Uint8Array): void;
  /** The handshake proved the peer: open the session with these keys; `from` is where it finished. */
  opened(result: HandshakeResult, from: SessionPath): void;
  /** A retransmitted message 3 reached an open responder: send the initiator an authenticated packet. */
  answerFinish(): void;
  fail(error: PunchlineError): void;
}

/**
 * The session's handshake phase (docs/session.md): who initiates, the Noise XX messages on the
 * wire with their retransmission timer and deadline, and confirmation (RFC 9001 §4.1.2): until
 * an authenticated packet arrives, the initiator does not know the responder read message 3,
 * and resends it.
 */
export class SessionHandshake {
  private role: 'initiator' | 'responder';
  private readonly prefersInitiator: boolean;
  private readonly keyRuleFallbackMs: number | undefined;
  private initiatorHs: InitiatorHandshake | undefined;
  private responderHs: ResponderHandshake | undefined;
  /** Where message 2 goes (where message 1 came from, unless the owner set a path since). */
  private hsPath: SessionPath | undefined;
  private timer: TimerHandle | undefined;
  private deadline: TimerHandle | undefined;
  private tries = 0;
  /** Paths message 1 goes on until the owner sets one (offer()); the handshake opens on the first that answers. */
  private offered: SessionPath[] = [];
  /** Paths nudge() sent message 1 on (each once). */
  private readonly nudged = new Set<string>();
  /** A round trip the owner measured on the path it set (punching) or estimated for one it offered: the retransmission timer's base. */
  private rttSampleMs: number | undefined;
  /** The last handshake message that proved another static key (unvouched path): the deadline's error. */
  private wrongKey: PunchlineError | undefined;
  private remoteCid: Uint8Array | undefined;
  private isConfirmed = false;
  /** Handshake messages sent again by the retransmission timer. */
  retransmits = 0;

  constructor(
    private readonly config: HandshakeConfig,
    private readonly initialCid: Uint8Array,
    /** The owner's choice of role, and keyRuleFallbackMs (see start()); SessionOptions has both. */
    roles: { readonly initiator?: boolean; readonly keyRuleFallbackMs?: number },
    private readonly t: HandshakeTuning,
    private readonly host: HandshakeHost,
  ) {
    this.keyRuleFallbackMs = roles.keyRuleFallbackMs;
    const initiator = roles.initiator;
    this.prefersInitiator = initiatorByKeys(config.staticKey.publicKey, config.expectedRemoteStatic);
    this.role = (initiator ?? this.prefersInitiator) ? 'initiator' : 'responder';
  }

  get isInitiator(): boolean {
    return this.role === 'initiator';
  }
  get roleName(): 'initiator' | 'responder' {
    return this.role;
  }
  /** The peer certainly holds the transport keys (RFC 9001 §4.1.2 "confirmed"). */
  get confirmed(): boolean {
    return this.isConfirmed;
  }

  /** Begin (the session just entered 'handshaking'): the initiator sends message 1. */
  start(): void {
    this.deadline = this.host.clock.setTimeout(() => {
      this.deadline = undefined;
      const st = this.host.state();
      if (st === 'handshaking' || (st === 'open' && !this.isConfirmed))
        this.host.fail(this.wrongKeyError() ?? new PunchlineError('TIMEOUT', 'session handshake timed out'));
    }, this.t.handshakeTimeoutMs);
    if (this.role === 'initiator') {
      this.initiatorHs = new InitiatorHandshake(this.config);
      this.resend(true);
      this.armTimer();
    } else {
      this.responderHs = new ResponderHandshake(this.config);
      // A peer on the older rule (the lower key initiates) that asked for the introduction while
      // holding the higher key waits for us as we wait for it: after keyRuleFallbackMs without a
      // message 1, the side the key rule names starts; if both start, onInit keeps the lower key.
      if (this.prefersInitiator && this.keyRuleFallbackMs !== undefined)
        this.timer = this.host.clock.setTimeout(() => this.startByKeyRule(), this.keyRuleFallbackMs);
    }
  }

  private startByKeyRule(): void {
    this.timer = undefined;
    if (this.role !== 'responder' || this.responderHs?.latest || this.host.state() !== 'handshaking') return;
    this.role = 'initiator';
    this.responderHs = undefined;
    this.initiatorHs = new InitiatorHandshake(this.config);
    this.tries = 0;
    this.resend(true);
    this.armTimer();
  }

  /**
   * The owner set a path while handshaking: its choice beats where message 1 came from and the
   * paths offered; resend at once. `rttMs`: a round trip measured on it (punching), which times
   * the retransmissions from now on instead of the fixed handshakeRetransmitMs.
   */
  onPathSet(path: SessionPath, rttMs?: number): void {
    this.hsPath = path;
    this.offered = [];
    if (rttMs !== undefined && Number.isFinite(rttMs) && rttMs >= 0) this.rttSampleMs = rttMs;
    this.tries = 0;
    this.resend();
    this.armTimer();
  }

  /**
   * Before the owner picks a path: race message 1 on this one too (now; on retransmissions only
   * if proven()). The responder answers on the path message 1 reached it by, and the session
   * opens on the path the answer came back on: the fastest that works (docs/session.md).
   */
  offer(path: SessionPath, rttMs?: number): void {
    if (this.host.path() || this.offered.length >= MAX_OFFERED_PATHS) return;
    if (this.offered.some((p) => samePath(p, path))) return;
    this.offered.push(path);
    this.sendInit(path);
    // A round trip estimated for it times the retransmissions until a path is set (re-armed if running).
    if (rttMs === undefined || this.rttSampleMs !== undefined || !(rttMs >= 0)) return;
    this.rttSampleMs = rttMs;
    if (this.timer && this.role === 'initiator') this.armTimer();
  }

  /**
   * The owner just learned the peer can be reached on this path (its PROBE came from there, so
   * its NAT is open towards us now): send message 1 there at once, once per path, instead of
   * waiting for the retransmission timer. The copy sent with the first probes may have reached
   * the peer's NAT before the peer's own first probe opened it (docs/nat-traversal.md).
   */
  nudge(path: SessionPath): void {
    const key = pathKey(path.id);
    if (this.host.path() || this.nudged.has(key) || this.nudged.size >= MAX_OFFERED_PATHS) return;
    this.nudged.add(key);
    if (!this.offered.some((p) => samePath(p, path)) && this.offered.length < MAX_OFFERED_PATHS)
      this.offered.push(path);
    this.sendInit(path);
  }

  /**
   * An offered path message 1 is sent on again by the timer: one that vouches for the peer (the
   * relay) or that the peer showed to reach it (nudge). Other offered addresses get it once:
   * they are only claimed (docs/security.md, "Punching").
   */
  private proven(p: SessionPath): boolean {
    return p.vouched === true || this.nudged.has(pathKey(p.id));
  }

  private sendInit(path: SessionPath): void {
    if (this.role === 'initiator' && this.initiatorHs && this.host.state() === 'handshaking')
      this.host.sendRaw(
        path,
        encodeHandshakePacket(MsgType.SESSION_INIT, this.initialCid, this.initiatorHs.message1),
      );
  }

  /** (Re)transmit the handshake message this side is waiting on an answer to; `first`: on every offered path. */
  resend(first = false): void {
    const st = this.host.state();
    const path = this.host.path();
    if (this.role === 'initiator' && this.initiatorHs) {
      if (st === 'handshaking') {
        const packet = encodeHandshakePacket(
          MsgType.SESSION_INIT,
          this.initialCid,
          this.initiatorHs.message1,
        );
        for (const p of path ? [path] : this.offered.filter((o) => first || this.proven(o)))
          this.host.sendRaw(p, packet);
      } else if (st === 'open' && !this.isConfirmed && path && this.remoteCid) {
        this.host.sendRaw(
          path,
          encodeHandshakePacket(MsgType.SESSION_FINISH, this.remoteCid, this.initiatorHs.message3!),
        );
      }
      return;
    }
    const latest = this.responderHs?.latest;
    const to = this.hsPath ?? path;
    if (st === 'handshaking' && latest && to) {
      this.host.sendRaw(
        to,
        encodeHandshakePacket(MsgType.SESSION_RESPONSE, latest.initiatorCid, latest.message2),
      );
    }
  }

  /** A handshake packet (types 0x30-0x32) for this session. */
  onPacket(datagram: Uint8Array, from: SessionPath): void {
    let p;
    try {
      p = parseHandshakePacket(datagram);
    } catch {
      this.host.dropped.malformed++;
      return;
    }
    if (p.type === MsgType.SESSION_INIT) this.onInit(p.dcid, p.message, from);
    else if (p.type === MsgType.SESSION_RESPONSE) this.onResponse(p.dcid, p.message, from);
    else this.onFinish(p.dcid, p.message, from);
  }

  /** The peer holds the keys: stop resending message 3 and drop the handshake deadline. */
  confirm(): void {
    this.isConfirmed = true;
    this.host.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.host.clock.clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  /** Stop both timers. Idempotent. */
  close(): void {
    this.host.clock.clearTimeout(this.timer);
    this.host.clock.clearTimeout(this.deadline);
    this.timer = this.deadline = undefined;
  }

  private onInit(dcid: Uint8Array, message: Uint8Array, from: SessionPath): void {
    const dropped = this.host.dropped;
    if (!equalBytes(dcid, this.initialCid)) return void dropped.unknownCid++;
    if (this.host.state() === 'open') return void dropped.stray++;
    if (this.role === 'initiator') {
      // Simultaneous open: the lower static key stays initiator, the other side yields.
      if (this.prefersInitiator) return void dropped.stray++;
      this.becomeResponder();
    }
    let r;
    try {
      r = this.responderHs!.onMessage1(message);
    } catch (err) {
      return this.countError(err, from);
    }
    this.hsPath = from;
    this.host.sendRaw(from, encodeHandshakePacket(MsgType.SESSION_RESPONSE, r.initiatorCid, r.message2));
    if (r.fresh) {
      this.tries = 0;
      this.armTimer();
    }
  }

  private onResponse(dcid: Uint8Array, message: Uint8Array, from: SessionPath): void {
    const dropped = this.host.dropped;
    if (!equalBytes(dcid, this.config.localCid)) return void dropped.unknownCid++;
    const hs = this.initiatorHs;
    if (this.role !== 'initiator' || !hs) return void dropped.stray++;
    if (hs.isAccepted(message)) {
      // Our message 3 was lost: the responder is still retransmitting message 2.
      dropped.stray++;
      if (!this.isConfirmed && this.remoteCid)
        this.host.sendRaw(from, encodeHandshakePacket(MsgType.SESSION_FINISH, this.remoteCid, hs.message3!));
      return;
    }
    if (this.host.state() === 'open') return void dropped.stray++;
    let done;
    try {
      done = hs.onMessage2(message);
    } catch (err) {
      return this.countError(err, from);
    }
    this.host.sendRaw(
      from,
      encodeHandshakePacket(MsgType.SESSION_FINISH, done.result.remoteCid, done.message3),
    );
    this.done(done.result, from);
  }

  private onFinish(dcid: Uint8Array, message: Uint8Array, from: SessionPath): void {
    const dropped = this.host.dropped;
    if (!equalBytes(dcid, this.config.localCid)) return void dropped.unknownCid++;
    const hs = this.responderHs;
    if (this.role !== 'responder' || !hs) return void dropped.stray++;
    if (this.host.state() === 'open') {
      // A retransmitted message 3: the initiator has not heard from us since. Answer with a
      // PING so it gets an authenticated packet (its handshake confirmation).
      dropped.stray++;
      this.host.answerFinish();
      return;
    }
    let result;
    try {
      result = hs.onMessage3(message);
    } catch (err) {
      return this.countError(err, from);
    }
    this.done(result, from);
  }

  private done(r: HandshakeResult, from: SessionPath): void {
    this.remoteCid = r.remoteCid;
    // The responder has read message 3, so both sides hold the keys; the initiator knows only
    // when an authenticated packet arrives, and until then resends message 3. The deadline
    // stays until confirmation: an initiator whose message 3 was refused (the responder saw
    // KEY_MISMATCH) fails with TIMEOUT instead of sitting 'open' forever.
    if (this.role === 'responder') this.confirm();
    this.host.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.tries = 0;
    if (!this.isConfirmed) this.armTimer();
    this.host.opened(r, from);
  }

  /**
   * A handshake message failed to read. With XX, messages 2 and 3 reveal the sender's static key,
   * but anyone who knows the introduction id can make such a message with a key of its own (the
   * initial connection id derives from it, and message 1 shows the initiator's cid in clear). So a
   * different key kills the session only on a path that vouches for its sender (the relay);
   * otherwise the message is counted and dropped, the handshake state is rebuilt for the next
   * candidate, and the real peer can still finish. If none does by the deadline, the failure says
   * KEY_MISMATCH: the peer may really hold another key than the one introduced.
   */
  private countError(err: unknown, from: SessionPath): void {
    const dropped = this.host.dropped;
    if (isPunchlineError(err, 'KEY_MISMATCH')) {
      if (from.vouched) return this.host.fail(err);
      dropped.keyMismatch++;
      if (!this.wrongKey)
        this.host.log.warn('handshake message with another static key dropped', {
          path: describePath(from.id),
        });
      this.wrongKey = err;
      return;
    }
    if (isPunchlineError(err, 'BAD_SIGNATURE')) dropped.auth++;
    else if (isPunchlineError(err, 'MALFORMED')) dropped.malformed++;
    else {
      dropped.internal++;
      this.host.log.error('session handshake failed', { error: String(err) });
    }
  }

  private wrongKeyError(): PunchlineError | undefined {
    if (!this.wrongKey) return undefined;
    const n = this.host.dropped.keyMismatch;
    return new PunchlineError(
      'KEY_MISMATCH',
      `${this.wrongKey.message}: ${n} handshake message${n > 1 ? 's' : ''} proved another key, none finished with the introduced one`,
    );
  }

  private becomeResponder(): void {
    this.role = 'responder';
    this.initiatorHs = undefined;
    this.responderHs = new ResponderHandshake(this.config);
    this.host.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.tries = 0;
  }

  private armTimer(): void {
    this.host.clock.clearTimeout(this.timer);
    const base =
      this.rttSampleMs === undefined ? this.t.handshakeRetransmitMs : ptoFromSample(this.rttSampleMs);
    const delay = Math.min(base * 2 ** this.tries, this.t.handshakeRetransmitMaxMs);
    this.timer = this.host.clock.setTimeout(() => {
      this.timer = undefined;
      const st = this.host.state();
      const waiting =
        (st === 'handshaking' && (this.role === 'initiator' || this.responderHs?.latest)) ||
        (st === 'open' && !this.isConfirmed);
      if (!waiting) return;
      this.tries++;
      this.retransmits++;
      this.resend();
      this.armTimer();
    }, delay);
  }
}
