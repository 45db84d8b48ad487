import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../common/clock.js';
import { peerIdOf, verifySignature } from '../common/identity/identity.js';
import { badArgument } from '../common/errors.js';
import { silentLogger } from '../common/log.js';
import { nameProblem } from '../common/names.js';
import type { Logger } from '../common/log.js';
import { endpointKey, sameEndpoint } from '../common/net/types.js';
import type { DatagramSocket, Endpoint, Network } from '../common/net/types.js';
import type { StreamListener, StreamNetwork } from '../common/net/stream.js';
import { dh, generateKeyPair } from '../common/crypto/x25519.js';
import type { KeyPair } from '../common/crypto/x25519.js';
import { toHex } from '../common/wire/bytes.js';
import { Limits, MsgType, WireError } from '../common/wire/constants.js';
import type { WireErrorName } from '../common/wire/constants.js';
import { decode, encode, isPunchline, registerSigningBytes } from '../common/wire/messages.js';
import type { Connect, Keepalive, Message, Register } from '../common/wire/messages.js';
import { AuthChannel, deriveServerAuthKeys } from '../common/wire/server-auth.js';
import { answerStunRequest, isStunMessage } from '../common/wire/stun.js';
import { CookieJar } from './cookie.js';
import { IntroducedPairs } from './introduced.js';
import { LimitLog } from './limit-log.js';
import { httpRoutes } from './metrics.js';
import { emptyPresenceStats, MAX_LISTABLE_MEMBERS, PresenceFanout } from './presence.js';
import type { PresenceStats } from './presence.js';
import { RateKeys, sourceKey } from './rate-keys.js';
import { InMemoryRegistry, deliver, observedUdp, sourcesOf } from './registry.js';
import type { MemberRecord, Registry, Transport } from './registry.js';
import { StreamFront } from './stream-front.js';
import type { RelayStats } from './stream-front.js';

export interface RendezvousOptions {
  host?: string;
  port?: number;
  /**
   * A second UDP socket on this port (same host) that answers STUN Binding requests and nothing
   * else, so clients can test their NAT in the manner of RFC 5780 (`punchline nat-check`): both
   * sockets honour CHANGE-REQUEST "change port" by answering from the other one (see
   * `answerStunRequest` for "change IP", and why OTHER-ADDRESS is not sent).
   * undefined (the default): the UDP port + 1, skipped with a warning if that cannot be bound;
   * 0: off; any other number: that port, and failing to bind it fails start().
   */
  altPort?: number;
  /**
   * How often peers should refresh their registration (and so their NAT mapping). 15 s: the
   * floor RFC 8445 §11 and RFC 8085 §3.5 set for keepalives, and well inside the ~30 s after
   * which many real NATs drop idle UDP mappings.
   */
  keepaliveMs?: number;
  /** A registration expires after this long without a keepalive: three missed ones plus slack. */
  expiryMs?: number;
  /**
   * Members per room (1000). What one join costs grows with it: the joiner's full list is
   * ceil(n / 23) datagrams (44 at 1000). At most 5865 (255 parts of 23: `parts` is one byte).
   */
  maxRoomMembers?: number;
  // ---- server cost bounds (docs/security.md "Server cost bounds") ----
  /**
   * REGISTERs per second per source (an IPv4 address, an IPv6 /64: rate-keys.ts sourceKey), taken
   * after the cookie check (so the source is proven: nobody can spend another address's tokens)
   * and before the signature check and the DH, ~240 us of CPU together. 10/s with a burst of 40:
   * a NAT'd office restarting 40 peers at once registers at once; one source cannot make the
   * server spend more than 10 x 240 us = 2.4 ms of CPU per second on it.
   */
  registerRate?: number;
  registerBurst?: number;
  /** Peer ids registered from one source, UDP and WebSocket together (32: an office behind one NAT). */
  maxIdsPerIp?: number;
  /**
   * New CONNECTs (introductions) per second per member, burst: each makes the server send two
   * INTRODUCEs (and retransmit the target's until acknowledged). 2/s, 20: opening a chat with
   * twenty peers at once, then one new peer every half second.
   */
  connectRate?: number;
  connectBurst?: number;
  /**
   * Rate-limit buckets kept per kind (sources for REGISTER, members for CONNECT); past it the least
   * recently used is forgotten. 65536 buckets ~ 10 MB: a flood from many addresses costs a bounded
   * amount of memory.
   */
  maxRateKeys?: number;
  /** A room's changes go out as one PRESENCE_DELTA at most this often once its burst is spent (ms). */
  presenceIntervalMs?: number;
  /** PRESENCE_DELTAs a room may send back to back (a quiet room's changes leave at once). */
  presenceBurst?: number;
  /** A member that asks for the full list again (a gap) gets it at most this often (ms). */
  presenceResyncMs?: number;
  /** Full list to every member on every change: the old fan-out, for comparisons only (no flag). */
  presenceFullLists?: boolean;
  /** The target's INTRODUCE is retransmitted until acknowledged: first after this, then doubling. */
  introRetryMs?: number;
  introRetries?: number;

