import { randomBytes } from 'node:crypto';
import type { TimerHandle } from '../common/clock.js';
import { badArgument } from '../common/errors.js';
import { silentLogger } from '../common/log.js';
import { endpointKey } from '../common/net/types.js';
import type { Endpoint } from '../common/net/types.js';
import type { StreamListener } from '../common/net/stream.js';
import { generateKeyPair } from '../common/crypto/x25519.js';
import type { KeyPair } from '../common/crypto/x25519.js';
import { toHex } from '../common/wire/bytes.js';
import { MsgType } from '../common/wire/constants.js';
import { encode } from '../common/wire/messages.js';
import type { Keepalive, Leave, Message } from '../common/wire/messages.js';
import { Bindings } from './bindings.js';
import { ClusterGlue } from './cluster-host.js';
import { CookieJar } from './cookie.js';
import { Drain } from './drain.js';
import type { DrainResult } from './drain.js';
import { Handovers } from './handover.js';
import { authenticate, authenticateRequest } from './core.js';
import type { ServerCore } from './core.js';
import { IntroducedPairs } from './introduced.js';
import { Introducer } from './introductions.js';
import { LimitLog } from './limit-log.js';
import { takeNatInfo } from './nat-info.js';
import { httpRoutes } from './metrics.js';
import type { MetricsSnapshot } from './metrics.js';
import { RENDEZVOUS_DEFAULTS } from './options.js';
import type { RendezvousComponents, RendezvousOptions, ResolvedOptions } from './options.js';
import { MAX_LISTABLE_MEMBERS, PresenceFanout } from './presence.js';
import { RateKeys } from './rate-keys.js';
import { Registrar } from './registration.js';
import { InMemoryRegistry } from './registry.js';
import type { MemberRecord, Registry } from './registry.js';
import type { ReplyContext } from './reply.js';
import { RendezvousStats } from './stats.js';
import { StreamFront } from './stream-front.js';
import type { RelayStats, StreamPort } from './stream-front.js';
import { UdpFront } from './udp-front.js';

// What callers construct the server with (options.ts), re-exported beside the server itself.
export { RENDEZVOUS_DEFAULTS } from './options.js';
export type { RendezvousOptions } from './options.js';

/**
 * The rendezvous server: the UDP front (udp-front.ts) and the stream front (stream-front.ts) feed
 * one transport-agnostic dispatch (handle); registration.ts and introductions.ts answer REGISTER
 * and CONNECT, presence.ts fans out member lists, and this file wires them, keeps members'
 * departures in one place (LEAVE, a closed stream, expiry) and owns start and close.
 */
export class RendezvousServer {
  readonly stats = new RendezvousStats();
  readonly registry: Registry;
  /** Pairs introduced to each other: the relay forwards only between them. */
  readonly introduced: IntroducedPairs;
  /** The long-term key peers pin (COOKIE carries its public half). */
  readonly serverKey: KeyPair;
  private readonly opts: ResolvedOptions;
  private readonly core: ServerCore;
  /** How this node reaches each member it holds a binding of (the registry holds plain data). */
  private readonly bindings = new Bindings();
  private readonly cookies: CookieJar;
  private readonly limitLog: LimitLog;
  private readonly presence: PresenceFanout;
  private readonly registrar: Registrar;
  /** Per source: REGISTERs (signature checks); the per-member CONNECT buckets are the introducer's. */
  private readonly registerLimit: RateKeys;
  private readonly introducer: Introducer;
  private readonly udp: UdpFront;
  private sweepTimer: TimerHandle | undefined;
  private started = false;
  private front: StreamFront | undefined;
  private listener: StreamListener | undefined;
  /** In a cluster (components.cluster): this node's link to the others. */
  private readonly cluster: ClusterGlue | undefined;
  /** Set once the node drains (drain()): no new registrations, members told to move. */
  private draining: { drain: Drain; result: Promise<DrainResult> } | undefined;
  /** Members that left while this cluster node drains, until another node announces them. */
  /** Departures held back while this cluster node drains (rendezvous/handover.ts). */
  readonly handovers: Handovers;

