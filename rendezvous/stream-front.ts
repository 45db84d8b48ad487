import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { PING_TIMEOUT, TEXT_FRAME, TOO_BIG } from '../common/net/stream.js';
import type { ConnectionGate, ConnectionTimeout, MessageStream } from '../common/net/stream.js';
import { endpointKey } from '../common/net/types.js';
import type { Endpoint } from '../common/net/types.js';
import { MsgType } from '../common/wire/constants.js';
import { decode, isPunchline } from '../common/wire/messages.js';
import type { Message } from '../common/wire/messages.js';
import type { IntroducedPairs } from './introduced.js';
import { LimitLog } from './limit-log.js';
import type { ResolvedOptions } from './options.js';
import type { MemberRecord, Registry } from './registry.js';
import { relayFrame, relayFromNode, RELAY_DROP_REASONS } from './relay.js';
import type { RelayConn, RelayContext, RelayDropReason } from './relay.js';
import type { ReplyContext } from './reply.js';
import { PeerRateLimit } from './token-bucket.js';
import { decodeOrDrop } from '../common/wire/decode-or-drop.js';

/** What the stream front needs of the server (server.ts builds it): dispatch, unbinding, a counter. */
export interface StreamPort {
  /** A decoded message other than RELAY: the same dispatch as over UDP. */
  handle(msg: Message, ctx: ReplyContext, raw: Uint8Array): void;
  /**
   * Peer `idHex`'s stream `connection` is gone: unbind it if it is still the one registered, and
   * tell its room if that was its last binding; `quiet` at shutdown (nobody is told).
   */
  closed(idHex: string, connection: number, quiet: boolean): void;
  /** A message dropped before dispatch: not a punchline message, or it does not decode. */
  count(reason: 'malformed'): void;
  /** The relay's authorities: which connection a peer registered on, which pairs were introduced. */
  readonly registry: Pick<Registry, 'get'>;
  readonly introduced: IntroducedPairs;
  /** In a cluster: a frame for a member another node holds goes there (relay.ts RelayContext). */
  readonly forward?: RelayContext['forward'];
}

/** Signalling to a peer may fill its queue to this many times --relay-queue-bytes (256 KiB by default). */
const SIGNAL_QUEUE_FACTOR = 4;
/**
 * TCP connections accepted beyond --max-connections, for what is not a WebSocket: /healthz and
 * /metrics still answer when the server is full (an upgrade on one of these is answered 429).
 * Each still counts under its IP's limit, and is cut by the upgrade timeout if it says nothing.
 */
export const HTTP_HEADROOM = 32;

export type RefusedReason = 'ip_limit' | 'max_connections';
export type ClosedReason =
  'auth_timeout' | 'ping_timeout' | 'replaced' | 'protocol' | 'too_big' | 'remote' | 'shutdown';
const CLOSED_REASONS: readonly ClosedReason[] = [
  'auth_timeout',
  'ping_timeout',
  'replaced',
  'protocol',
  'too_big',
  'remote',
  'shutdown',
];

/** The stream side's counters (docs/contributing.md §8); /metrics renders them (metrics.ts). */
export interface RelayStats {
  /** Connections accepted, ever. */
  accepted: number;
  refused: Record<RefusedReason, number>;
  closed: Record<ClosedReason, number>;
  /** Messages received on streams (every type). */
  messagesIn: number;
  /** RELAY frames received. */
  framesIn: number;
  /** Frames forwarded as RELAYED, and their payload bytes. */
  framesRelayed: number;
  bytesRelayed: number;
  dropped: Record<RelayDropReason, number>;
  /** The largest receiver queue (bufferedAmount) the relay has left after a send, bytes. */
  queueHighWater: number;
  /** Connections the transport cut itself: never upgraded, or never finished closing. */
  timeouts: Record<ConnectionTimeout, number>;
  /**
   * Gauges. `sockets`: connections held now, each counted under its IP's limit and the total from
   * accept to destruction; of them, `upgrading`: not (yet) a WebSocket (including plain HTTP), and
   * `closing`: closed WebSockets whose connection is not destroyed yet.
   */
  sockets: number;
  upgrading: number;
  closing: number;
}

/**
 * One place under the limits: a transport connection from accept to destruction (the `ws`
 * transport reports these through the gate), or, on a transport without a connection phase (the
 * simulator), a stream from accept to its close.
 */
interface Slot {
  readonly ip: string;
  state: 'upgrading' | 'open' | 'closing' | 'gone';
  /** Counted through the ConnectionGate (released by it), not by the stream. */
  readonly gated: boolean;
}

