import type { Clock, TimerHandle } from '../common/clock.js';
import { Emitter } from '../common/emitter.js';
import { PunchlineError, isPunchlineError } from '../common/errors.js';
import { dh, keyPairFromPrivate } from '../common/crypto/x25519.js';
import type { KeyPair } from '../common/crypto/x25519.js';
import { idText, peerIdOf } from '../common/identity/identity.js';
import type { Identity } from '../common/identity/identity.js';
import type { Logger } from '../common/log.js';
import type { PortBehaviour } from '../common/nat-behaviour.js';
import { backoffDelay, REQUEST_BACKOFF, unitDraw } from '../common/path/backoff.js';
import type { Endpoint } from '../common/net/types.js';
import { endpointKey, sameEndpoint } from '../common/net/types.js';
import { equalBytes, toHex } from '../common/wire/bytes.js';
import { MsgType, WireError } from '../common/wire/constants.js';
import { errorCodeOfWire } from '../common/wire/errors-map.js';
import { AUTHENTICATED_TYPES, encode, registerSigningBytes } from '../common/wire/messages.js';
import type { ErrorMsg, Introduce, Member, Message } from '../common/wire/messages.js';
import { AuthChannel, deriveServerAuthKeys, isUnsealed } from '../common/wire/server-auth.js';
import type { AuthTransport } from '../common/wire/server-auth.js';
import { PresenceAssembly } from './presence-assembly.js';
import { Requests } from './requests.js';
import type { ServerKeyPin } from './server-pin.js';

export interface RendezvousClientOptions {
  server: Endpoint;
  room: string;
  name: string;
  lan: Endpoint[];
  /**
   * Upper bound on the keepalive interval; the server's suggestion wins when smaller. 0: no
   * keepalives (over a stream, whose own ping/pong keeps the registration alive).
   */
  keepaliveMs: number;
  /** The transport this client speaks over (its registration keys are bound to it). */
  transport: AuthTransport;
}

export type ServerState = 'connecting' | 'registered' | 'lost';

export interface RendezvousClientEvents extends Record<string, unknown> {
  registered: { id: Uint8Array; observed: Endpoint };
  observed: { observed: Endpoint; previous: Endpoint };
  presence: { members: Member[]; version: number };
  introduce: Introduce;
  state: ServerState;
  error: PunchlineError;
  /** The server is draining (an authentic GOING_AWAY): register elsewhere. */
  'going-away': { withinMs: number };
}

export interface RendezvousClientComponents {
  identity: Identity;
  clock: Clock;
  logger: Logger;
  send: (bytes: Uint8Array, to: Endpoint) => void;
  randomBytes: (n: number) => Uint8Array;
  /** The server's pinned key, shared by every client of one server (UDP and the relay stream). */
  serverPin: ServerKeyPin;
}

/** What the client dropped from the server's address, by reason (forged or stale messages). */
export interface RendezvousClientStats {
  /** An authenticated type whose MAC did not verify under the current registration (or a replay). */
  bad_mac: number;
  /** An introduction whose keys do not hash to the id it introduces (a lying or broken server). */
  bad_intro_keys: number;
  /** An ERROR with no MAC that answered no request it may answer. */
  unauthenticated: number;
  /** An authentic message seen before (outside or already in the replay window). */
  replayed: number;
  /** PRESENCE_DELTAs that did not follow on from our list (one was lost): each asks for the full list. */
  presence_gaps: number;
  /** Full lists asked for (a KEEPALIVE sent at once with our stale version). */
  presence_resyncs: number;
}

/** All counters at zero: a new client's, and the start of PeerNode.serverDrops's sum. */
export const emptyClientStats = (): RendezvousClientStats => ({
  bad_mac: 0,
  bad_intro_keys: 0,
  unauthenticated: 0,
  replayed: 0,
  presence_gaps: 0,
  presence_resyncs: 0,
});

