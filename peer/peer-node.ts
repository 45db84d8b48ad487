import { randomBytes } from 'node:crypto';
import { customRandom, urlAlphabet } from 'nanoid';
import type { Clock } from '../common/clock.js';
import { Emitter } from '../common/emitter.js';
import { PunchlineError } from '../common/errors.js';
import { type Identity, fingerprint } from '../common/identity/identity.js';
import type { PortBehaviour } from '../common/nat-behaviour.js';
import { silentLogger, type Logger } from '../common/log.js';
import { type DatagramSocket, type Endpoint, endpointKey } from '../common/net/types.js';
import { describePath } from '../common/path/path-id.js';
import { TimerCoalescer } from '../common/session/timer-coalescer.js';
import { toHex } from '../common/wire/bytes.js';
import type { Member } from '../common/wire/messages.js';
import { type AppMessage, MAX_TEXT_BYTES } from './app-message.js';
import type { BulkResult } from './bulk-lane.js';
import { DatagramDemux, PeerStats } from './datagram-demux.js';
import type {
  EmitPeerEvent,
  IncomingBulk,
  PeerEvents,
  PeerFigures,
  PeerIdentity,
  PeerInfo,
  TrustGate,
} from './peer-events.js';
import { relayPortOf } from './link-policy.js';
import { PeerLink, type PathMode } from './peer-link.js';
import { PEER_DEFAULTS, type PeerComponents, type PeerOptions } from './peer-options.js';
import { PeerTable, type PeerEntry } from './peer-table.js';
import { NAT_SETTLE_MS, PunchOrchestrator } from './punch-orchestrator.js';
import { PUNCH_DEFAULTS } from './puncher.js';
import { emptyClientStats, type RendezvousClientStats, type ServerState } from './rendezvous-client.js';
import {
  ServerFailover,
  type ServerFailoverComponents,
  failoverOptions,
  serverTargets,
} from './server-failover.js';
import { ServerGate } from './server-gate.js';

export type {
  PeerEvents,
  PeerFigures,
  PeerIdentity,
  PeerInfo,
  PeerKeysSeen,
  PeerState,
  TrustGate,
} from './peer-events.js';
export { PEER_DEFAULTS } from './peer-options.js';
export type { PeerComponents, PeerOptions } from './peer-options.js';

/**
 * A punchline peer: one UDP socket for everything (registration, keepalives, punching and the
 * encrypted sessions), so the NAT mapping the server observes is the very one the other peer
 * punches. Session packets are routed by connection id, not by source address, so a session
 * survives its peer's address changing (NAT rebinding) and, later, a change of path.
 *
 * The node composes its parts: the datagram demux (peer/datagram-demux.ts) behind the server
 * gate (peer/server-gate.ts), the server connections (peer/server-connections.ts), the peer table
 * (peer/peer-table.ts) and punch orchestration with its retry loops (peer/punch-orchestrator.ts);
 * here link events become node events.
 */
export class PeerNode extends Emitter<PeerEvents> {
  readonly stats = new PeerStats();
  /** One timer for the heartbeats of all this node's sessions (docs/session.md, "Idle timers"). */
  private readonly heartbeats: TimerCoalescer;
  readonly identity: Identity;
  private readonly opts: PeerOptions & { room: string; port: number; keepaliveMs: number; mode: PathMode };
  readonly clock: Clock;
  readonly log: Logger;
  private readonly random: (n: number) => Uint8Array;
  private readonly newId: () => string;
  private socket: DatagramSocket | undefined;
  private readonly gate: ServerGate;
  private servers: ServerFailover | undefined;
  private readonly demux: DatagramDemux;
  private readonly table: PeerTable;
  private readonly punching: PunchOrchestrator;
  private trustGate: TrustGate | undefined;
  private receiver: ((m: PeerEvents['message']) => Promise<void>) | undefined;
  private bulkReceiver: ((r: IncomingBulk) => Promise<void | 'refused'>) | undefined;
  private controlReceiver: ((peerId: string, data: Uint8Array) => void) | undefined;
  private storeRetryMs: number | undefined;
  private closed = false;
  local: Endpoint | undefined;