  // ---- the stream (WebSocket) side: relay and fallback signalling (docs/self-hosting.md) ----
  /**
   * Largest RELAY payload relayed, bytes. 1400: a full-size session packet (1200, MAX_DATAGRAM)
   * with room to spare, under a 1500-byte Ethernet MTU; larger frames are dropped ('too_big').
   */
  relayMaxFrame?: number;
  /**
   * Per-peer relay rate, bytes/s: 1 MiB/s (8 Mbit/s) carries chat and a trickle of files while
   * one abusive peer can take only that share of the server. Every message on the stream counts.
   */
  relayRateBytes?: number;
  /** Bucket depth, bytes: 2 s at the full rate, so a burst (history sync) is not cut short. */
  relayBurstBytes?: number;
  /**
   * Per-peer messages/s: 2000 (~ one 1 MiB/s stream of 512-byte packets plus its ACKs), which
   * bounds the per-message cost (parsing, lookups) an abuser can make the server spend.
   */
  relayRateFrames?: number;
  relayBurstFrames?: number;
  /**
   * Cap on a receiver's outbound queue (WebSocket bufferedAmount), bytes. A frame that would go
   * over it is dropped ('slow_consumer'); the session above retransmits. 64 KiB ~ 46 full frames,
   * close to DERP's 32-packet queue per client.
   */
  relayQueueBytes?: number;
  /** An introduced pair may relay for this long after its introduction or its last relayed frame. */
  relayPairTtlMs?: number;
  /** Partners remembered per peer (the least recently used is forgotten first). */
  relayMaxPairs?: number;
  /** Open stream connections per source IP (a NAT'd office shares one IP; 16 leaves it room). */
  maxConnsPerIp?: number;
  /** Open stream connections in total; keep it below the process's file-descriptor limit. */
  maxConnections?: number;
  /**
   * Largest WebSocket message accepted, bytes (ws maxPayload); a larger one closes the connection
   * (1009). 4096 covers a maximal RELAY (1400 + 20) and every signalling message (<= 1200).
   */
  maxMessageBytes?: number;
  /** WebSocket ping interval; a connection with no pong by the next ping is dead. 0 = off. */
  pingMs?: number;
  /** A connection that has not registered (HELLO, COOKIE, REGISTER) within this is closed. */
  authTimeoutMs?: number;
  /** A TCP connection not upgraded to a WebSocket within this is destroyed (it counts until then). */
  upgradeTimeoutMs?: number;
  /** A closing WebSocket whose client has not finished the closing handshake within this is destroyed. */
  closeTimeoutMs?: number;
  /** Serve https/wss with this PEM certificate chain and key. */
  tls?: { cert: string | Uint8Array; key: string | Uint8Array };
}

export interface RendezvousComponents {
  network: Network;
  /** When given, the server also listens on TCP (same port number as UDP): WebSocket, /healthz, /metrics. */
  streamNetwork?: StreamNetwork;
  clock: Clock;
  logger?: Logger;
  registry?: Registry;
  randomBytes?: (n: number) => Uint8Array;
  /**
   * The server's long-term X25519 key (rendezvous/server-key.ts keeps it on disk). Peers pin it;
   * every registration's message keys derive from it. Default: a fresh one from `randomBytes`.
   */
  serverKey?: KeyPair;
}

/**
 * CONNECTs for the same pair within this window share one introduction. Crossing first
 * messages arrive within a round trip of each other; the window stays well under the peers'
 * first direct-path retry (5 s), which must get a fresh introduction to punch again.
 */
export const PAIR_INTRO_WINDOW_MS = 2_000;

/**
 * What identifies one registration (one running peer process): its UDP binding, kept when the
 * same process also registers over the stream and replaced when a new process registers; for a
 * peer on the stream only, its stream binding.
 */
const registrationOf = (rec: MemberRecord): unknown => rec.udp ?? rec.ws;

export const RENDEZVOUS_DEFAULTS = {
  host: '0.0.0.0',
  port: 7000,
  keepaliveMs: 15_000,
  expiryMs: 50_000,
  maxRoomMembers: 1000,
  introRetryMs: 250,
  introRetries: 4,
  registerRate: 10,
  registerBurst: 40,
  maxIdsPerIp: 32,
  connectRate: 2,
  connectBurst: 20,
  maxRateKeys: 65_536,
  presenceIntervalMs: 250,
  presenceBurst: 4,
  presenceResyncMs: 2000,
  presenceFullLists: false,
  relayMaxFrame: 1400,
  relayRateBytes: 1_048_576,
  relayBurstBytes: 2_097_152,
  relayRateFrames: 2000,
  relayBurstFrames: 4000,
  relayQueueBytes: 65_536,
  relayPairTtlMs: 600_000,
  relayMaxPairs: 256,
  maxConnsPerIp: 16,
  maxConnections: 20_000,
  maxMessageBytes: 4096,
  pingMs: 30_000,
  authTimeoutMs: 10_000,
  upgradeTimeoutMs: 10_000,
  closeTimeoutMs: 2_000,
} as const;

