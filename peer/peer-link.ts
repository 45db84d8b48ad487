import type { Clock, TimerHandle } from '../common/clock.js';
import { Emitter } from '../common/emitter.js';
import type { PunchlineError } from '../common/errors.js';
import type { Identity } from '../common/identity/identity.js';
import type { Logger } from '../common/log.js';
import type { Endpoint } from '../common/net/types.js';
import { type PathId, type PathKind, describePath, pathKey } from '../common/path/path-id.js';
import { Session, type SessionPath } from '../common/session/session.js';
import type { SessionStats } from '../common/session/stats.js';
import type { TimerCoalescer } from '../common/session/timer-coalescer.js';
import { toHex } from '../common/wire/bytes.js';
import type { Introduce } from '../common/wire/messages.js';
import type { AppMessage } from './app-message.js';
import type { BulkSink } from './bulk-intake.js';
import { BulkLane } from './bulk-lane.js';
import { IncomingMessages, type MessageStore, STORE_RETRY_MS } from './incoming-messages.js';
import { OutboundMessages } from './outbound-messages.js';
import type { PunchResult } from './puncher.js';
import {
  DIRECT_TRUST_MS,
  type IntroVerdict,
  KEY_RULE_FALLBACK_MS,
  considerIntro,
  type PathMode,
  type RelayPort,
  relaySessionPath,
  UPGRADE_GRACE_MS,
} from './link-policy.js';

export { DIRECT_TRUST_MS, UPGRADE_GRACE_MS };
export type { IntroVerdict, PathKind, PathMode, RelayPort };

export { STORE_RETRY_MS } from './incoming-messages.js';

export interface LinkEvents extends Record<string, unknown> {
  open: { ms: number; path: string | undefined };
  /** The session now rides another path (upgrade to direct, fallback to relay, NAT rebinding). */
  pathChanged: PathId;
  message: AppMessage;
  delivered: { id: string };
  /** The peer is gone: nothing heard on any path. Once per session until it is heard again. */
  dead: { silentMs: number };
  /** Heard again after 'dead' was reported (afterDead) or after a silence the relay bridged. */
  alive: { afterDead: boolean };
  closed: { reason: string; error?: PunchlineError };
}

export interface LinkComponents {
  identity: Identity;
  clock: Clock;
  logger: Logger;
  randomBytes: (n: number) => Uint8Array;
  /** The node's shared heartbeat timer, handed to every session (common/session/timer-coalescer.ts). */
  heartbeats?: TimerCoalescer;
  /** Route session packets with these connection ids (hex) to this link, or stop routing them. */
  route: (cids: string[], link: PeerLink | undefined) => void;
  /**
   * May messages be handed to a session made for this introduction, addressed by this name? Asked
   * before the first message goes into each session (and again after release()); until it says
   * yes, messages wait in the link. The chat layer checks the keys against its pins here
   * (peer/chat/service.ts); without it every introduction is accepted.
   */
  mayHandOver?: (peer: { name: string; intro: Introduce }) => boolean;
  /**
   * The application's store, if it has one: an incoming message is acknowledged (RECEIPT, the
   * sender's "delivered") only once this resolves. A rejection keeps the message unacknowledged:
   * it is offered again every `retryMs` while the session lasts, and a new session gets it anew
   * from the sender. Without it, the receipt goes when the message is emitted.
   */
  accept?: () => ((link: PeerLink, m: AppMessage) => Promise<void>) | undefined;
  /** How long after a rejected store to offer the message again (default STORE_RETRY_MS). */
  retryMs?: number;
  /** The application's consumer of bulk records (peer/bulk-intake.ts), if it has one. */
  bulkSink?: () => BulkSink | undefined;
  /** The application's taker of control records (peer/control-record.ts). */
  control?: (data: Uint8Array) => void;
}

/**
 * Everything punchline keeps about one other peer: its session (the encrypted, reliable
 * channel), the messages not yet confirmed by a receipt, and the ids already received.
 *
 * Each introduction makes a fresh session on both sides (prologue = introduction id), so both
 * derive the same first connection id whatever state the other side lost. Messages without a
 * receipt are handed to each new session in order; the receiver drops those it already has.
 */
