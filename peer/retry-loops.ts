import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { backoffDelay, unitDraw } from '../common/path/backoff.js';
import type { Introduce } from '../common/wire/messages.js';
import type { PathMode } from './peer-link.js';
import type { PeerEntry } from './peer-table.js';

/**
 * After a session is declared dead the peer is introduced again: 1 s, then doubling to 30 s
 * with jitter, so two peers that lost each other do not hammer the server in step.
 */
export const RECONNECT_BACKOFF = { initialMs: 1_000, maxMs: 30_000, factor: 2, jitter: 0.2 };

/**
 * While on the relay, the session initiator asks for a new introduction to retry the direct
 * path: 5 s, doubling to 60 s (Tailscale retries the upgrade every 60 s), and at once after
 * our public endpoint changes (a network change).
 */
export const DIRECT_RETRY = { initialMs: 5_000, maxMs: 60_000, factor: 2, jitter: 0.2 };

/**
 * The first retry after an attempt made before both peers had measured their NAT's port
 * behaviour (peer/nat-probe.ts gives up after 1.5 s): by then they have, and the introduction
 * tells whether a port search can find what plain punching could not.
 */
export const UNINFORMED_RETRY_MS = 2_000;

/**
 * After a move to another rendezvous server (peer/server-failover.ts), a relayed session's
 * initiator asks the new server to introduce the pair (its relay forwards only between
 * introduced peers): 1 s doubling to 8 s, at most MOVED_TRIES times (~63 s, time enough for the
 * other peer to move too, peer/server-failover.ts FAILOVER_MS); a session that went away
 * meanwhile is reconnected by the loops above.
 */
export const MOVED_BACKOFF = { initialMs: 1_000, maxMs: 8_000, factor: 2, jitter: 0.2 };
export const MOVED_TRIES = 10;

export interface RetryLoopsComponents {
  clock: Clock;
  logger: Logger;
  randomBytes: (n: number) => Uint8Array;
  mode: PathMode;
  /** Connect to this peer again (introduction, punching, session). */
  connect: (e: PeerEntry) => Promise<void>;
  /** Is the UDP rendezvous registered (punching needs it)? */
  udpRegistered: () => boolean;
  /** Ask the server over UDP to introduce us to this peer again. */
  reintroduce: (e: PeerEntry) => Promise<Introduce>;
  /** Ask the server in use (over UDP or the relay stream) to introduce us to this peer. */
  introduce: (e: PeerEntry) => Promise<Introduce>;
  /** Punch for an introduction. */
  punch: (intro: Introduce) => Promise<void>;
  entries: () => Iterable<PeerEntry>;
}

/**
 * The node's two backoff loops, per peer: reconnecting to a peer that has messages waiting
 * (RECONNECT_BACKOFF), and, while a session rides the relay, retrying the direct path
 * (DIRECT_RETRY). Their timers and try counts live in the peer's entry.
 */
export class RetryLoops {
  private closed = false;
  /** Relayed sessions being introduced at the server we moved to (serverMoved). */
  private readonly moving = new Map<PeerEntry, TimerHandle>();

  constructor(private readonly c: RetryLoopsComponents) {}

  /**
   * We registered at another server: each relayed session we initiated is introduced there, so
   * its relay path goes on through the new server (the same session: an introduction for an
   * open session only punches, peer/link-policy.ts considerIntro). Direct sessions need nothing.
   */
  serverMoved(): void {
    for (const e of this.c.entries()) {
      const l = e.link;
      if (this.moving.has(e) || !l.open || l.path !== 'relay' || !l.session?.isInitiator) continue;
      this.introduceMoved(e, 0);
    }
  }

  private introduceMoved(e: PeerEntry, tries: number): void {
    this.moving.delete(e);
    const l = e.link;
    if (this.closed || !l.open || l.path !== 'relay' || tries >= MOVED_TRIES) return;
    this.c.logger.info('introducing a relayed session at the new server', { peer: l.name, attempt: tries });
    this.c
      .introduce(e)
      .then((intro) => this.c.punch(intro))
      .catch(() => {
        if (this.closed) return;
        const delay = backoffDelay(tries, MOVED_BACKOFF, unitDraw(this.c.randomBytes));
        this.moving.set(
          e,
          this.c.clock.setTimeout(() => this.introduceMoved(e, tries + 1), delay),
        );
      });
  }

  /** Connect to this peer again on the backoff, unless its session opens or it leaves meanwhile. */
  scheduleReconnect(e: PeerEntry): void {
    if (this.closed || e.reconnectTimer) return;
    const delay = backoffDelay(e.reconnectTries++, RECONNECT_BACKOFF, unitDraw(this.c.randomBytes));
    e.reconnectTimer = this.c.clock.setTimeout(() => {
      e.reconnectTimer = undefined;
      if (this.closed || e.link.open || !e.link.present) return; // presence brings it back later
      this.c.logger.info('reconnecting', { peer: e.link.name, attempt: e.reconnectTries });
      this.c.connect(e).catch(() => {});
    }, delay);
  }

  /** The peer's session is open (again): the reconnect loop starts over. */
  connected(e: PeerEntry): void {
    e.reconnectTries = 0;
    this.c.clock.clearTimeout(e.reconnectTimer);
    e.reconnectTimer = undefined;
  }

  /**
   * While a session rides the relay, retry the direct path on a backoff. Only the session
   * initiator asks (a fresh introduction makes both sides punch at once), so the two peers do
   * not send crossing introductions every time.
   */
  scheduleDirect(e: PeerEntry): void {
    const l = e.link;
    if (this.closed || e.directTimer || this.c.mode !== 'auto' || !l.session?.isInitiator) return;
    const backoff = backoffDelay(e.directTries++, DIRECT_RETRY, unitDraw(this.c.randomBytes));
    const delay = e.uninformed ? Math.min(backoff, UNINFORMED_RETRY_MS) : backoff;
    e.uninformed = false;
    e.directTimer = this.c.clock.setTimeout(() => {
      e.directTimer = undefined;
      this.retryDirect(e);
    }, delay);
  }

  /** The session found a direct path: the direct-path loop stops and starts over next time. */
  directFound(e: PeerEntry): void {
    this.c.clock.clearTimeout(e.directTimer);
    e.directTimer = undefined;
    e.directTries = 0;
  }

  /** Our public endpoint changed (a new network): every relayed session tries direct at once. */
  retryDirectNow(): void {
    for (const e of this.c.entries()) {
      if (e.link.path !== 'relay' || !e.link.session?.isInitiator) continue;
      this.directFound(e);
      this.retryDirect(e);
    }
  }

  private retryDirect(e: PeerEntry): void {
    const l = e.link;
    if (this.closed || !l.open || l.path !== 'relay' || !l.present) return;
    if (!this.c.udpRegistered()) {
      this.scheduleDirect(e); // no UDP right now: try again later
      return;
    }
    this.c.logger.info('retrying the direct path', { peer: l.name, attempt: e.directTries });
    this.c
      .reintroduce(e)
      .then((intro) => this.c.punch(intro))
      .catch(() => this.scheduleDirect(e));
  }

  /** Stop both loops for every peer; idempotent. */
  close(): void {
    this.closed = true;
    for (const t of this.moving.values()) this.c.clock.clearTimeout(t);
    this.moving.clear();
    for (const e of this.c.entries()) {
      this.c.clock.clearTimeout(e.reconnectTimer);
      this.c.clock.clearTimeout(e.directTimer);
    }
  }
}