  constructor(
    options: RendezvousOptions,
    private readonly components: RendezvousComponents,
  ) {
    this.opts = { ...RENDEZVOUS_DEFAULTS, ...options };
    if (this.opts.maxRoomMembers > MAX_LISTABLE_MEMBERS)
      throw badArgument(`maxRoomMembers is at most ${MAX_LISTABLE_MEMBERS} (a full list must fit 255 parts)`);
    const clock = components.clock;
    const log = components.logger ?? silentLogger;
    const random = components.randomBytes ?? ((n: number) => new Uint8Array(randomBytes(n)));
    this.limitLog = new LimitLog(clock, log);
    this.registry = components.registry ?? new InMemoryRegistry(this.opts.maxRoomMembers);
    this.core = {
      opts: this.opts,
      clock,
      log,
      random,
      stats: this.stats,
      registry: this.registry,
      bindings: this.bindings,
      limitLog: this.limitLog,
    };
    this.cookies = new CookieJar(() => clock.now(), random(32));
    this.serverKey = components.serverKey ?? generateKeyPair(random);
    this.introduced = new IntroducedPairs({
      ttlMs: this.opts.relayPairTtlMs,
      maxPerPeer: this.opts.relayMaxPairs,
    });
    this.presence = new PresenceFanout(
      this.opts,
      clock,
      this.registry,
      this.bindings,
      this.limitLog,
      this.stats.presence,
    );
    this.registerLimit = new RateKeys(this.opts.registerRate, this.opts.registerBurst, this.opts.maxRateKeys);
    this.registrar = new Registrar(this.core, {
      cookies: this.cookies,
      limit: this.registerLimit,
      serverKey: this.serverKey,
      presence: this.presence,
    });
    this.introducer = new Introducer(this.core, this.introduced);
    this.handovers = new Handovers(clock, (rec) => {
      this.cluster?.gone(rec);
      this.presence.changed(rec.room, rec);
      this.draining?.drain.check();
    });
    if (components.cluster) {
      this.cluster = new ClusterGlue(components.cluster, {
        core: this.core,
        bindings: this.bindings,
        presence: this.presence,
        introducer: this.introducer,
        forget: (rec) => this.forgetMember(rec),
        arrived: (id) => {
          if (this.handovers.arrived(id)) this.draining?.drain.check();
        },
        front: () => this.front,
      });
      this.core.cluster = this.cluster;
    }
    this.udp = new UdpFront(
      components.network,
      { handle: (m, c, r) => this.handle(m, c, r), stats: this.stats },
      log,
    );
  }

  /** Rate-limit buckets held now, by kind, and how many were forgotten to make room (--max-rate-keys). */
  get rateKeys(): { register: number; connect: number; evicted: number } {
    const register = this.registerLimit;
    const connect = this.introducer.limit;
    return { register: register.size, connect: connect.size, evicted: register.evicted + connect.evicted };
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

  /** Everything /metrics reports, read now (metrics.ts renders it). */
  snapshot(): MetricsSnapshot {
    const mem = process.memoryUsage();
    return {
      stats: this.stats,
      relay: this.relayStats,
      streams: this.streamConnections,
      peers: this.registry.countByTransport(),
      uniquePeers: this.registry.size,
      pairs: this.introduced.counts(this.core.clock.now()),
      relaySessionsTotal: this.introduced.sessionsTotal,
      rateKeys: this.rateKeys,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed },
      ...(this.cluster ? { cluster: this.clusterSnapshot(this.cluster) } : {}),
    };
  }

  private clusterSnapshot(c: ClusterGlue): NonNullable<MetricsSnapshot['cluster']> {
    return {
      stats: c.node.stats,
      members: this.registry.size,
      mirrored: c.node.mirroredCount,
      liveNodes: c.node.liveNodes,
      up: c.node.health().up,
    };
  }

  /** What /healthz says: draining (503), or degraded (with why) while a cluster node cannot reach Redis. */
  health(): { status: 'ok' | 'degraded' | 'draining'; reason?: string; peers: number; connections: number } {
    const base = { peers: this.registry.size, connections: this.streamConnections.open };
    if (this.draining) return { status: 'draining', ...base };
    const h = this.cluster?.node.health();
    return h && !h.up ? { status: 'degraded', reason: h.reason, ...base } : { status: 'ok', ...base };
  }