  constructor(
    options: PeerOptions,
    private readonly c: PeerComponents,
  ) {
    super();
    this.opts = { ...PEER_DEFAULTS, ...options };
    this.identity = c.identity;
    this.clock = c.clock;
    this.heartbeats = new TimerCoalescer(c.clock);
    this.log = c.logger ?? silentLogger;
    this.random = c.randomBytes ?? ((n) => new Uint8Array(randomBytes(n)));
    // nanoid's alphabet and length, drawn from the injected random source (a seeded run replays).
    this.newId = c.newId ?? customRandom(urlAlphabet, 21, (size) => this.random(size));
    this.gate = new ServerGate(serverTargets(this.opts)[0]!.server, this.random);
    this.table = new PeerTable(
      (id, name) => this.makeLink(id, name),
      (e) => this.wire(e),
    );
    const emit: EmitPeerEvent = (name, e) => this.emit(name, e);
    this.punching = new PunchOrchestrator({
      identity: this.identity,
      clock: this.clock,
      logger: this.log,
      randomBytes: this.random,
      counters: this.stats.punch,
      options: { ...PUNCH_DEFAULTS, ...this.opts.punch },
      mode: this.opts.mode,
      send: (b, to) => this.send(b, to),
      network: c.network,
      ...(this.opts.bind !== undefined ? { bindAddress: this.opts.bind } : {}),
      searchCounters: this.stats.search,
      deliver: (d, from, via) => this.demux.onDatagram(d, from, via),
      nat: () => this.natBehaviour,
      natSettled: (ms) => this.natSettled(ms),
      udp: () => this.servers?.udp,
      signalling: () => this.servers?.signalling,
      relay: () => ({
        configured: this.servers?.relayConfigured === true,
        ready: this.servers?.relayReady === true,
      }),
      table: this.table,
      emit,
    });
    this.demux = new DatagramDemux(this.stats, {
      gate: this.gate,
      logger: this.log,
      peerLink: (idHex) => this.table.get(idHex)?.link,
      server: (m, raw) => this.servers?.onMessage(m, raw),
      probe: (m, from, size, via) => this.punching.probe(m, from, size, via),
      portProbe: (m, from, via) => this.punching.searches.portProbe(m, from, via),
    });
  }

  get serverState(): ServerState {
    return this.servers?.state ?? 'connecting';
  }

  /**
   * What the rendezvous clients (UDP and the relay stream's) dropped as forged or stale, and the
   * presence gaps they repaired, summed.
   */
  get serverDrops(): RendezvousClientStats {
    return this.servers?.drops ?? emptyClientStats();
  }

  get name(): string {
    return this.servers?.name ?? this.opts.name;
  }
  get room(): string {
    return this.opts.room;
  }

  /**
   * Check every session's peer before any message goes into it (see TrustGate). Set it before
   * the first message is sent; without one every introduced key is accepted.
   */
  setTrustGate(gate: TrustGate | undefined): void {
    this.trustGate = gate;
  }

  /** The name a peer (by id, hex) goes by here, if the node knows it; O(1), unlike peerList(). */
  peerName(idHex: string): string | undefined {
    return this.table.get(idHex)?.link.name;
  }

  /**
   * Who a name or id (or an id prefix of 4+ hex digits) refers to: its id, name, fingerprint, and
   * the keys its last introduction showed. Throws UNKNOWN_PEER, or BAD_ARGUMENT when ambiguous.
   */
  lookup(nameOrId: string): PeerIdentity {
    const l = this.table.resolve(nameOrId).link;
    return {
      id: l.idHex,
      name: l.name,
      fingerprint: fingerprint(l.id),
      keys: l.intro ? { signKey: toHex(l.intro.signKey), dhKey: toHex(l.intro.dhKey) } : undefined,
    };
  }

  /** Ask the trust gate again for this peer: messages it held go out if it now says yes. */
  release(nameOrId: string): void {
    this.table.resolve(nameOrId).link.release();
  }