export class PeerLink extends Emitter<LinkEvents> {
  readonly idHex: string;
  name: string;
  present = true;
  session: Session | undefined;
  intro: Introduce | undefined;
  private introAt = 0;
  punch: PunchResult | undefined;
  remote: Endpoint | undefined;
  private readonly outbound = new OutboundMessages();
  private readonly incoming: IncomingMessages;
  readonly bulk: BulkLane; // transfers to this peer (peer/bulk-lane.ts)
  private readonly paths = new Map<string, SessionPath>();
  /** The session (and the name it was asked under) mayHandOver cleared for messages. */
  private cleared: { session: Session; name: string } | undefined;
  readonly relayPath: SessionPath;
  private directSince = -Infinity;
  /** A session for a newer introduction the peer asked for, waiting to prove itself (candidate()). */
  private pendingIntro: { intro: Introduce; at: number; session: Session } | undefined;
  /** The relay's chance to prove a session whose direct path went silent (armRelayTrial). */
  private relayTrial: TimerHandle | undefined;
  /** The relay's round trip guessed as twice ours to the server: it times message 1's resends. */
  private relayRttMs: number | undefined;
  /** The session whose 'open' this link has emitted. */
  private announced: Session | undefined;
  /** 'dead' was emitted for the current session and nothing has been heard since. */
  private deadReported = false;

  constructor(
    readonly id: Uint8Array,
    name: string,
    private readonly c: LinkComponents,
    private readonly sendTo: (bytes: Uint8Array, to: Endpoint) => void,
    private readonly relay: RelayPort | undefined,
    private readonly mode: PathMode = 'auto',
  ) {
    super();
    this.idHex = toHex(id);
    this.name = name;
    this.incoming = new IncomingMessages({
      ...c,
      peer: this.idHex,
      retryMs: c.retryMs ?? STORE_RETRY_MS,
      current: () => this.session,
      emit: (m) => this.emit('message', m),
      onReply: (r) => this.bulk.reply(r),
    });
    this.bulk = new BulkLane(c.clock, () =>
      this.session?.state === 'open' && this.clearedFor(this.session) ? this.session : undefined,
    );
    this.relayPath = relaySessionPath(id, relay);
  }

  /** The path the session rides now. */
  get path(): PathKind | undefined {
    return this.session?.pathId?.kind;
  }

  private get canRelay(): boolean {
    return this.mode !== 'direct-only' && this.relay?.ready === true;
  }

  /**
   * Should punching run for this introduction? Not while the session is direct, unless the
   * introduction is the candidate's: the peer that asked for it no longer has our direct path (it
   * restarted on another port, or stopped hearing us), and its side punches for it now; without
   * ours, its attempt would find no one answering and the new session would ride the relay until
   * a later direct-path retry.
   */
  shouldPunch(intro: Introduce): boolean {
    return (
      this.mode !== 'relay-only' &&
      // Port 0 is the server's "no UDP binding" (the peer reached it over the stream only).
      !(intro.observed.port === 0 && intro.lan.length === 0) &&
      (this.path !== 'direct' || this.pendingIntro?.intro === intro)
    );
  }

  get open(): boolean {
    return this.session?.state === 'open' && !this.session.dead;
  }

  get pendingCount(): number {
    return this.outbound.size;
  }

  /** What an introduction means for this link (peer/link-policy.ts considerIntro). */
  consider(intro: Introduce): IntroVerdict {
    return considerIntro(intro, this.intro, this.session);
  }

  /** Start a fresh session for this introduction (closing the old one). */
  adopt(intro: Introduce): void {
    this.dropCandidate();
    this.dropSession();
    this.intro = intro;
    this.introAt = this.c.clock.now();
    this.punch = undefined;
    this.remote = undefined;
    this.session = this.spawn(intro);
    // Everything not yet confirmed goes to the new session, in the order it was sent (it
    // waits inside the session until the session has a path).
    this.outbound.reset();
    this.push();
  }