export type ResolvedOptions = Required<Omit<RendezvousOptions, 'tls' | 'altPort'>> &
  Pick<RendezvousOptions, 'tls' | 'altPort'>;

/** Where a message came from and how to answer it: UDP, or a stream (WebSocket) connection. */
export interface ReplyContext {
  from: Endpoint;
  transport: Transport;
  reply: (bytes: Uint8Array) => void;
  /** Streams: the connection's id; only that connection speaks for a peer registered on it. */
  connection?: number;
  /** Streams: told when a REGISTER on this connection succeeded (the connection is now that peer's). */
  onRegistered?: (rec: MemberRecord) => void;
}

export type DropReason =
  | 'malformed'
  | 'unexpected'
  | 'bad_cookie'
  | 'bad_signature'
  | 'not_registered'
  | 'bad_mac'
  | 'stale_register';

/** Registrations refused after their signature verified, by reason. */
export type RefusedReason = 'ids_per_ip' | 'name_taken' | 'bad_name' | 'room_full';

export class RendezvousStats {
  datagramsIn = 0;
  datagramsOut = 0;
  stunRequests = 0;
  registrations = 0;
  introductions = 0;
  expired = 0;
  /** Ed25519 signature checks made (REGISTER): what --register-rate bounds per source. */
  signatureChecks = 0;
  /** Requests refused by a rate limit, before any work: REGISTER per source, CONNECT per member. */
  rateLimited = { register: 0, connect: 0 };
  refused: Record<RefusedReason, number> = { ids_per_ip: 0, name_taken: 0, bad_name: 0, room_full: 0 };
  presence: PresenceStats = emptyPresenceStats();
  dropped: Record<DropReason, number> = {
    malformed: 0,
    unexpected: 0,
    bad_cookie: 0,
    bad_signature: 0,
    not_registered: 0,
    bad_mac: 0,
    stale_register: 0,
  };
}

interface PendingIntro {
  timer: TimerHandle;
  tries: number;
  /** The target's id (hex): only its authenticated INTRODUCE_ACK ends the retransmissions. */
  target: string;
}

export class RendezvousServer {
  readonly stats = new RendezvousStats();
  readonly registry: Registry;
  /** Pairs introduced to each other: the relay forwards only between them. */
  readonly introduced: IntroducedPairs;
  private readonly opts: ResolvedOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly cookies: CookieJar;
  private readonly random: (n: number) => Uint8Array;
  /** The long-term key peers pin (COOKIE carries its public half). */
  readonly serverKey: KeyPair;
  private socket: DatagramSocket | undefined;
  /** The STUN-only socket on the alternate port (RFC 5780), when open. */
  private altSocket: DatagramSocket | undefined;
  private sweepTimer: TimerHandle | undefined;
  /** CONNECT retransmissions get the same introduction: requester|txid -> introId, expiring. */
  private readonly recentConnects = new Map<string, { introId: Uint8Array; at: number }>();
  /**
   * The last introduction per pair (either direction). Two CONNECTs that cross (both peers send
   * their first message at once) get the same introduction id, so both sides settle on one
   * session instead of each keeping a different one.
   */
  private readonly pairIntros = new Map<
    string,
    { introId: Uint8Array; at: number; requester: string; requesterBinding: unknown; targetBinding: unknown }
  >();
  private readonly pendingIntros = new Map<string, PendingIntro>();
  private started = false;
  /** Per source: REGISTERs (signature checks). Per member: CONNECTs (introductions). */
  private readonly registerLimit: RateKeys;
  private readonly connectLimit: RateKeys;
  private readonly limitLog: LimitLog;
  private readonly presence: PresenceFanout;
  private front: StreamFront | undefined;
  private listener: StreamListener | undefined;

