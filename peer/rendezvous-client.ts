import type { Clock, TimerHandle } from '../common/clock.js';
import { Emitter } from '../common/emitter.js';
import { PunchlineError, isPunchlineError } from '../common/errors.js';
import type { Identity } from '../common/identity.js';
import type { Logger } from '../common/log.js';
import { backoffDelay, REQUEST_BACKOFF } from '../common/path/backoff.js';
import type { Endpoint } from '../common/net/types.js';
import { endpointKey, sameEndpoint } from '../common/net/types.js';
import { toHex } from '../common/wire/bytes.js';
import { Limits, MsgType } from '../common/wire/constants.js';
import { errorCodeOfWire } from '../common/wire/errors-map.js';
import { encode, registerSigningBytes } from '../common/wire/messages.js';
import type { Introduce, Member, Message, Presence } from '../common/wire/messages.js';
import { Requests } from './requests.js';

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
}

export type ServerState = 'connecting' | 'registered' | 'lost';

export interface RendezvousClientEvents extends Record<string, unknown> {
  registered: { id: Uint8Array; observed: Endpoint };
  observed: { observed: Endpoint; previous: Endpoint };
  presence: { members: Member[]; version: number };
  introduce: Introduce;
  state: ServerState;
  error: PunchlineError;
}

export interface RendezvousClientComponents {
  identity: Identity;
  clock: Clock;
  logger: Logger;
  send: (bytes: Uint8Array, to: Endpoint) => void;
  randomBytes: (n: number) => Uint8Array;
}

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
  private presenceVersion = -1;
  private presenceParts = new Map<number, Member[]>();
  private presenceBuilding = -1;
  private readonly seenIntros = new Map<string, number>();
  state: ServerState = 'connecting';
  observed: Endpoint | undefined;
  members: Member[] = [];

  constructor(
    private readonly opts: RendezvousClientOptions,
    private readonly c: RendezvousClientComponents,
  ) {
    super();
    this.keepaliveMs = opts.keepaliveMs;
    this.requests = new Requests(c.clock, (b) => c.send(b, opts.server));
  }

  start(): void {
    void this.register();
  }

  private txid(): Uint8Array {
    return this.c.randomBytes(Limits.TXID_BYTES);
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
    try {
      const hello = this.txid();
      const cookieMsg = await this.requests.request(
        hello,
        encode({ type: MsgType.HELLO, txid: hello }),
        'hello',
      );
      if (cookieMsg.type !== MsgType.COOKIE) throw new PunchlineError('MALFORMED', 'expected COOKIE');
      // A registration starts a new presence epoch: a restarted server counts versions from 0 again.
      this.presenceVersion = -1;
      this.presenceBuilding = -1;
      const txid = this.txid();
      const body = {
        txid,
        cookie: cookieMsg.cookie,
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
      const reply = await this.requests.request(txid, bytes, 'register');
      if (reply.type === MsgType.ERROR) throw new PunchlineError(errorCodeOfWire(reply.code), reply.message);
      if (reply.type !== MsgType.REGISTERED) throw new PunchlineError('MALFORMED', 'expected REGISTERED');
      this.failures = 0;
      this.keepaliveMs = Math.min(this.opts.keepaliveMs, reply.keepaliveMs);
      this.noteObserved(reply.observed);
      this.setState('registered');
      this.emit('registered', { id: reply.id, observed: reply.observed });
      this.scheduleKeepalive();
    } catch (e) {
      if (this.closed) return;
      const err = isPunchlineError(e) ? e : new PunchlineError('INTERNAL', String(e));
      this.emit('error', err);
      if (err.code === 'NAME_TAKEN' || err.code === 'ROOM_FULL' || err.code === 'BAD_SIGNATURE') {
        this.setState('lost');
        return; // retrying cannot help; the user must change something
      }
      this.setState('lost');
      const delay = backoffDelay(
        this.failures++,
        { ...REQUEST_BACKOFF, initialMs: 1_000, maxMs: 30_000 },
        Math.random(),
      );
      this.retryTimer = this.c.clock.setTimeout(() => void this.register(), delay);
    } finally {
      this.registering = false;
    }
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

  private async keepalive(): Promise<void> {
    if (this.closed || !this.registeredId) return;
    const txid = this.txid();
    try {
      const reply = await this.requests.request(
        txid,
        encode({
          type: MsgType.KEEPALIVE,
          txid,
          id: this.registeredId,
          presenceVersion: Math.max(0, this.presenceVersion),
        }),
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
    const reply = await this.requests.request(
      txid,
      encode({ type: MsgType.CONNECT, txid, id: this.c.identity.id, target }),
      'connect',
    );
    if (reply.type === MsgType.ERROR) throw new PunchlineError(errorCodeOfWire(reply.code), reply.message);
    if (reply.type !== MsgType.INTRODUCE) throw new PunchlineError('MALFORMED', 'expected INTRODUCE');
    this.seenIntros.set(toHex(reply.introId), this.c.clock.now());
    return reply;
  }

  /** Messages from the server endpoint arrive here (already decoded). */
  onMessage(m: Message): void {
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
        this.c.send(
          encode({ type: MsgType.INTRODUCE_ACK, txid: m.txid, id: this.c.identity.id }),
          this.opts.server,
        );
        if (this.seenIntros.has(toHex(m.introId))) return; // a retransmission
        this.pruneIntros();
        this.seenIntros.set(toHex(m.introId), this.c.clock.now());
        this.emit('introduce', m);
        return;
      case MsgType.PRESENCE:
        this.onPresence(m);
        return;
      default:
        return;
    }
  }

  private pruneIntros(): void {
    const cutoff = this.c.clock.now() - 60_000;
    for (const [k, at] of this.seenIntros) if (at < cutoff) this.seenIntros.delete(k);
  }

  private onPresence(m: Presence): void {
    // Versions only grow on the server (u32; a wrap after 4 billion changes is not a concern).
    if (m.version < this.presenceVersion) return;
    if (m.version !== this.presenceBuilding) {
      this.presenceBuilding = m.version;
      this.presenceParts = new Map();
    }
    this.presenceParts.set(m.part, m.members);
    if (this.presenceParts.size < m.parts) return;
    const members: Member[] = [];
    for (let i = 0; i < m.parts; i++) members.push(...(this.presenceParts.get(i) ?? []));
    if (m.version === this.presenceVersion) return;
    this.presenceVersion = m.version;
    this.members = members;
    this.emit('presence', { members, version: m.version });
  }

  /** Stop; with `leave` (the default) tell the server we leave (best effort, one datagram). */
  close(leave = true): void {
    if (this.closed) return;
    if (leave && this.state === 'registered')
      this.c.send(
        encode({ type: MsgType.LEAVE, txid: this.txid(), id: this.c.identity.id }),
        this.opts.server,
      );
    this.closed = true;
    this.c.clock.clearTimeout(this.keepaliveTimer);
    this.c.clock.clearTimeout(this.retryTimer);
    this.requests.cancelAll(new PunchlineError('CLOSED', 'client closed'));
  }
}