  /**
   * Start adopt()'s session. Without punching (`direct` undefined) it rides the relay, if any.
   * With punching (`direct`: the endpoints probed) message 1 races on those and on the relay,
   * and the session opens on the path that answers first (nothing waits for punching).
   */
  begin(direct: readonly Endpoint[] | undefined, serverRttMs?: number): void {
    const s = this.session;
    if (!s || s.state !== 'idle') return;
    if (!direct && !this.canRelay) return; // relayUp() starts it
    if (!direct) s.setPath(this.relayPath);
    for (const e of direct ?? []) s.offer(this.pathTo(e));
    this.relayRttMs = serverRttMs === undefined ? undefined : 2 * serverRttMs;
    if (this.canRelay) s.offer(this.relayPath, false, this.relayRttMs);
    s.start();
  }

  /** The peer's PROBE came from `from`: a handshake still racing sends message 1 there at once. */
  probeHeard(from: Endpoint): void {
    if (this.session?.state === 'handshaking') this.session.offer(this.pathTo(from), true);
  }

  /** Punching found nothing: a session still racing for its first path takes the relay. */
  directFailed(): void {
    const s = this.session;
    if (s?.state === 'handshaking' && s.pathId === undefined && this.canRelay) s.setPath(this.relayPath);
  }

  /**
   * The peer asked for this introduction while our session with it is open: it has lost that
   * session (it restarted, or its side died) and is starting another, which our open one would
   * otherwise leave waiting until it timed out. A candidate session for the new introduction
   * runs beside the open one; only when its handshake proves the introduced key does it replace
   * the open session (promote): an unauthenticated packet never ends the open session, and one
   * candidate at a time is kept. A peer whose session is open asks for an introduction only to
   * retry the direct path, and only the session's Noise initiator (the side that asked first)
   * does: the candidate this gives the other side is a responder, which sends nothing and waits
   * for a first handshake message that never comes (the asker keeps its session), until the
   * handshake deadline or the next introduction drops it. Nothing on the wire, nothing replaced.
   */
  candidate(intro: Introduce): void {
    this.dropCandidate();
    const s = this.spawn(intro, true);
    this.pendingIntro = { intro, at: this.c.clock.now(), session: s };
    if (this.canRelay) s.setPath(this.relayPath);
    s.start();
  }

  /** The candidate's handshake proved the peer: it becomes the session; the old one is closed. */
  private promote(s: Session): void {
    const cand = this.pendingIntro;
    if (!cand || cand.session !== s) return;
    this.pendingIntro = undefined;
    this.dropSession(); // closes the old session; its close event is no longer this link's
    this.session = s;
    this.intro = cand.intro;
    this.introAt = cand.at;
    this.punch = undefined;
    const id = s.pathId;
    this.remote = id?.kind === 'direct' ? id.remote : undefined;
    this.outbound.reset();
    this.push();
  }

  private dropCandidate(): void {
    const cand = this.pendingIntro;
    if (!cand) return;
    this.pendingIntro = undefined;
    this.c.route(cand.session.routingIds(), undefined);
    cand.session.close();
  }