  /** In a cluster: this node's id and counters (tests, /metrics). */
  get clusterNode(): ClusterGlue['node'] | undefined {
    return this.cluster?.node;
  }

  /** The STUN-only alternate-port UDP endpoint (`altPort`), once started, if it is open. */
  get altEndpoint(): Endpoint | undefined {
    return this.udp.altEndpoint;
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
    const open = this.udp.endpoint;
    if (open) return open;
    this.started = true;
    let bound: Endpoint;
    try {
      bound = await this.udp.open(this.opts.host, this.opts.port, this.opts.altPort);
      await this.listen(bound.port);
    } catch (e) {
      this.udp.close();
      this.started = false;
      throw e;
    }
    this.scheduleSweep();
    this.cluster?.node.start();
    const alt = this.udp.altEndpoint;
    this.core.log.info('listening', {
      udp: endpointKey(bound),
      ...(alt ? { stunAlt: endpointKey(alt) } : {}),
      ...(this.listener ? { tcp: endpointKey(this.listener.local), tls: this.opts.tls !== undefined } : {}),
    });
    return bound;
  }

  /** With a stream network: the stream front and the HTTP routes on TCP `port`. */
  private async listen(port: number): Promise<void> {
    const streams = this.components.streamNetwork;
    if (!streams) return;
    const front = new StreamFront(this.streamPort(), this.opts, this.core.clock, this.core.log);
    this.listener = await streams.listenStream(this.opts.host, port, (s) => front.accept(s), {
      pingIntervalMs: this.opts.pingMs,
      maxMessageBytes: this.opts.maxMessageBytes,
      maxConnections: this.opts.maxConnections,
      admit: (remote) => front.admit(remote),
      connections: front.gate,
      upgradeTimeoutMs: this.opts.upgradeTimeoutMs,
      closeTimeoutMs: this.opts.closeTimeoutMs,
      http: httpRoutes({
        health: () => this.health(),
        snapshot: () => this.snapshot(),
      }),
      ...(this.opts.tls ? { tls: this.opts.tls } : {}),
    });
    this.front = front;
  }

  /** What the stream front may ask of the server, and nothing more. */
  private streamPort(): StreamPort {
    return {
      handle: (msg, ctx, raw) => this.handle(msg, ctx, raw),
      closed: (idHex, connection, quiet) => this.streamClosed(idHex, connection, quiet),
      count: (reason) => void this.stats.dropped[reason]++,
      registry: this.registry,
      introduced: this.introduced,
      ...(this.cluster ? { forward: this.cluster.forward.bind(this.cluster) } : {}),
    };
  }

  /**
   * Move the members away before a stop (rendezvous/drain.ts): from now on HELLO and REGISTER are
   * dropped (`draining`), every member bound here is told GOING_AWAY, and the promise resolves
   * when none is left or after `ms`. Idempotent: a second call gets the first one's promise.
   */
  drain(ms: number): Promise<DrainResult> {
    if (!this.draining) {
      const drain = new Drain({
        clock: this.core.clock,
        log: this.core.log,
        bindings: this.bindings,
        handingOver: () => this.handovers.size,
      });
      this.draining = { drain, result: drain.run(ms) };
    }
    return this.draining.result;
  }

  /** GOING_AWAY messages sent by a drain (tests). */
  get goingAwaySent(): number {
    return this.draining?.drain.sent ?? 0;
  }

  /** Stop: close the UDP socket, the TCP listener and every stream; idempotent. */
  async close(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.core.clock.clearTimeout(this.sweepTimer);
    this.draining?.drain.close();
    this.handovers.close();
    // The others hear of this node's members leaving while its sockets still close.
    await this.cluster?.node.close();
    this.presence.close();
    this.limitLog.close();
    this.introducer.close();
    this.udp.close();
    this.front?.close();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
  }