/**
 * The peer's side of the rendezvous protocol over its one UDP socket: HELLO/COOKIE/REGISTER,
 * keepalives that hold the NAT mapping open, presence assembly, CONNECT and introductions.
 * It never gives up on the server: after a loss it re-registers on a capped backoff.
 */
export class RendezvousClient extends Emitter<RendezvousClientEvents> {
  private readonly requests: Requests;
  private keepaliveTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private keepaliveMs: number;
  private registering = false;
  private closed = false;
  private failures = 0;
  private readonly presence: PresenceAssembly;
  private readonly seenIntros = new Map<string, number>();
  /** Our X25519 static key as a key pair, for the DH with the server's key. */
  private readonly dhPair: KeyPair;
  /** The channel of the registration in force, and of the one being made. */
  private auth: AuthChannel | undefined;
  private pendingAuth: AuthChannel | undefined;
  /** Txids an unsealed ERROR may answer: HELLO and REGISTER (no key yet), and, with NOT_REGISTERED only, the rest. */
  private readonly preKey = new Set<string>();
  private readonly unsealedErrors = new WeakSet<Message>();
  private lastRegisterTime = 0;
  readonly stats: RendezvousClientStats = emptyClientStats();
  state: ServerState = 'connecting';
  observed: Endpoint | undefined;
  /** How our NAT allocates ports, as peer/nat-probe.ts last measured it (tellNat). */
  nat: PortBehaviour = { kind: 'unknown' };
  /** The round trip to the server measured by the last answered request (ms), if any. */
  get rttMs(): number | undefined {
    return this.requests.lastRttMs;
  }

  constructor(
    private readonly opts: RendezvousClientOptions,
    private readonly c: RendezvousClientComponents,
  ) {
    super();
    this.keepaliveMs = opts.keepaliveMs;
    this.requests = new Requests(c.clock, (b) => c.send(b, opts.server), c.randomBytes);
    this.dhPair = keyPairFromPrivate(c.identity.dhPrivate);
    this.presence = new PresenceAssembly({
      clock: c.clock,
      stats: this.stats,
      changed: (members, version) => this.emit('presence', { members, version }),
      mayAsk: () => this.registeredId !== undefined && !this.closed,
      askFullList: () => void this.keepalive(),
    });
  }

  /** The room's members as the last complete presence list (or delta) told them. */
  get members(): Member[] {
    return this.presence.members;
  }

  /** A request whose answer may be an unsealed ERROR (the server has no key for us yet). */
  private preKeyRequest(txid: Uint8Array, bytes: Uint8Array, what: string): Promise<Message> {
    const key = toHex(txid);
    this.preKey.add(key);
    return this.requests.request(txid, bytes, what).finally(() => this.preKey.delete(key));
  }

  /** An ERROR from the server as a PunchlineError; an unsealed one is marked as only a hint. */
  private errorOf(reply: ErrorMsg): PunchlineError {
    const unsealed = this.unsealedErrors.has(reply);
    return new PunchlineError(
      errorCodeOfWire(reply.code),
      unsealed ? `${reply.message} (unauthenticated answer; retrying)` : reply.message,
    );
  }

  start(): void {
    void this.register();
  }

  private txid(): Uint8Array {
    return this.requests.txid();
  }