  constructor(
    options: RendezvousOptions,
    private readonly components: RendezvousComponents,
  ) {
    this.opts = { ...RENDEZVOUS_DEFAULTS, ...options };
    if (this.opts.maxRoomMembers > MAX_LISTABLE_MEMBERS)
      throw badArgument(`maxRoomMembers is at most ${MAX_LISTABLE_MEMBERS} (a full list must fit 255 parts)`);
    this.clock = components.clock;
    this.log = components.logger ?? silentLogger;
    this.limitLog = new LimitLog(this.clock, this.log);
    this.registerLimit = new RateKeys(this.opts.registerRate, this.opts.registerBurst, this.opts.maxRateKeys);
    this.connectLimit = new RateKeys(this.opts.connectRate, this.opts.connectBurst, this.opts.maxRateKeys);
    this.registry = components.registry ?? new InMemoryRegistry(this.opts.maxRoomMembers);
    this.random = components.randomBytes ?? ((n) => new Uint8Array(randomBytes(n)));
    this.cookies = new CookieJar(() => this.clock.now(), this.random(32));
    this.serverKey = components.serverKey ?? generateKeyPair(this.random);
    this.introduced = new IntroducedPairs({
      ttlMs: this.opts.relayPairTtlMs,
      maxPerPeer: this.opts.relayMaxPairs,
    });
    this.presence = new PresenceFanout(
      this.opts,
      this.clock,
      this.registry,
      this.limitLog,
      this.stats.presence,
    );
  }

  /** Rate-limit buckets held now, by kind, and how many were forgotten to make room (--max-rate-keys). */
  get rateKeys(): { register: number; connect: number; evicted: number } {
    return {
      register: this.registerLimit.size,
      connect: this.connectLimit.size,
      evicted: this.registerLimit.evicted + this.connectLimit.evicted,
    };
  }

  get options(): Readonly<ResolvedOptions> {
    return this.opts;
  }

  /** The relay's counters (all zero when the server has no stream network). */
  get relayStats(): RelayStats {
    return this.front?.stats ?? StreamFront.emptyStats();
  }

  /** Stream connections now open, and how many of them have registered as a peer. */
  get streamConnections(): { open: number; authenticated: number } {
    return { open: this.front?.size ?? 0, authenticated: this.front?.authenticated ?? 0 };
  }

  /** The clock's now(), for reports that need "live now" (introduced pairs). */
  now(): number {
    return this.clock.now();
  }

  /** The STUN-only alternate-port UDP endpoint (`altPort`), once started, if it is open. */
  get altEndpoint(): Endpoint | undefined {
    return this.altSocket?.localEndpoint();
  }

  /** The TCP endpoint (WebSocket, /healthz, /metrics), once started with a stream network. */
  get tcpEndpoint(): Endpoint | undefined {
    return this.listener?.local;
  }

  /**
   * Bind the UDP socket, then (with a stream network) listen on TCP on the same port number;
   * idempotent. Resolves with the bound UDP endpoint.
   */
  async start(): Promise<Endpoint> {
    if (this.socket) return this.socket.localEndpoint();
    this.started = true;
    const sock = this.components.network.createUdpSocket();
    sock.onMessage((data, from) => this.onDatagram(data, from));
    const bound = await sock.bind(this.opts.port, this.opts.host);
    this.socket = sock;
    try {
      await this.openAltSocket(bound);
    } catch (e) {
      sock.close();
      this.socket = undefined;
      this.started = false;
      throw e;
    }
    const streams = this.components.streamNetwork;
    if (streams) {
      const front = new StreamFront(this, this.opts, this.clock, this.log);
      try {
        this.listener = await streams.listenStream(this.opts.host, bound.port, (s) => front.accept(s), {
          pingIntervalMs: this.opts.pingMs,
          maxMessageBytes: this.opts.maxMessageBytes,
          maxConnections: this.opts.maxConnections,
          admit: (remote) => front.admit(remote),
          connections: front.gate,
          upgradeTimeoutMs: this.opts.upgradeTimeoutMs,
          closeTimeoutMs: this.opts.closeTimeoutMs,
          http: httpRoutes(this),
          ...(this.opts.tls ? { tls: this.opts.tls } : {}),
        });
      } catch (e) {
        sock.close();
        this.socket = undefined;
        this.altSocket?.close();
        this.altSocket = undefined;
        this.started = false;
        throw e;
      }
      this.front = front;
    }
    this.scheduleSweep();
    this.log.info('listening', {
      udp: endpointKey(bound),
      ...(this.altSocket ? { stunAlt: endpointKey(this.altSocket.localEndpoint()) } : {}),
      ...(this.listener ? { tcp: endpointKey(this.listener.local), tls: this.opts.tls !== undefined } : {}),
    });
    return bound;
  }

  /** Stop: close the UDP socket, the TCP listener and every stream; idempotent. */
  async close(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.clock.clearTimeout(this.sweepTimer);
    this.presence.stop();
    this.limitLog.stop();
    for (const p of this.pendingIntros.values()) this.clock.clearTimeout(p.timer);
    this.pendingIntros.clear();
    this.socket?.close();
    this.socket = undefined;
    this.altSocket?.close();
    this.altSocket = undefined;
    this.front?.shutdown();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
  }