/** One accepted stream: a peer's single connection, once it has registered on it. */
interface Conn extends RelayConn {
  readonly ip: string;
  readonly slot: Slot;
  authTimer: TimerHandle | undefined;
  closing: ClosedReason | undefined;
  readonly ctx: ReplyContext;
}

/**
 * The rendezvous server's stream (WebSocket) front: accepts connections, enforces the per-IP and
 * total limits and the registration deadline, charges every message to the peer's token buckets,
 * and dispatches: RELAY to the relay (relay.ts), everything else to the server's dispatch (its
 * StreamPort) with a stream ReplyContext (the same message set as over UDP). Transport-agnostic: the same code
 * serves `ws` (common/net/ws-node.ts) and the simulated network.
 */
export class StreamFront {
  readonly stats: RelayStats = StreamFront.emptyStats();
  /** Open streams (not closing). */
  private readonly conns = new Set<Conn>();
  /** Slots held per source IP: what --max-conns-per-ip limits. */
  private readonly perIp = new Map<string, number>();
  /** Gated slots by remote endpoint (ip:port names one TCP connection to this listener). */
  private readonly gated = new Map<string, Slot>();
  private readonly limitLog: LimitLog;
  /** Given to the transport (listenStream's `connections`). */
  readonly gate: ConnectionGate = {
    opened: (remote) => this.connectionOpened(remote),
    closed: (remote, timeout) => this.connectionClosed(remote, timeout),
  };
  /** Authenticated connections by peer id (hex): where RELAYED frames go. */
  private readonly byPeer = new Map<string, Conn>();
  private nextId = 1;
  private stopping = false;

  static emptyStats(): RelayStats {
    const dropped = {} as Record<RelayDropReason, number>;
    for (const r of RELAY_DROP_REASONS) dropped[r] = 0;
    const closed = {} as Record<ClosedReason, number>;
    for (const r of CLOSED_REASONS) closed[r] = 0;
    return {
      accepted: 0,
      refused: { ip_limit: 0, max_connections: 0 },
      closed,
      messagesIn: 0,
      framesIn: 0,
      framesRelayed: 0,
      bytesRelayed: 0,
      dropped,
      queueHighWater: 0,
      timeouts: { upgrade: 0, close: 0 },
      sockets: 0,
      upgrading: 0,
      closing: 0,
    };
  }

  constructor(
    private readonly port: StreamPort,
    private readonly opts: ResolvedOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.limitLog = new LimitLog(clock, log);
  }

  /** Open connections, authenticated or not. */
  get size(): number {
    return this.conns.size;
  }

  /** Authenticated connections. */
  get authenticated(): number {
    return this.byPeer.size;
  }

  private refuse(why: RefusedReason, ip: string): false {
    this.stats.refused[why]++;
    this.limitLog.note(why, ip);
    return false;
  }

  private take(ip: string, gated: boolean): Slot {
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    this.stats.sockets++;
    if (gated) this.stats.upgrading++;
    return { ip, state: gated ? 'upgrading' : 'open', gated };
  }

  /** Move a slot to `closing` (its stream is closed, its connection may not be gone yet). */
  private toClosing(slot: Slot): void {
    if (slot.state === 'upgrading') this.stats.upgrading--;
    else if (slot.state !== 'open') return;
    slot.state = 'closing';
    this.stats.closing++;
  }

  /** The slot's connection is destroyed: give its place back. */
  private give(slot: Slot): void {
    if (slot.state === 'gone') return;
    if (slot.state === 'upgrading') this.stats.upgrading--;
    else if (slot.state === 'closing') this.stats.closing--;
    slot.state = 'gone';
    this.stats.sockets--;
    const n = (this.perIp.get(slot.ip) ?? 1) - 1;
    if (n > 0) this.perIp.set(slot.ip, n);
    else this.perIp.delete(slot.ip);
  }

  /**
   * A TCP connection was accepted (before any HTTP): it counts under its IP's limit and the total
   * from now until it is destroyed, whatever it turns out to be. The total admits HTTP_HEADROOM
   * more than --max-connections; the WebSocket cap itself is checked at the upgrade (admit).
   */
  private connectionOpened(remote: Endpoint): boolean {
    if (this.stopping) return false;
    const ip = remote.address;
    if ((this.perIp.get(ip) ?? 0) >= this.opts.maxConnsPerIp) return this.refuse('ip_limit', ip);
    if (this.stats.sockets >= this.opts.maxConnections + HTTP_HEADROOM)
      return this.refuse('max_connections', ip);
    this.gated.set(endpointKey(remote), this.take(ip, true));
    return true;
  }