  /** Take another name in the room (re-registers; NAME_TAKEN leaves the old one). */
  async rename(name: string): Promise<void> {
    const client = this.servers?.udp;
    if (!client) throw new PunchlineError('CLOSED', 'not started');
    await client.rename(name);
  }

  /** Bind the socket and start registering; idempotent. */
  async start(): Promise<void> {
    if (this.socket || this.closed) return;
    const sock = this.c.network.createUdpSocket();
    sock.onMessage((data, from) => this.demux.onDatagram(data, from));
    this.local = await sock.bind(this.opts.port, this.opts.bind);
    this.socket = sock;
    const lanHosts =
      this.opts.bind && this.opts.bind !== '0.0.0.0' ? [this.opts.bind] : this.c.network.localAddresses();
    const lan = lanHosts.slice(0, 8).map((address) => ({ address, port: this.local!.port }));
    this.servers = new ServerFailover(failoverOptions(this.opts, lan), this.serverComponents());
    this.servers.start();
  }

  /** The rendezvous server in use (or being tried), by the name given (HOST:PORT). */
  get serverName(): string {
    return this.servers?.target.name ?? serverTargets(this.opts)[0]!.name;
  }

  /** The rendezvous servers this node may use, by name, in order. */
  get serverNames(): string[] {
    return serverTargets(this.opts).map((t) => t.name);
  }

  private serverComponents(): ServerFailoverComponents {
    return {
      identity: this.identity,
      clock: this.clock,
      logger: this.log,
      randomBytes: this.random,
      streams: this.c.streams,
      send: (b, to) => this.send(b, to),
      gate: this.gate,
      emit: (name, e) => this.emit(name, e),
      presence: (members) => this.onPresence(members),
      introduce: (intro) => this.punching.onIntroduce(intro),
      relayUp: () => {
        for (const e of this.table.values()) e.link.relayUp();
      },
      relayed: (from, payload) => this.demux.onRelayed(from, payload),
      observedChanged: () => this.punching.retries.retryDirectNow(),
      natProbe: { network: this.c.network, local: this.local!, bind: this.opts.bind },
      moved: () => this.punching.retries.serverMoved(),
    };
  }

  /** Send from the main socket, or from the port search socket that found the path to `to`. */
  private send(bytes: Uint8Array, to: Endpoint): void {
    this.stats.datagramsOut++;
    (this.punching.searches.socketFor(to) ?? this.socket)?.send(bytes, to);
  }

  /** A new peer's link, wired to the demux's routes, the relay, the trust gate and the receiver. */
  private makeLink(id: Uint8Array, name: string): PeerLink {
    const idHex = toHex(id);
    const relayPort = relayPortOf(() => this.servers);
    const link: PeerLink = new PeerLink(
      id,
      name,
      {
        identity: this.identity,
        clock: this.clock,
        logger: this.log,
        randomBytes: this.random,
        heartbeats: this.heartbeats,
        accept: () => {
          const r = this.receiver;
          return r ? (l, m) => r(incoming(l, m)) : undefined;
        },
        bulkSink: () => {
          const r = this.bulkReceiver;
          return r && ((b) => r({ ...b, peer: link.name, peerId: idHex }));
        },
        control: (d) => this.controlReceiver?.(idHex, d),
        ...(this.storeRetryMs !== undefined ? { retryMs: this.storeRetryMs } : {}),
        route: (cids, l) => this.demux.route(link, cids, l),
        mayHandOver: ({ name, intro }) =>
          this.trustGate?.({ name, id: idHex, signKey: toHex(intro.signKey), dhKey: toHex(intro.dhKey) }) ??
          true,
      },
      (b, to) => this.send(b, to),
      this.servers?.relayConfigured ? relayPort : undefined,
      this.opts.mode,
    );
    return link;
  }