  /**
   * Transport-agnostic dispatch: the same message set arrives over UDP or the WebSocket. `raw` is
   * the message as received (its auth trailer is checked against the sender's registration).
   * Public so a test can drive the server without a network.
   */
  handle(msg: Message, ctx: ReplyContext, raw: Uint8Array): void {
    if (this.draining && (msg.type === MsgType.HELLO || msg.type === MsgType.REGISTER)) {
      this.stats.dropped.draining++;
      return;
    }
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
        return this.registrar.register(msg, ctx, raw);
      case MsgType.KEEPALIVE:
        return this.onKeepalive(msg, ctx, raw);
      case MsgType.CONNECT:
        return this.introducer.connect(msg, ctx, raw);
      case MsgType.INTRODUCE_ACK:
        return this.introducer.ack(msg, ctx, raw);
      case MsgType.LEAVE:
        return this.onLeave(msg, ctx, raw);
      case MsgType.NAT_INFO:
        return takeNatInfo(this.core, msg, ctx, raw);
      default:
        this.stats.dropped.unexpected++;
    }
  }

  private onKeepalive(m: Keepalive, ctx: ReplyContext, raw: Uint8Array): void {
    const who = authenticateRequest(this.core, m, ctx, raw);
    if (!who) return;
    const rec = who.rec;
    if (ctx.transport === 'udp' && rec.udp) rec.udp.lastSeen = this.core.clock.now();
    const version = this.registry.roomVersion(rec.room);
    ctx.reply(
      who.auth.seal(
        encode({ type: MsgType.KEEPALIVE_ACK, txid: m.txid, observed: ctx.from, presenceVersion: version }),
      ),
    );
    this.presence.keepalive(rec, m.presenceVersion);
  }

  private onLeave(m: Leave, ctx: ReplyContext, raw: Uint8Array): void {
    const who = authenticate(this.core, toHex(m.id), ctx, raw);
    if (typeof who === 'string') return;
    this.registry.remove(who.rec.idHex);
    this.bindings.follow(who.rec.idHex, undefined);
    this.memberGone(who.rec, 'leave');
  }

  /** A peer's stream connection closed: its WS binding goes if still that connection's. */
  private streamClosed(idHex: string, connection: number, quiet: boolean): void {
    const gone = this.registry.unbind(idHex, 'ws', connection);
    this.bindings.follow(idHex, this.registry.get(idHex));
    if (gone && !quiet) this.memberGone(gone, 'connection closed');
    this.draining?.drain.check();
  }

  private scheduleSweep(): void {
    this.sweepTimer = this.core.clock.setTimeout(
      () => {
        this.sweep();
        if (this.started) this.scheduleSweep();
      },
      Math.min(5_000, this.opts.keepaliveMs),
    );
  }

  /** Expire silent registrations and forget old CONNECT transactions and expired pairs. */
  private sweep(): void {
    const now = this.core.clock.now();
    const gone = this.registry.expire(now - this.opts.expiryMs);
    this.bindings.prune(this.registry);
    for (const rec of gone) {
      this.stats.expired++;
      this.forgetMember(rec);
      this.core.log.info('expired', { id: rec.idHex, name: rec.name, room: rec.room });
    }
    this.introducer.sweep(now);
    this.introduced.sweep(now);
    this.draining?.drain.check();
  }

  /** A member lost its last binding outside of expiry (LEAVE, its WebSocket closed): tell its room. */
  private memberGone(rec: MemberRecord, reason: string): void {
    this.core.log.info('left', { id: rec.idHex, name: rec.name, room: rec.room, reason });
    if (!this.draining || !this.cluster || rec.node !== undefined) return this.forgetMember(rec);
    // Most likely moving to another node (GOING_AWAY): the rooms hear of it only if it does not arrive.
    this.introduced.forget(rec.idHex);
    this.introducer.limit.forget(rec.idHex);
    this.presence.forget(rec.idHex);
    this.handovers.hold(rec);
    this.draining.drain.check();
  }

  /** A member left the registry: its room learns it; its per-member state goes. */
  private forgetMember(rec: MemberRecord): void {
    this.cluster?.gone(rec);
    this.introduced.forget(rec.idHex);
    this.introducer.limit.forget(rec.idHex);
    this.presence.changed(rec.room, rec);
    this.presence.forget(rec.idHex);
    this.draining?.drain.check();
  }
}