  /**
   * Open the STUN-only socket on the alternate port (RFC 5780 §4: NAT behaviour discovery needs a
   * second transport address; this server has one IP, so the second is a port). The default
   * (port + 1) is best effort; an explicit port must bind.
   */
  private async openAltSocket(bound: Endpoint): Promise<void> {
    const explicit = this.opts.altPort !== undefined;
    const port = this.opts.altPort ?? bound.port + 1;
    if (port === 0 || port > 65535) return;
    const alt = this.components.network.createUdpSocket();
    alt.onMessage((data, from) => this.onAltDatagram(data, from));
    try {
      await alt.bind(port, this.opts.host);
    } catch (e) {
      alt.close();
      if (explicit) throw e;
      this.log.warn('stun alt port unavailable: nat-check cannot test mapping and filtering here', {
        port,
        error: (e as Error).message,
      });
      return;
    }
    this.altSocket = alt;
  }

  /** Answer a STUN request on either socket; a "change port" answer leaves from the other one. */
  private onStun(data: Uint8Array, from: Endpoint, onAlt: boolean): void {
    this.stats.stunRequests++;
    const answer = answerStunRequest(data, from, { alternatePort: this.altSocket !== undefined });
    if (!answer) {
      this.stats.dropped.malformed++;
      return;
    }
    const fromAlt = onAlt !== (answer.via === 'other');
    this.stats.datagramsOut++;
    (fromAlt ? this.altSocket : this.socket)?.send(answer.bytes, from);
  }

  /** The alternate port's receive path: STUN Binding only; anything else is counted and dropped. */
  onAltDatagram(data: Uint8Array, from: Endpoint): void {
    this.stats.datagramsIn++;
    if (isStunMessage(data)) return this.onStun(data, from, true);
    this.stats.dropped.malformed++;
  }

  private scheduleSweep(): void {
    this.sweepTimer = this.clock.setTimeout(
      () => {
        this.sweep();
        if (this.started) this.scheduleSweep();
      },
      Math.min(5_000, this.opts.keepaliveMs),
    );
  }

  /** Expire silent registrations and forget old CONNECT transactions. */
  sweep(): void {
    const now = this.clock.now();
    const gone = this.registry.expire(now - this.opts.expiryMs);
    for (const rec of gone) {
      this.stats.expired++;
      this.forgetMember(rec);
      this.log.info('expired', { id: rec.idHex, name: rec.name, room: rec.room });
    }
    for (const [k, v] of this.recentConnects) if (now - v.at > 30_000) this.recentConnects.delete(k);
    for (const [k, v] of this.pairIntros) if (now - v.at > PAIR_INTRO_WINDOW_MS) this.pairIntros.delete(k);
    this.introduced.sweep(now);
  }

  /** A member lost its last binding outside of expiry (its WebSocket closed): tell its room. */
  memberGone(rec: MemberRecord, reason: string): void {
    this.log.info('left', { id: rec.idHex, name: rec.name, room: rec.room, reason });
    this.forgetMember(rec);
  }

  /** A member left the registry: its room learns it; its per-member state goes. */
  private forgetMember(rec: MemberRecord): void {
    this.introduced.forget(rec.idHex);
    this.connectLimit.forget(rec.idHex);
    this.presence.changed(rec.room, rec);
    this.presence.forget(rec.idHex);
  }

  /** The UDP receive path: STUN or punchline; anything else is counted and dropped. */
  onDatagram(data: Uint8Array, from: Endpoint): void {
    this.stats.datagramsIn++;
    const reply = (bytes: Uint8Array): void => this.sendUdp(bytes, from);
    if (isStunMessage(data)) return this.onStun(data, from, false);
    if (!isPunchline(data)) {
      this.stats.dropped.malformed++;
      return;
    }
    let msg: Message;
    try {
      msg = decode(data);
    } catch {
      this.stats.dropped.malformed++;
      return;
    }
    try {
      this.handle(msg, { from, transport: 'udp', reply }, data);
    } catch (e) {
      // A bug must not take the server down with it; log it loudly and keep serving.
      this.log.error('handler failed', { type: msg.type, error: String(e) });
    }
  }

  private sendUdp(bytes: Uint8Array, to: Endpoint): void {
    this.stats.datagramsOut++;
    this.socket?.send(bytes, to);
  }

  /**
   * An ERROR: sealed with `auth` when the peer holds a key for it, else with a zeroed trailer
   * (peers treat those as hints: retry, never give up). Its text is cut so the answer is never
   * larger than the request it answers (`limit`), whoever sent that.
   */
  private error(
    ctx: ReplyContext,
    txid: Uint8Array,
    code: WireErrorName,
    message: string,
    auth?: AuthChannel,
    limit = Infinity,
  ): void {
    const at = (text: string): Uint8Array =>
      encode({ type: MsgType.ERROR, txid, code: WireError[code], message: text });
    let text = clipUtf8(message, Limits.MAX_ERROR_TEXT_BYTES);
    let bytes = at(text);
    if (bytes.length > limit) {
      text = clipUtf8(text, Math.max(0, Buffer.byteLength(text) - (bytes.length - limit)));
      bytes = at(text);
    }
    ctx.reply(auth ? auth.seal(bytes) : bytes);
  }