  /** Link events become node events. */
  private wire(e: PeerEntry): void {
    const l = e.link;
    const retries = this.punching.retries;
    l.on('open', (o) => {
      retries.connected(e);
      e.openMs = o.ms;
      const view = this.connectedView(e, o.path ?? '');
      this.emit('connected', view);
      if (view.path === 'relay') retries.scheduleDirect(e);
    });
    l.on('pathChanged', (p) => {
      this.log.debug('path changed', { peer: l.name, path: describePath(p), state: l.session?.state });
      if (l.session?.state !== 'open') return; // before 'open', 'connected' tells the path
      if (l.reportedDead) return; // a peer reported gone has no path until it is heard again
      this.emit('path', {
        peer: l.name,
        peerId: l.idHex,
        path: p.kind,
        remote: p.kind === 'relay' ? 'relay' : endpointKey(p.remote),
      });
      if (p.kind === 'relay') retries.scheduleDirect(e);
      else {
        this.clock.clearTimeout(e.directTimer);
        e.directTimer = undefined;
        e.directTries = 0;
      }
    });
    l.on('message', (m) => this.emit('message', incoming(l, m)));
    l.on('delivered', (d) => this.emit('delivered', { peer: l.name, peerId: l.idHex, messageId: d.id }));
    l.on('dead', () => {
      this.emit('disconnected', { peer: l.name, peerId: l.idHex, reason: 'timeout' });
      retries.scheduleReconnect(e);
    });
    // The same session heard again after it was reported gone: connected again, as it is now.
    l.on('alive', (a) => {
      if (!a.afterDead || !l.open) return;
      retries.connected(e);
      this.emit('connected', this.connectedView(e, ''));
    });
    l.on('closed', (c) => {
      this.punching.searches.forget(l.id);
      this.emit('disconnected', {
        peer: l.name,
        peerId: l.idHex,
        reason: c.reason === 'error' ? 'error' : 'closed',
      });
      if (c.error) this.emit('error', { code: c.error.code, message: c.error.message, peer: l.name });
      if (l.pendingCount > 0 && l.present) retries.scheduleReconnect(e);
    });
  }

  private onPresence(members: Member[]): void {
    const me = toHex(this.identity.id);
    // Messages waited for these peers to come back: connect now.
    for (const e of this.table.present(members, me)) this.punching.connect(e).catch(() => {});
    this.emit('presence', {
      peers: members.filter((m) => toHex(m.id) !== me).map((m) => ({ id: toHex(m.id), name: m.name })),
    });
  }

  /**
   * The open session with a peer as a `connected` event would tell it (path as it is now), or
   * undefined when none is open: how a `connect` to a connected peer is answered.
   */
  connection(nameOrId: string): PeerEvents['connected'] | undefined {
    const e = this.table.resolve(nameOrId);
    return e.link.open ? this.connectedView(e, '') : undefined;
  }

  /** The `connected` event for a peer's open session, its path as it is now. */
  private connectedView(e: PeerEntry, pathLabel: string): PeerEvents['connected'] {
    const l = e.link;
    const kind = l.path ?? 'direct';
    return {
      peer: l.name,
      peerId: l.idHex,
      path: kind,
      remote: kind === 'relay' ? 'relay' : l.remote ? endpointKey(l.remote) : pathLabel,
      ms: e.openMs,
      fingerprint: fingerprint(l.id),
      signKey: l.intro ? toHex(l.intro.signKey) : '',
      dhKey: l.intro ? toHex(l.intro.dhKey) : '',
    };
  }

  /** A new message id (21 characters of nanoid's alphabet), from the node's random source. */
  newMessageId(): string {
    return this.newId();
  }

  /** Connect to a peer: introduction, hole punching, then the encrypted session. Resolves when it is open. */
  connect(nameOrId: string): Promise<void> {
    return this.punching.connect(this.table.resolve(nameOrId));
  }

  /**
   * Give incoming messages to `store` instead of the 'message' event: a message is acknowledged
   * to its sender (its "delivered") only once the promise resolves; a rejected one is offered
   * again every `retryMs` and by the sender on its next session. Set it before sessions open.
   */
  setReceiver(store: (m: PeerEvents['message']) => Promise<void>, retryMs?: number): void {
    this.receiver = store;
    if (retryMs !== undefined) this.storeRetryMs = retryMs;
  }