  /** A session for `intro`, wired to this link; a candidate's events count only once promoted. */
  private spawn(intro: Introduce, asCandidate = false): Session {
    const accept = this.c.accept?.();
    const store: MessageStore | undefined = accept && ((m) => accept(this, m));
    const s = new Session(
      {
        ...(store ? { releaseByOwner: true } : {}),
        staticKey: { publicKey: this.c.identity.dhPublic, privateKey: this.c.identity.dhPrivate },
        expectedRemoteStatic: intro.dhKey,
        prologue: intro.introId,
        // The asking side initiates (a crossing pair both asked: the lower key wins): its first
        // message reaches the peer 1.5 round trips after the introduction (docs/nat-traversal.md).
        initiator: intro.initiator,
        ...(asCandidate ? {} : { keyRuleFallbackMs: KEY_RULE_FALLBACK_MS }), // link-policy.ts
        ...(this.mode !== 'direct-only' && this.relay ? { deadAfterMs: DIRECT_TRUST_MS } : {}),
      },
      {
        clock: this.c.clock,
        randomBytes: this.c.randomBytes,
        logger: this.c.logger,
        ...(this.c.heartbeats ? { heartbeats: this.c.heartbeats } : {}),
      },
    );
    const mine = (): boolean => this.session === s;
    s.on('open', (e) => {
      if (asCandidate) this.promote(s);
      if (!mine()) return;
      this.announced = s;
      const path = e.path && describePath(e.path);
      this.emit('open', { ms: Math.round(this.c.clock.now() - this.introAt), path });
    });
    s.on('message', (e) => {
      if (mine()) this.incoming.receive(s, e.id, e.data, store);
    });
    s.on('delivered', (e) => {
      const id = mine() ? this.outbound.delivered(e.id) : undefined;
      if (id !== undefined) this.emit('delivered', { id });
    });
    s.on('writable', () => {
      if (mine()) this.push();
    });
    s.on('dead', (e) => {
      if (mine()) this.onDead(s, e.silentMs);
    });
    s.on('alive', () => {
      if (!mine()) return;
      this.c.clock.clearTimeout(this.relayTrial);
      this.relayTrial = undefined;
      const afterDead = this.deadReported;
      this.deadReported = false;
      this.emit('alive', { afterDead });
    });
    s.on('path', (e) => {
      if (!mine()) return;
      if (e.id.kind === 'direct') {
        this.directSince = this.c.clock.now();
        this.remote = e.id.remote;
      }
      // The path a racing handshake opened on: 'open' tells it, this is no change of path.
      if (e.via === 'adopted' && this.announced !== s) return;
      this.emit('pathChanged', e.id);
    });
    s.on('closed', (e) => {
      if (this.pendingIntro?.session === s) {
        // A candidate that failed (timed out, or another key): the open session goes on.
        this.pendingIntro = undefined;
        this.c.route(s.routingIds(), undefined);
        this.c.logger.info('candidate session for a newer introduction failed', {
          peer: this.idHex,
          reason: e.reason,
        });
        return;
      }
      if (mine()) {
        this.c.route(s.routingIds(), undefined);
        this.emit('closed', { reason: e.reason, ...(e.error ? { error: e.error } : {}) });
      }
    });
    this.c.route(s.routingIds(), this);
    return s;
  }

  /**
   * The session heard nothing for its dead timeout. A silent direct path with the relay at hand:
   * move to the relay, keep the session, and give the relay DIRECT_TRUST_MS to carry an answer
   * before the peer is reported gone.
   */
  private onDead(s: Session, silentMs: number): void {
    if (this.path === 'direct' && this.canRelay) {
      this.c.logger.info('direct path silent, falling back to the relay', { peer: this.idHex, silentMs });
      s.setPath(this.relayPath);
      this.armRelayTrial(s, silentMs);
      return;
    }
    this.reportDead(s, silentMs);
  }

  private dropSession(): void {
    this.c.clock.clearTimeout(this.relayTrial);
    this.relayTrial = undefined;
    this.deadReported = false;
    const old = this.session;
    if (!old) return;
    this.session = undefined;
    this.c.route(old.routingIds(), undefined);
    old.close();
    this.incoming.sessionDropped();
    this.bulk.sessionEnded(old);
  }

  /** The path for datagrams to/from `e` (one object per endpoint, kept by pathKey). */
  pathTo(e: Endpoint): SessionPath {
    const id: PathId = { kind: 'direct', remote: e };
    const key = pathKey(id);
    let p = this.paths.get(key);
    if (!p) {
      if (this.paths.size >= 16) this.paths.clear(); // a hostile sender must not grow this
      p = { id, send: (b) => this.sendTo(b, e) };
      this.paths.set(key, p);
    }
    return p;
  }

  /** Punching found a direct path: the session moves to it (or starts on it). */
  useDirect(result: PunchResult): void {
    this.punch = result;
    this.remote = result.remote;
    const cand = this.pendingIntro?.session;
    if (cand && cand.state !== 'closed') cand.setPath(this.pathTo(result.remote));
    if (!this.session || this.session.state === 'closed') return;
    this.directSince = this.c.clock.now();
    this.session.setPath(this.pathTo(result.remote), result.rttMs);
    this.session.start();
  }