  /**
   * Transport-agnostic dispatch: the same message set arrives over UDP or the WebSocket. `raw` is
   * the message as received (its auth trailer is checked against the sender's registration).
   */
  handle(msg: Message, ctx: ReplyContext, raw: Uint8Array): void {
    switch (msg.type) {
      case MsgType.HELLO:
        ctx.reply(
          encode({
            type: MsgType.COOKIE,
            txid: msg.txid,
            cookie: this.cookies.issue(ctx.from, ctx.transport),
            serverKey: this.serverKey.publicKey,
          }),
        );
        return;
      case MsgType.REGISTER:
        return this.onRegister(msg, ctx, raw);
      case MsgType.KEEPALIVE:
        return this.onKeepalive(msg, ctx, raw);
      case MsgType.CONNECT:
        return this.onConnect(msg, ctx, raw);
      case MsgType.INTRODUCE_ACK: {
        if (typeof this.authenticated(toHex(msg.id), ctx, raw) === 'string') return;
        const p = this.pendingIntros.get(toHex(msg.txid));
        if (p && p.target === toHex(msg.id)) {
          this.clock.clearTimeout(p.timer);
          this.pendingIntros.delete(toHex(msg.txid));
        }
        return;
      }
      case MsgType.LEAVE: {
        const who = this.authenticated(toHex(msg.id), ctx, raw);
        if (typeof who === 'string') return;
        this.registry.remove(who.rec.idHex);
        this.memberGone(who.rec, 'leave');
        return;
      }
      default:
        this.stats.dropped.unexpected++;
    }
  }

  /**
   * The record for `idHex` if this message speaks for it: its auth trailer verifies under the key
   * of that member's registration on this transport (and is not a replay), and, over a stream, it
   * came on the very connection that registered. Over UDP `moved` says it came from another
   * address than the one the registration proved (a NAT rebinding, or a forwarded copy): such a
   * sender gets at most a small answer, never presence or introductions.
   */
  private authenticated(
    idHex: string,
    ctx: ReplyContext,
    raw: Uint8Array,
  ): { rec: MemberRecord; auth: AuthChannel; moved: boolean } | 'unknown' | 'forged' {
    const rec = this.registry.get(idHex);
    const binding = ctx.transport === 'udp' ? rec?.udp : rec?.ws;
    if (!rec || !binding) {
      this.stats.dropped.not_registered++;
      return 'unknown';
    }
    if (ctx.transport === 'ws' && (ctx.connection === undefined || rec.ws?.connection !== ctx.connection)) {
      this.stats.dropped.not_registered++;
      return 'forged';
    }
    if (!binding.auth.open(raw)) {
      this.stats.dropped.bad_mac++;
      return 'forged';
    }
    const moved = ctx.transport === 'udp' && !sameEndpoint(rec.udp!.observed, ctx.from);
    return { rec, auth: binding.auth, moved };
  }