  /** Take peers' bulk records: each is acknowledged only once `sink` resolves (peer/bulk-intake.ts). */
  setBulkReceiver(sink: (r: IncomingBulk) => Promise<void | 'refused'>): void {
    this.bulkReceiver = sink;
  }

  /** Take peers' control records (peer/control-record.ts), acknowledged as they arrive. */
  setControlReceiver(take: (peerId: string, data: Uint8Array) => void): void {
    this.controlReceiver = take;
  }

  /** A control record to a peer's open session; false without one (say it again on the next). */
  sendControl(nameOrId: string, record: Uint8Array): boolean {
    return this.table.resolve(nameOrId).link.bulk.control(record);
  }

  /**
   * Send bytes in bulk over the open session with a peer (peer/bulk-lane.ts): read a chunk at a
   * time as the session takes them, behind any chat line. Resolves once the peer's receiver
   * has taken every byte; fails (CLOSED) if there is no open session or it ends on the way.
   */
  sendBulk(
    nameOrId: string,
    source: AsyncIterable<Uint8Array> | Uint8Array,
    id?: string,
    start = 0,
  ): Promise<BulkResult> {
    return this.table.resolve(nameOrId).link.bulk.send(id ?? this.newId(), source, start);
  }

  /**
   * Send a text message; returns its id. It waits in the peer's link until a receipt confirms
   * it, across reconnects; a peer not yet connected is connected first.
   */
  sendMessage(
    nameOrId: string,
    text: string,
    opts: { id?: string; ts?: number; room?: boolean; action?: boolean } = {},
  ): string {
    const size = Buffer.byteLength(text);
    if (size > MAX_TEXT_BYTES)
      throw new PunchlineError(
        'BAD_ARGUMENT',
        `text is ${size} bytes; at most ${MAX_TEXT_BYTES} fit in one message`,
      );
    const e = this.table.resolve(nameOrId);
    const msg: AppMessage = {
      id: opts.id ?? this.newId(),
      ts: opts.ts ?? this.clock.wallNow(),
      room: opts.room ?? false,
      text,
      ...(opts.action ? { action: true } : {}),
    };
    e.link.send(msg);
    this.emit('sent', { peer: e.link.name, peerId: e.link.idHex, messageId: msg.id });
    if (!e.link.open && e.link.present) this.punching.connect(e).catch(() => {});
    return msg.id;
  }

  peerList(): PeerInfo[] {
    return this.table.list();
  }

  /** Session figures for one peer, as measured (the `stats` command and /info present them). */
  peerStats(nameOrId: string): PeerFigures {
    return this.table.figures(this.table.resolve(nameOrId));
  }

  /**
   * Resolves once a running measurement of our NAT's port behaviour has reached the server (at
   * most `maxMs`; at once when none runs): a connect waits for it, so its introduction carries it.
   */
  natSettled(maxMs = NAT_SETTLE_MS): Promise<void> {
    return this.servers?.natSettled(maxMs) ?? Promise.resolve();
  }

  /** Our NAT's port behaviour as measured against the rendezvous's two ports (docs/nat-traversal.md). */
  get natBehaviour(): PortBehaviour {
    return this.servers?.udp?.nat ?? { kind: 'unknown' };
  }

  /** Close every session (telling the peers), leave the room, close the socket; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.punching.close();
    for (const e of this.table.values()) e.link.close();
    this.heartbeats.close();
    this.servers?.close();
    await this.socket?.flush?.();
    this.socket?.close();
  }
}

/** An incoming message as the `message` event tells it. */
function incoming(l: PeerLink, m: AppMessage): PeerEvents['message'] {
  return {
    peer: l.name,
    peerId: l.idHex,
    messageId: m.id,
    text: m.text,
    ts: m.ts,
    room: m.room,
    ...(m.action ? { action: true } : {}),
  };
}