  private setState(s: ServerState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  /** HELLO -> COOKIE -> REGISTER -> REGISTERED; on failure, retry on a capped backoff. */
  async register(): Promise<void> {
    if (this.registering || this.closed) return;
    this.registering = true;
    this.c.clock.clearTimeout(this.keepaliveTimer);
    let unsealedError = false;
    try {
      const { cookie, shared } = await this.hello();
      this.presence.newEpoch();
      const txid = this.txid();
      // Strictly increasing, so the server can tell our newest registration from a replayed one.
      this.lastRegisterTime = Math.max(Math.floor(this.c.clock.wallNow()), this.lastRegisterTime + 1);
      const body = {
        txid,
        cookie,
        time: this.lastRegisterTime,
        room: this.opts.room,
        name: this.opts.name,
        signKey: this.c.identity.signPublic,
        dhKey: this.c.identity.dhPublic,
        lan: this.opts.lan,
      };
      const bytes = encode({
        type: MsgType.REGISTER,
        ...body,
        signature: this.c.identity.sign(registerSigningBytes(body)),
      });
      this.pendingAuth = new AuthChannel(
        deriveServerAuthKeys(shared, this.opts.transport, txid, cookie, 'peer'),
      );
      const reply = await this.preKeyRequest(txid, bytes, 'register');
      const pending = this.pendingAuth;
      this.pendingAuth = undefined;
      if (reply.type === MsgType.ERROR) {
        unsealedError = this.unsealedErrors.has(reply);
        throw this.errorOf(reply);
      }
      if (reply.type !== MsgType.REGISTERED) throw new PunchlineError('MALFORMED', 'expected REGISTERED');
      this.auth = pending;
      this.failures = 0;
      this.keepaliveMs = Math.min(this.opts.keepaliveMs, reply.keepaliveMs);
      this.noteObserved(reply.observed);
      this.setState('registered');
      this.emit('registered', { id: reply.id, observed: reply.observed });
      this.scheduleKeepalive();
    } catch (e) {
      if (this.closed) return;
      this.registerFailed(e, unsealedError);
    } finally {
      this.registering = false;
    }
  }

  /** HELLO -> COOKIE: the cookie, and the secret shared with the server's (now pinned) key. */
  private async hello(): Promise<{ cookie: Uint8Array; shared: Uint8Array }> {
    const hello = this.txid();
    const cookieMsg = await this.preKeyRequest(hello, encode({ type: MsgType.HELLO, txid: hello }), 'hello');
    if (cookieMsg.type !== MsgType.COOKIE) throw new PunchlineError('MALFORMED', 'expected COOKIE');
    // The server's key: the pinned one, or pinned now (throws SERVER_KEY_CHANGED).
    this.c.serverPin.check(cookieMsg.serverKey);
    try {
      return { cookie: cookieMsg.cookie, shared: dh(this.dhPair, cookieMsg.serverKey) };
    } catch {
      throw new PunchlineError('MALFORMED', 'the server key is not a usable X25519 key');
    }
  }

  /** Say why registering failed; retry on a capped backoff unless only the user can fix it. */
  private registerFailed(e: unknown, unsealedError: boolean): void {
    this.pendingAuth = undefined;
    const err = isPunchlineError(e) ? e : new PunchlineError('INTERNAL', String(e));
    this.emit('error', err);
    // Only the server's authenticated word is final (an unsealed error may be forged: retry).
    const final =
      err.code === 'SERVER_KEY_CHANGED' ||
      (!unsealedError && (err.code === 'NAME_TAKEN' || err.code === 'ROOM_FULL' || err.code === 'BAD_NAME'));
    this.setState('lost');
    if (final) return; // retrying cannot help; the user must change something
    const delay = backoffDelay(
      this.failures++,
      { ...REQUEST_BACKOFF, initialMs: 1_000, maxMs: 30_000 },
      unitDraw(this.c.randomBytes),
    );
    this.retryTimer = this.c.clock.setTimeout(() => void this.register(), delay);
  }

  private noteObserved(o: Endpoint): void {
    const prev = this.observed;
    this.observed = o;
    if (prev && !sameEndpoint(prev, o)) this.emit('observed', { observed: o, previous: prev });
  }

  private scheduleKeepalive(): void {
    this.c.clock.clearTimeout(this.keepaliveTimer);
    if (this.opts.keepaliveMs === 0) return;
    this.keepaliveTimer = this.c.clock.setTimeout(() => void this.keepalive(), this.keepaliveMs);
  }

  /** A request to the server under the registration's key. */
  private sealedRequest(txid: Uint8Array, m: Message, what: string): Promise<Message> {
    const auth = this.auth;
    if (!auth) return Promise.reject(new PunchlineError('NOT_REGISTERED', `${what}: not registered`));
    const body = encode(m);
    // Each transmission sealed afresh: the server's replay window would drop a copy.
    return this.requests.request(txid, () => auth.sealCopy(body), what);
  }

  private async keepalive(): Promise<void> {
    if (this.closed || !this.registeredId) return;
    const txid = this.txid();
    try {
      const reply = await this.sealedRequest(
        txid,
        {
          type: MsgType.KEEPALIVE,
          txid,
          id: this.registeredId,
          presenceVersion: Math.max(0, this.presence.version),
        },
        'keepalive',
      );
      if (reply.type === MsgType.KEEPALIVE_ACK) {
        this.noteObserved(reply.observed);
        this.scheduleKeepalive();
        return;
      }
      // NOT_REGISTERED (expired, or our NAT mapping changed): register again from scratch.
      this.c.logger.info('re-registering', {
        reason: reply.type === MsgType.ERROR ? reply.message : 'unexpected reply',
      });
    } catch {
      if (this.closed) return;
      this.c.logger.warn('rendezvous lost', { server: endpointKey(this.opts.server) });
    }
    this.setState('lost');
    void this.register();
  }

  /**
   * Keep our port behaviour and tell the server (NAT_INFO, answered by a KEEPALIVE_ACK): true
   * once it is acknowledged. An older server drops the unknown type: no answer, logged at debug.
   */
  async tellNat(nat: PortBehaviour): Promise<boolean> {
    this.nat = nat;
    const id = this.registeredId;
    if (this.closed || !id) return false;
    const txid = this.txid();
    try {
      const reply = await this.sealedRequest(txid, { type: MsgType.NAT_INFO, txid, id, nat }, 'nat-info');
      return reply.type === MsgType.KEEPALIVE_ACK;
    } catch (e) {
      this.c.logger.debug('port behaviour not acknowledged (an older server?)', { error: String(e) });
      return false;
    }
  }

  private get registeredId(): Uint8Array | undefined {
    return this.state === 'registered' ? this.c.identity.id : undefined;
  }

  /** Change our name in the room: register again under it. Resolves when registered, rejects on NAME_TAKEN etc. */
  rename(name: string): Promise<void> {
    const previous = this.opts.name;
    this.opts.name = name;
    return new Promise<void>((resolve, reject) => {
      const offOk = this.on('registered', () => {
        offOk();
        offErr();
        resolve();
      });
      const offErr = this.on('error', (e) => {
        offOk();
        offErr();
        this.opts.name = previous;
        if (this.state !== 'registered') void this.register(); // back under the old name
        reject(e);
      });
      this.registering = false;
      void this.register();
    });
  }

  get name(): string {
    return this.opts.name;
  }

  /** Ask the server to introduce us to `target`; resolves with our copy of the introduction. */
  async connect(target: Uint8Array): Promise<Introduce> {
    const txid = this.txid();
    const reply = await this.sealedRequest(
      txid,
      { type: MsgType.CONNECT, txid, id: this.c.identity.id, target },
      'connect',
    );
    if (reply.type === MsgType.ERROR) {
      // The server no longer holds our registration (it expired or restarted): register again.
      if (reply.code === WireError.NOT_REGISTERED && this.state === 'registered') {
        this.setState('lost');
        void this.register();
      }
      throw this.errorOf(reply);
    }
    if (reply.type !== MsgType.INTRODUCE) throw new PunchlineError('MALFORMED', 'expected INTRODUCE');
    if (!equalBytes(reply.id, target) || !this.keysMatchId(reply))
      throw new PunchlineError(
        'KEY_MISMATCH',
        `the server introduced keys that do not belong to peer ${idText(target)}: not connecting`,
      );
    this.seenIntros.set(toHex(reply.introId), this.c.clock.now());
    return reply;
  }

  /**
   * A peer id is a hash of its two public keys (common/identity/identity.ts): an introduction whose keys
   * hash to another id is a lying (or broken) server trying to put its own key behind a name.
   */
  private keysMatchId(m: Introduce): boolean {
    if (equalBytes(peerIdOf(m.signKey, m.dhKey), m.id)) return true;
    this.stats.bad_intro_keys++;
    this.c.logger.warn('introduction dropped: its keys do not hash to the peer id', { id: idText(m.id) });
    return false;
  }

  /**
   * Is this message from the server? Authenticated types must verify under the registration in
   * force (or, for REGISTERED and its errors, the one being made) and not be replays; an ERROR with
   * no MAC at all is accepted only as the answer to a request made before any key existed (or a
   * NOT_REGISTERED, whose only effect is that we register again).
   */
  private fromServer(m: Message, raw: Uint8Array): boolean {
    if (!AUTHENTICATED_TYPES.has(m.type)) return true; // COOKIE: bound to the HELLO's txid only
    for (const channel of [this.pendingAuth, this.auth])
      if (channel?.verifies(raw)) {
        if (channel.open(raw)) return true;
        this.stats.replayed++;
        return false;
      }
    if (m.type === MsgType.ERROR && isUnsealed(raw)) {
      const txid = toHex(m.txid);
      if (this.preKey.has(txid) || m.code === WireError.NOT_REGISTERED) {
        this.unsealedErrors.add(m);
        return true;
      }
      this.stats.unauthenticated++;
      return false;
    }
    return this.countBadMac();
  }

  private countBadMac(): false {
    this.stats.bad_mac++;
    return false;
  }

  /** Messages from the server endpoint arrive here, decoded, with the bytes as received. */
  onMessage(m: Message, raw: Uint8Array): void {
    if (!this.fromServer(m, raw)) return;
    switch (m.type) {
      case MsgType.COOKIE:
      case MsgType.REGISTERED:
      case MsgType.KEEPALIVE_ACK:
      case MsgType.ERROR:
        this.requests.answer(m.txid, m);
        return;
      case MsgType.INTRODUCE:
        if (m.initiator) {
          this.requests.answer(m.txid, m);
          return;
        }
        if (!this.keysMatchId(m) || equalBytes(m.id, this.c.identity.id)) return;
        if (this.auth)
          this.c.send(
            this.auth.seal(encode({ type: MsgType.INTRODUCE_ACK, txid: m.txid, id: this.c.identity.id })),
            this.opts.server,
          );
        if (this.seenIntros.has(toHex(m.introId))) return; // a retransmission
        this.pruneIntros();
        this.seenIntros.set(toHex(m.introId), this.c.clock.now());
        this.emit('introduce', m);
        return;
      case MsgType.PRESENCE:
        this.presence.onPresence(m);
        return;
      case MsgType.PRESENCE_DELTA:
        this.presence.onPresenceDelta(m);
        return;
      case MsgType.GOING_AWAY:
        // Authentic (fromServer): only the server holding this registration's key can say it.
        this.emit('going-away', { withinMs: m.withinMs });
        return;
      default:
        return;
    }
  }

  private pruneIntros(): void {
    const cutoff = this.c.clock.now() - 60_000;
    for (const [k, at] of this.seenIntros) if (at < cutoff) this.seenIntros.delete(k);
  }

  /** Stop; with `leave` (the default) tell the server we leave (best effort, one datagram). */
  close(leave = true): void {
    if (this.closed) return;
    if (leave && this.state === 'registered' && this.auth)
      this.c.send(
        this.auth.seal(encode({ type: MsgType.LEAVE, txid: this.txid(), id: this.c.identity.id })),
        this.opts.server,
      );
    this.closed = true;
    this.c.clock.clearTimeout(this.keepaliveTimer);
    this.c.clock.clearTimeout(this.retryTimer);
    this.requests.cancelAll(new PunchlineError('CLOSED', 'client closed'));
  }
}