  private connectionClosed(remote: Endpoint, timeout: ConnectionTimeout | undefined): void {
    const key = endpointKey(remote);
    const slot = this.gated.get(key);
    if (!slot) return;
    this.gated.delete(key);
    if (timeout) {
      this.stats.timeouts[timeout]++;
      this.limitLog.note(`${timeout}_timeout`, slot.ip);
    }
    this.give(slot);
  }

  /**
   * May a WebSocket from `remote` be accepted (asked at the upgrade)? Counts the refusal when
   * not. A gated connection has its place under the per-IP limit already; a stream of an ungated
   * transport is checked for both limits here.
   */
  admit(remote: Endpoint): boolean {
    if (this.stopping) return false;
    const ip = remote.address;
    const slot = this.gated.get(endpointKey(remote));
    if (slot) {
      // WebSockets held (open or closing) are the connections that are not upgrading.
      if (this.stats.sockets - this.stats.upgrading >= this.opts.maxConnections)
        return this.refuse('max_connections', ip);
      return true;
    }
    if (this.stats.sockets >= this.opts.maxConnections) return this.refuse('max_connections', ip);
    if ((this.perIp.get(ip) ?? 0) >= this.opts.maxConnsPerIp) return this.refuse('ip_limit', ip);
    return true;
  }

  accept(stream: MessageStream): void {
    const gatedSlot = this.gated.get(endpointKey(stream.remote));
    const pending = gatedSlot?.state === 'upgrading' ? gatedSlot : undefined;
    // The transport asked admit() already; ask again (the sim, and a race between handshakes).
    if (!this.admit(stream.remote)) {
      if (pending) this.toClosing(pending); // held until its connection is destroyed
      stream.close('connection limit', 1008);
      return;
    }
    const ip = stream.remote.address;
    let slot: Slot;
    if (pending) {
      slot = pending;
      slot.state = 'open';
      this.stats.upgrading--;
    } else slot = this.take(ip, false);
    const id = this.nextId++;
    const now = this.clock.now();
    const conn: Conn = {
      id,
      stream,
      ip,
      slot,
      peer: undefined,
      peerId: undefined,
      limit: new PeerRateLimit(
        {
          bytesPerSec: this.opts.relayRateBytes,
          burstBytes: this.opts.relayBurstBytes,
          framesPerSec: this.opts.relayRateFrames,
          burstFrames: this.opts.relayBurstFrames,
        },
        now,
      ),
      authTimer: undefined,
      closing: undefined,
      ctx: {
        from: stream.remote,
        transport: 'ws',
        connection: id,
        reply: (bytes) => this.signal(stream, bytes),
        onRegistered: (rec) => this.registered(conn, rec),
        open: () => conn.closing === undefined,
      },
    };
    this.conns.add(conn);
    this.stats.accepted++;
    conn.authTimer = this.clock.setTimeout(() => {
      if (!conn.peer) this.closeConn(conn, 'auth_timeout', 'registration timeout', 1008);
    }, this.opts.authTimeoutMs);
    stream.onMessage((data) => {
      try {
        this.onMessage(conn, data);
      } catch (e) {
        // A bug must not take the server (and every other connection) down with it.
        this.log.error('handler failed', { conn: conn.id, error: String(e) });
      }
    });
    stream.onClose((reason) => {
      this.onClosed(conn, reason);
      this.streamGone(conn);
    });
    this.log.debug('stream open', { conn: id, remote: endpointKey(stream.remote) });
  }

  /**
   * Server -> peer signalling (COOKIE, REGISTERED, PRESENCE, INTRODUCE...) is small and rare, so it
   * may go past the relay's queue cap, but not without bound: a receiver that stopped reading loses
   * it too (counted slow_consumer) until the ping finds it dead. A lost PRESENCE_DELTA shows as a
   * gap at the next one and the client asks for the full list (rendezvous/presence.ts);
   * INTRODUCE is retransmitted.
   */
  private signal(stream: MessageStream, bytes: Uint8Array): void {
    if (stream.bufferedAmount + bytes.byteLength > this.opts.relayQueueBytes * SIGNAL_QUEUE_FACTOR) {
      this.stats.dropped.slow_consumer++;
      return;
    }
    stream.send(bytes);
  }