  private onRegister(m: Register, ctx: ReplyContext, raw: Uint8Array): void {
    if (!this.cookies.check(m.cookie, ctx.from, ctx.transport)) {
      this.stats.dropped.bad_cookie++;
      return this.error(ctx, m.txid, 'STALE', 'cookie stale or not for this address');
    }
    // The cookie proved the source (a round trip): only now may it spend that source's tokens, so
    // a forged source address can neither fill the bucket map nor drain another address's bucket.
    const source = sourceKey(ctx.from.address);
    if (!this.registerLimit.take(source, this.clock.now())) {
      this.stats.rateLimited.register++;
      this.limitLog.note('register_rate', ctx.from.address);
      // Unsealed (no key is verified yet) and never larger than the REGISTER (§7.4).
      return this.error(
        ctx,
        m.txid,
        'RATE_LIMITED',
        'too many registrations from this address; retry later',
        undefined,
        raw.length,
      );
    }
    this.stats.signatureChecks++;
    if (!verifySignature(m.signKey, registerSigningBytes(m), m.signature)) {
      this.stats.dropped.bad_signature++;
      return this.error(ctx, m.txid, 'BAD_SIGNATURE', 'registration signature does not verify');
    }
    let shared: Uint8Array;
    try {
      shared = dh(this.serverKey, m.dhKey);
    } catch {
      this.stats.dropped.malformed++;
      return this.error(ctx, m.txid, 'MALFORMED', 'dhKey is not a usable X25519 key');
    }
    const regTxid = toHex(m.txid);
    const id = peerIdOf(m.signKey, m.dhKey);
    const idHex = toHex(id);
    const prev = this.registry.get(idHex);
    const prevBinding = ctx.transport === 'udp' ? prev?.udp : prev?.ws;
    // The same REGISTER again (a retransmission): keep its channel, whose counters run on.
    const same = prevBinding?.regTxid === regTxid && prevBinding.regTime === m.time;
    const auth = same
      ? prevBinding.auth
      : new AuthChannel(deriveServerAuthKeys(shared, ctx.transport, m.txid, m.cookie, 'server'));
    if (!same && prevBinding && m.time < prevBinding.regTime) {
      // Older than the registration in force: a captured REGISTER replayed within its cookie's life.
      this.stats.dropped.stale_register++;
      return this.error(ctx, m.txid, 'STALE', 'a newer registration of this id is in force', auth);
    }
    if (m.room.length === 0 || m.name.length === 0)
      return this.error(ctx, m.txid, 'MALFORMED', 'empty room or name', auth);
    if (ctx.transport === 'ws' && ctx.connection === undefined)
      return this.error(ctx, m.txid, 'MALFORMED', 'stream registration without a connection', auth);
    const problem = nameProblem(m.name);
    if (problem !== undefined) {
      this.stats.refused.bad_name++;
      return this.error(ctx, m.txid, 'BAD_NAME', problem, auth);
    }
    // A new id for this source counts against its quota; a binding it already holds does not.
    if (
      !(prev && sourcesOf(prev).includes(source)) &&
      this.registry.idsFrom(source) >= this.opts.maxIdsPerIp
    ) {
      this.stats.refused.ids_per_ip++;
      this.limitLog.note('ids_per_ip', ctx.from.address);
      return this.error(
        ctx,
        m.txid,
        'TOO_MANY_IDS',
        `this address holds ${this.opts.maxIdsPerIp} registrations, the most this server allows; one must leave or expire first`,
        auth,
      );
    }
    // A new record (the registry counts bindings per record); the other transport's binding stays.
    const rec: MemberRecord = {
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
          ? {
              observed: ctx.from,
              lastSeen: this.clock.now(),
              send: ctx.reply,
              auth,
              regTxid,
              regTime: m.time,
            }
          : prev?.udp,
      ws:
        ctx.transport === 'ws'
          ? { remote: ctx.from, connection: ctx.connection!, send: ctx.reply, auth, regTxid, regTime: m.time }
          : prev?.ws,
    };
    const result = this.registry.upsert(rec);
    if (!result.ok) {
      if (result.code === 'ROOM_FULL') {
        this.stats.refused.room_full++;
        return this.error(ctx, m.txid, 'ROOM_FULL', `room "${m.room}" is full`, auth);
      }
      this.stats.refused.name_taken++;
      const text =
        result.holder === m.name
          ? `name "${m.name}" is taken in room "${m.room}" by another key`
          : `name "${m.name}" looks like "${result.holder}", taken in room "${m.room}" by another key`;
      return this.error(ctx, m.txid, 'NAME_TAKEN', text, auth);
    }
    this.stats.registrations++;
    ctx.onRegistered?.(rec);
    ctx.reply(
      auth.seal(
        encode({
          type: MsgType.REGISTERED,
          txid: m.txid,
          id,
          observed: ctx.from,
          keepaliveMs: this.opts.keepaliveMs,
          expiryMs: this.opts.expiryMs,
        }),
      ),
    );
    if (result.previousRoom !== undefined && prev) this.presence.changed(result.previousRoom, prev);
    if (result.changed)
      this.log.info('registered', {
        id: idHex,
        name: m.name,
        room: m.room,
        transport: ctx.transport,
        observed: endpointKey(ctx.from),
      });
    // The registrant gets the full list (a retransmitted or refreshed registration too: its client
    // starts a new presence epoch); the others learn of a change by delta.
    this.presence.registered(rec, result.changed);
  }

  /**
   * An authentic message from another address than the registration proved: answer only
   * "register again from there" (the peer re-registers, which proves the new address), sealed and
   * no larger than the message.
   */
  private movedAway(ctx: ReplyContext, txid: Uint8Array, auth: AuthChannel, raw: Uint8Array): void {
    this.stats.dropped.not_registered++;
    this.error(ctx, txid, 'NOT_REGISTERED', 'not registered from this address', auth, raw.length);
  }

  /**
   * A request for an id this server does not hold (it expired, or the server restarted) gets an
   * unsealed NOT_REGISTERED no larger than the request, so the peer registers again at once; one
   * that fails its MAC gets nothing at all: its source may be forged.
   */
  private notAuthenticated(
    why: 'unknown' | 'forged',
    ctx: ReplyContext,
    txid: Uint8Array,
    raw: Uint8Array,
  ): void {
    if (why === 'unknown') this.error(ctx, txid, 'NOT_REGISTERED', 'not registered', undefined, raw.length);
  }

