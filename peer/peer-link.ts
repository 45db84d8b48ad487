import type { Clock } from '../common/clock.js';
import { Emitter } from '../common/emitter.js';
import type { PunchlineError } from '../common/errors.js';
import type { Identity } from '../common/identity.js';
import type { Logger } from '../common/log.js';
import type { Endpoint } from '../common/net/types.js';
import { endpointKey } from '../common/net/types.js';
import { Session } from '../common/session/session.js';
import type { SessionPath } from '../common/session/session.js';
import type { SessionStats } from '../common/session/stats.js';
import { toHex } from '../common/wire/bytes.js';
import type { Introduce } from '../common/wire/messages.js';
import { decodeApp, encodeApp } from './app-message.js';
import type { AppMessage } from './app-message.js';
import type { PunchResult } from './puncher.js';

/**
 * Two introductions that cross (both sides reconnect at once) must end in the same session on
 * both sides: within this window of the current one, the lower introduction id wins; after it,
 * a new introduction always replaces the session (the other side restarted or lost it).
 */
export const INTRO_CONVERGE_MS = 30_000;
/** Incoming message ids remembered per peer for dropping resends (a restart forgets them; the chat history does not). */
export const SEEN_IDS = 10_000;

export interface LinkEvents extends Record<string, unknown> {
  open: { ms: number; path: string | undefined };
  message: AppMessage;
  delivered: { id: string };
  dead: { silentMs: number };
  alive: Record<string, never>;
  path: { label: string };
  closed: { reason: string; error?: PunchlineError };
}

export interface LinkComponents {
  identity: Identity;
  clock: Clock;
  logger: Logger;
  randomBytes: (n: number) => Uint8Array;
  /** Route session packets with these connection ids (hex) to this link, or stop routing them. */
  route: (cids: string[], link: PeerLink | undefined) => void;
}

interface Pending {
  msg: AppMessage;
  sid: number | undefined; // session message id once handed to the current session
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
  introAt = 0;
  punch: PunchResult | undefined;
  remote: Endpoint | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly bySid = new Map<number, string>();
  private readonly seen = new Set<string>();
  private readonly paths = new Map<string, SessionPath>();

  constructor(
    readonly id: Uint8Array,
    name: string,
    private readonly c: LinkComponents,
    private readonly sendTo: (bytes: Uint8Array, to: Endpoint) => void,
  ) {
    super();
    this.idHex = toHex(id);
    this.name = name;
  }

  get open(): boolean {
    return this.session?.state === 'open' && !this.session.dead;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Should this introduction replace the current session?
   * - none, closed or dead: yes (this is the reconnect);
   * - still handshaking: only a lower introduction id, so two introductions that cross (both
   *   sides reconnecting at once) end in the same session on both sides;
   * - open and healthy: only one that comes INTRO_CONVERGE_MS after its own (the other side
   *   restarted or lost its session); an earlier one is the loser of a crossing.
   */
  accepts(intro: Introduce): boolean {
    const s = this.session;
    if (!this.intro || !s || s.state === 'closed' || s.dead) return true;
    if (toHex(intro.introId) === toHex(this.intro.introId)) return false;
    if (s.state === 'open') return this.c.clock.now() - this.introAt > INTRO_CONVERGE_MS;
    return Buffer.compare(intro.introId, this.intro.introId) < 0;
  }

  /** Start a fresh session for this introduction (closing the old one). */
  adopt(intro: Introduce): void {
    this.dropSession();
    this.intro = intro;
    this.introAt = this.c.clock.now();
    this.punch = undefined;
    this.remote = undefined;
    const s = new Session(
      {
        staticKey: { publicKey: this.c.identity.dhPublic, privateKey: this.c.identity.dhPrivate },
        expectedRemoteStatic: intro.dhKey,
        prologue: intro.introId,
      },
      { clock: this.c.clock, randomBytes: this.c.randomBytes, logger: this.c.logger },
    );
    this.session = s;
    s.on('open', (e) =>
      this.emit('open', { ms: Math.round(this.c.clock.now() - this.introAt), path: e.path }),
    );
    s.on('message', (e) => this.onMessage(e.data));
    s.on('delivered', (e) => this.onDelivered(e.id));
    s.on('writable', () => this.push());
    s.on('dead', (e) => this.emit('dead', { silentMs: e.silentMs }));
    s.on('alive', () => this.emit('alive', {}));
    s.on('path', (e) => {
      this.remote = endpointOfLabel(e.label) ?? this.remote;
      this.emit('path', { label: e.label });
    });
    s.on('closed', (e) => {
      if (this.session === s) {
        this.c.route(s.routingIds(), undefined);
        this.emit('closed', { reason: e.reason, ...(e.error ? { error: e.error } : {}) });
      }
    });
    this.c.route(s.routingIds(), this);
    // Everything not yet confirmed goes to the new session, in the order it was sent.
    this.bySid.clear();
    for (const p of this.pending.values()) p.sid = undefined;
    this.push();
  }

  private dropSession(): void {
    const old = this.session;
    if (!old) return;
    this.session = undefined;
    this.c.route(old.routingIds(), undefined);
    old.close();
  }

  /** The path for datagrams to/from `e` (one object per endpoint, so the session can compare labels). */
  pathTo(e: Endpoint): SessionPath {
    const label = `direct ${endpointKey(e)}`;
    let p = this.paths.get(label);
    if (!p) {
      if (this.paths.size >= 16) this.paths.clear(); // a hostile sender must not grow this
      p = { label, send: (b) => this.sendTo(b, e) };
      this.paths.set(label, p);
    }
    return p;
  }

  /** Punching found a direct path: the session runs on it. */
  useDirect(result: PunchResult): void {
    this.punch = result;
    this.remote = result.remote;
    if (!this.session) return;
    this.session.setPath(this.pathTo(result.remote));
    this.session.start();
  }

  /** Queue a message until its receipt comes back (across sessions). */
  send(msg: AppMessage): void {
    if (this.pending.has(msg.id)) return;
    this.pending.set(msg.id, { msg, sid: undefined });
    this.push();
  }

  private push(): void {
    const s = this.session;
    if (!s || s.state === 'closed') return;
    for (const p of this.pending.values()) {
      if (p.sid !== undefined) continue;
      const sid = s.send(encodeApp(p.msg));
      if (sid === false) return; // the send buffer is full: 'writable' calls push() again
      p.sid = sid;
      this.bySid.set(sid, p.msg.id);
    }
  }

  private onMessage(data: Uint8Array): void {
    let m: AppMessage;
    try {
      m = decodeApp(data);
    } catch (e) {
      this.c.logger.warn('dropped a malformed message', { peer: this.idHex, error: String(e) });
      return;
    }
    if (this.seen.has(m.id)) return; // a resend after a reconnect: shown once
    this.seen.add(m.id);
    if (this.seen.size > SEEN_IDS) this.seen.delete(this.seen.values().next().value!);
    this.emit('message', m);
  }

  private onDelivered(sid: number): void {
    const id = this.bySid.get(sid);
    if (id === undefined) return;
    this.bySid.delete(sid);
    if (this.pending.delete(id)) this.emit('delivered', { id });
  }

  stats(): SessionStats | undefined {
    return this.session?.stats();
  }

  close(): void {
    this.dropSession();
  }
}

/** 'direct 1.2.3.4:5' -> the endpoint. */
export function endpointOfLabel(label: string): Endpoint | undefined {
  const m = /^direct (\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(label);
  return m ? { address: m[1]!, port: Number(m[2]) } : undefined;
}