  private registered(conn: Conn, rec: MemberRecord): void {
    this.clock.clearTimeout(conn.authTimer);
    conn.authTimer = undefined;
    if (conn.peer && conn.peer !== rec.idHex && this.byPeer.get(conn.peer) === conn) {
      // One connection, one peer: registering another id here releases the first.
      this.byPeer.delete(conn.peer);
      this.port.closed(conn.peer, conn.id, false);
    }
    const older = this.byPeer.get(rec.idHex);
    if (older && older !== conn) {
      // One connection per peer: the newer one wins (the old one is likely half-dead).
      older.peer = undefined;
      this.closeConn(older, 'replaced', 'replaced by a newer connection', 1008);
    }
    conn.peer = rec.idHex;
    conn.peerId = rec.id;
    this.byPeer.set(rec.idHex, conn);
  }

  private onMessage(conn: Conn, data: Uint8Array): void {
    if (conn.closing) return;
    this.stats.messagesIn++;
    // Every message costs tokens, not only RELAY: a flood of HELLOs is throttled the same way.
    if (!conn.limit.allow(data.byteLength, this.clock.now())) {
      this.drop('rate_limited', conn.ip);
      return;
    }
    if (!isPunchline(data)) return this.port.count('malformed');
    const msg = decodeOrDrop(decode, data, () => this.port.count('malformed'));
    if (!msg) return;
    if (msg.type === MsgType.RELAY) {
      this.stats.framesIn++;
      const why = relayFrame(conn, data, msg.peer, msg.payload, this.relayContext());
      if (why) this.drop(why, conn.ip);
      return;
    }
    this.port.handle(msg, conn.ctx, data);
  }

  private relayContext(): RelayContext {
    return {
      opts: this.opts,
      registry: this.port.registry,
      introduced: this.port.introduced,
      byPeer: this.byPeer,
      now: this.clock.now(),
      stats: this.stats,
      ...(this.port.forward ? { forward: this.port.forward } : {}),
    };
  }

  /** A RELAYED frame another node forwarded to `target` (relay.ts relayFromNode); drops counted here. */
  relayFromNode(target: string, frame: Uint8Array, node: string): void {
    if (this.stopping) return;
    const why = relayFromNode(target, frame, this.relayContext());
    if (why) this.drop(why, `node ${node}`);
  }

  private drop(why: RelayDropReason, source: string): void {
    this.stats.dropped[why]++;
    // The limits (flags) are logged; the forwarding rules (unauthenticated, not_introduced,
    // no_route) only counted: they are the normal answer to a confused or late client.
    if (why === 'rate_limited' || why === 'too_big' || why === 'slow_consumer')
      this.limitLog.note(`relay_${why}`, source);
  }

  private closeConn(conn: Conn, why: ClosedReason, reason: string, code: number): void {
    if (conn.closing) return;
    conn.closing = why;
    conn.stream.close(reason, code);
    // The peer's binding goes now (transports report the close asynchronously, after the closing
    // handshake or its timeout); its slot stays counted until the connection is destroyed.
    this.release(conn);
  }

  private onClosed(conn: Conn, reason: string): void {
    if (conn.closing) return;
    conn.closing =
      reason === PING_TIMEOUT
        ? 'ping_timeout'
        : reason === TEXT_FRAME
          ? 'protocol'
          : reason === TOO_BIG
            ? 'too_big'
            : 'remote';
    this.release(conn);
  }

  /** The stream reported its close: its connection is gone (the gate reports gated ones). */
  private streamGone(conn: Conn): void {
    if (!conn.slot.gated) this.give(conn.slot);
  }

  /**
   * Forget a connection as a peer's: counters, its peer's WS binding (and the peer, if that was
   * its last). Its slot moves to `closing` (see streamGone and the gate for the rest).
   */
  private release(conn: Conn): void {
    if (!this.conns.delete(conn)) return;
    const why = conn.closing ?? 'remote';
    this.stats.closed[why]++;
    if (why === 'auth_timeout' || why === 'too_big' || why === 'protocol' || why === 'ping_timeout')
      this.limitLog.note(why, conn.ip);
    this.clock.clearTimeout(conn.authTimer);
    this.toClosing(conn.slot);
    const peer = conn.peer;
    this.log.debug('stream closed', { conn: conn.id, peer, why: conn.closing });
    if (!peer || this.byPeer.get(peer) !== conn) return;
    this.byPeer.delete(peer);
    if (!this.stopping) this.port.closed(peer, conn.id, false);
  }

  /** Close every connection (server shutdown); the registry keeps UDP bindings. Idempotent. */
  close(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.limitLog.close();
    for (const conn of [...this.conns]) {
      if (conn.peer && this.byPeer.get(conn.peer) === conn) this.port.closed(conn.peer, conn.id, true);
      this.closeConn(conn, 'shutdown', 'server shutting down', 1001);
    }
  }
}