  /**
   * The relay came up: a session with no path (or a dead one) rides it now. A peer already
   * reported gone stays gone until it is heard (no path events for it meanwhile).
   */
  relayUp(): void {
    const s = this.session;
    if (!s || s.state === 'closed' || !this.canRelay || this.deadReported) return;
    // A handshake racing for its first path (begin()) races on the relay too.
    if (s.state === 'handshaking' && s.pathId === undefined)
      return s.offer(this.relayPath, false, this.relayRttMs);
    if (s.pathId === undefined || s.dead) {
      const wasDead = s.dead;
      s.setPath(this.relayPath);
      s.start();
      if (wasDead) this.armRelayTrial(s, 0);
    }
  }

  /** Has this session's peer been reported gone ('dead'), and not been heard since? */
  get reportedDead(): boolean {
    return this.deadReported;
  }

  /** A dead session moved to the relay: if the relay brings nothing within DIRECT_TRUST_MS either, the peer is gone. */
  private armRelayTrial(s: Session, silentMs: number): void {
    this.c.clock.clearTimeout(this.relayTrial);
    this.relayTrial = this.c.clock.setTimeout(() => {
      this.relayTrial = undefined;
      if (this.session === s && s.state === 'open' && s.dead) this.reportDead(s, silentMs + DIRECT_TRUST_MS);
    }, DIRECT_TRUST_MS);
  }

  private reportDead(s: Session, silentMs: number): void {
    if (this.session !== s || this.deadReported) return;
    this.deadReported = true;
    this.emit('dead', { silentMs });
  }

  /**
   * A session packet for this link. Path policy lives here, not in the session. Just after this
   * side moved to a direct path (UPGRADE_GRACE_MS), a packet that came through the relay is
   * taken as if on the current path: the other side has not upgraded yet, and following it back
   * would make both flap. After that, it goes to the session as it is: the other side fell back
   * because it no longer hears us directly, and the session's path challenge follows it. A packet
   * arriving direct while on the relay likewise upgrades the session.
   */
  receive(datagram: Uint8Array, from: SessionPath, cid?: string): void {
    const cand = this.pendingIntro?.session;
    if (cand && cid !== undefined && cand.routingIds().includes(cid)) {
      cand.receive(datagram, from);
      return;
    }
    const s = this.session;
    if (!s) return;
    const upgrading = this.c.clock.now() - this.directSince < UPGRADE_GRACE_MS;
    if (from === this.relayPath && this.path === 'direct' && !s.dead && upgrading) {
      const current = this.remote ? this.pathTo(this.remote) : from;
      s.receive(datagram, current);
      return;
    }
    s.receive(datagram, from);
  }

  /** Queue a message until its receipt comes back (across sessions). */
  send(msg: AppMessage): void {
    if (this.outbound.add(msg)) this.push();
  }

  /** Ask mayHandOver again (the user trusted the key): messages it held go to the session now. */
  release(): void {
    this.push();
  }

  /** Has this session's introduction been cleared for messages to this link's name? */
  private clearedFor(s: Session): boolean {
    if (this.cleared?.session === s && this.cleared.name === this.name) return true;
    if (!this.intro) return false;
    if (this.c.mayHandOver && !this.c.mayHandOver({ name: this.name, intro: this.intro })) return false;
    this.cleared = { session: s, name: this.name };
    return true;
  }

  private push(): void {
    const s = this.session;
    if (!s || s.state === 'closed' || this.outbound.size === 0) return;
    if (!this.clearedFor(s)) return; // held: the keys are not (yet) the pinned ones
    this.outbound.pushTo(s);
  }

  stats(): SessionStats | undefined {
    return this.session?.stats();
  }

  close(): void {
    this.bulk.close();
    this.dropCandidate();
    this.dropSession();
    this.incoming.close();
  }
}