  private onKeepalive(m: Keepalive, ctx: ReplyContext, raw: Uint8Array): void {
    const who = this.authenticated(toHex(m.id), ctx, raw);
    if (typeof who === 'string') return this.notAuthenticated(who, ctx, m.txid, raw);
    if (who.moved) return this.movedAway(ctx, m.txid, who.auth, raw);
    const rec = who.rec;
    if (ctx.transport === 'udp' && rec.udp) rec.udp.lastSeen = this.clock.now();
    const version = this.registry.roomVersion(rec.room);
    ctx.reply(
      who.auth.seal(
        encode({ type: MsgType.KEEPALIVE_ACK, txid: m.txid, observed: ctx.from, presenceVersion: version }),
      ),
    );
    this.presence.keepalive(rec, m.presenceVersion);
  }

  private onConnect(m: Connect, ctx: ReplyContext, raw: Uint8Array): void {
    const who = this.authenticated(toHex(m.id), ctx, raw);
    if (typeof who === 'string') return this.notAuthenticated(who, ctx, m.txid, raw);
    if (who.moved) return this.movedAway(ctx, m.txid, who.auth, raw);
    const from = who.rec;
    const auth = who.auth;
    if (ctx.transport === 'udp' && from.udp) from.udp.lastSeen = this.clock.now();
    const target = this.registry.get(toHex(m.target));
    if (!target || target.room !== from.room || target.idHex === from.idHex)
      return this.error(ctx, m.txid, 'UNKNOWN_PEER', 'no such peer in your room', auth);

    const now = this.clock.now();
    const key = `${from.idHex}|${toHex(m.txid)}`;
    const seen = this.recentConnects.get(key);
    // A new CONNECT (not a retransmission) spends one of the member's tokens before anything is made.
    if (!seen && !this.connectLimit.take(from.idHex, now)) {
      this.stats.rateLimited.connect++;
      this.limitLog.note('connect_rate', ctx.from.address);
      return this.error(ctx, m.txid, 'RATE_LIMITED', 'too many introductions; retry later', auth, raw.length);
    }
    const pairKey =
      from.idHex < target.idHex ? `${from.idHex}|${target.idHex}` : `${target.idHex}|${from.idHex}`;
    const pair = this.pairIntros.get(pairKey);
    // Crossing: the *other* side asked within the window, and both are still the registrations
    // (processes) that took part then, so the requester already holds that introduction.
    const crossing =
      !seen &&
      pair !== undefined &&
      now - pair.at <= PAIR_INTRO_WINDOW_MS &&
      pair.requester === target.idHex &&
      pair.requesterBinding === registrationOf(target) &&
      pair.targetBinding === registrationOf(from);
    const introId = seen?.introId ?? (crossing ? pair.introId : this.random(Limits.INTRO_ID_BYTES));
    if (!seen) this.recentConnects.set(key, { introId, at: now });
    if (!crossing && !seen)
      this.pairIntros.set(pairKey, {
        introId,
        at: now,
        requester: from.idHex,
        requesterBinding: registrationOf(from),
        targetBinding: registrationOf(target),
      });

    // The pair may now relay to each other (both directions), for relayPairTtlMs after this.
    this.introduced.add(from.idHex, target.idHex, this.clock.now());
    // Both introductions leave back to back, so both sides start punching at the same moment.
    ctx.reply(auth.seal(encode(this.introduction(m.txid, introId, true, target))));
    // A retransmitted CONNECT: the target's copy is already being retransmitted. A crossing one:
    // the target asked first and has this very introduction already.
    if (seen || crossing) return;
    this.stats.introductions++;
    const txid = this.random(Limits.TXID_BYTES);
    const toTarget = encode(this.introduction(txid, introId, false, from));
    deliver(target, toTarget);
    this.log.info('introduced', { from: from.idHex, to: target.idHex, room: from.room });
    this.retransmitIntro(toHex(txid), toTarget, target.idHex, 0);
  }

  private retransmitIntro(txidHex: string, bytes: Uint8Array, targetHex: string, tries: number): void {
    if (tries >= this.opts.introRetries) {
      this.pendingIntros.delete(txidHex);
      return;
    }
    const timer = this.clock.setTimeout(
      () => {
        if (!this.started) return;
        // Looked up afresh: the target may have re-registered or moved to another transport.
        const target = this.registry.get(targetHex);
        if (!target) return void this.pendingIntros.delete(txidHex);
        deliver(target, bytes);
        this.retransmitIntro(txidHex, bytes, targetHex, tries + 1);
      },
      this.opts.introRetryMs * 2 ** tries,
    );
    this.pendingIntros.set(txidHex, { timer, tries, target: targetHex });
  }

  private introduction(
    txid: Uint8Array,
    introId: Uint8Array,
    initiator: boolean,
    other: MemberRecord,
  ): Message {
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
    };
  }
}

/** `text` cut to at most `max` UTF-8 bytes, on a character boundary. */
function clipUtf8(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = '';
  let n = 0;
  for (const ch of text) {
    const b = Buffer.byteLength(ch);
    if (n + b > max) break;
    out += ch;
    n += b;
  }
  return out;
}
