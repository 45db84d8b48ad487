import { randomBytes } from 'node:crypto';
import { customRandom, urlAlphabet } from 'nanoid';
import type { Clock, TimerHandle } from '../common/clock.js';
import { Emitter } from '../common/emitter.js';
import { PunchlineError, isPunchlineError } from '../common/errors.js';
import type { ErrorCode } from '../common/errors.js';
import type { Identity } from '../common/identity/identity.js';
import { fingerprint, idText } from '../common/identity/identity.js';
import { silentLogger } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { backoffDelay, unitDraw } from '../common/path/backoff.js';
import { PROBE_BUDGET, admitAttempt } from '../common/path/probe-budget.js';
import { describePath } from '../common/path/path-id.js';
import type { StreamNetwork } from '../common/net/stream.js';
import type { DatagramSocket, Endpoint, Network } from '../common/net/types.js';
import { endpointKey, sameEndpoint } from '../common/net/types.js';
import { STUN_TXID_SIZE, decodeStun, encodeBindingRequest, isStunMessage } from '../common/wire/stun.js';
import { connectionIdOf, isSessionPacket } from '../common/session/packet.js';
import { equalBytes, toHex } from '../common/wire/bytes.js';
import { MsgType } from '../common/wire/constants.js';
import { decode, isPunchline } from '../common/wire/messages.js';
import type { Introduce, Member, Message } from '../common/wire/messages.js';
import { MAX_TEXT_BYTES } from './app-message.js';
import type { AppMessage } from './app-message.js';
import { PeerLink } from './peer-link.js';
import type { PathKind, PathMode, RelayPort } from './peer-link.js';
import { RelayChannel } from './relay-channel.js';
import type { RelayFailure } from './relay-channel.js';
import { PUNCH_DEFAULTS, PunchAttempt, newPunchCounters, validProbe } from './puncher.js';
import type { PunchCounters, PunchOptions, PunchResult, PunchTrace } from './puncher.js';
import { RendezvousClient, emptyClientStats } from './rendezvous-client.js';
import { ServerKeyPin } from './server-pin.js';
import type { RendezvousClientStats, ServerState } from './rendezvous-client.js';

export interface PeerOptions {
  server: Endpoint;
  name: string;
  room?: string;
  /** Local UDP port (0 = any). */
  port?: number;
  /** Local address to bind (default all interfaces); when set it is also the only LAN candidate. */
  bind?: string;
  /**
   * Keepalive towards the server. 15 s: no more often than RFC 8445 §11 and RFC 8085 §3.5
   * allow, and inside the ~30 s many NATs keep an idle UDP mapping. (Direct paths are kept open
   * by the session's own 5 s heartbeat.)
   */
  keepaliveMs?: number;
  punch?: Partial<PunchOptions>;
  /**
   * auto: relay at once, direct as soon as punching finds a path (the default); relay-only:
   * never punch; direct-only: never relay (UDP only: no TCP connection to the server).
   */
  mode?: PathMode;
  /** The relay's WebSocket URL (ws:// or wss://); without it (or without `streams`) there is no relay. */
  relayUrl?: string;
  /**
   * The server key's fingerprint (peer/server-pin.ts), when known: from `--server HOST:PORT#FP` or
   * servers.json. Without it the first key seen is pinned and reported in a `server-key` event.
   */
  serverFingerprint?: string;
}

export const PEER_DEFAULTS = {
  room: 'lobby',
  port: 0,
  keepaliveMs: 15_000,
  mode: 'auto' as PathMode,
} as const;

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

export interface PeerComponents {
  network: Network;
  /** The stream seam for the relay (ws in production, the simulator in tests). */
  streams?: StreamNetwork;
  clock: Clock;
  identity: Identity;
  logger?: Logger;
  randomBytes?: (n: number) => Uint8Array;
  /** Message ids (default nanoid). */
  newId?: () => string;
}

export type PeerState = 'online' | 'connecting' | 'direct' | 'relay' | 'offline';

/** What a session's peer showed: the name it is addressed by, its id and public keys (hex). */
export interface PeerKeysSeen {
  name: string;
  id: string;
  signKey: string;
  dhKey: string;
}

/**
 * Asked before the first message goes into each session (PeerLink mayHandOver): true lets the
 * messages go, false holds them in the link until release(). The chat layer's trust pins.
 */
export type TrustGate = (peer: PeerKeysSeen) => boolean;

export interface PeerInfo {
  id: string;
  name: string;
  state: PeerState;
  remote?: string;
  pending?: number;
}

export interface PeerStatsView {
  peer: string;
  id: string;
  fingerprint: string;
  state: PeerState;
  path?: PathKind;
  remote?: string;
  rtt_ms?: number;
  min_rtt_ms?: number;
  loss?: number;
  cwnd?: number;
  bytes_in_flight?: number;
  retransmits?: number;
  packets_sent?: number;
  packets_received?: number;
  pending: number;
  punch?: PunchResult;
}

export interface PeerEvents extends Record<string, unknown> {
  /** `transport`: udp (public = your NAT's UDP mapping) or ws (the relay's WebSocket: public = your TCP source). */
  registered: { id: string; public: string; transport: 'udp' | 'ws' };
  /** The server's key was seen for the first time and is now pinned (trust on first use). */
  'server-key': { fingerprint: string };
  presence: { peers: { id: string; name: string }[] };
  /**
   * The session is open; `path` is the path its first message takes. `fingerprint` is the id's
   * (common/identity.ts fingerprint), `sign_key` and `dh_key` the peer's public keys (hex) the
   * handshake proved (dh_key) and the id vouches for (both hash to it).
   */
  connected: {
    peer: string;
    id: string;
    path: PathKind;
    remote: string;
    ms: number;
    fingerprint: string;
    sign_key: string;
    dh_key: string;
  };
  /** The session moved: upgraded to direct, fell back to the relay, or followed a rebinding. */
  path: { peer: string; id: string; path: PathKind; remote: string };
  message: {
    from: string;
    from_id: string;
    id: string;
    text: string;
    ts: number;
    room: boolean;
    action?: boolean;
  };
  sent: { peer: string; id: string };
  delivered: { peer: string; id: string };
  disconnected: { peer: string; id: string; reason: 'timeout' | 'closed' | 'error' };
  error: { code: ErrorCode; message: string; peer?: string };
  server: { state: ServerState };
  /** The server closed the relay stream; `reason` as the stream reports it (the close frame's text). */
  'server-closed': { reason: string };
  /** Every step of hole punching, for narration (`punchline demo`) and debugging. */
  trace: { peer: string } & PunchTrace;
}

export class PeerStats {
  datagramsIn = 0;
  datagramsOut = 0;
  dropped: Record<'malformed' | 'unexpected' | 'bad_probe' | 'no_session', number> = {
    malformed: 0,
    unexpected: 0,
    bad_probe: 0,
    no_session: 0,
  };
  /** Punching and its probe budget (common/path/probe-budget.ts, docs/nat-traversal.md). */
  punch: PunchCounters = newPunchCounters();
}

/** A biting limit is logged at most this often per kind: the counters keep the full count. */
export const LIMIT_LOG_INTERVAL_MS = 10_000;

const SERVER_TYPES = new Set<number>([
  MsgType.COOKIE,
  MsgType.REGISTERED,
  MsgType.KEEPALIVE_ACK,
  MsgType.PRESENCE,
  MsgType.PRESENCE_DELTA,
  MsgType.INTRODUCE,
  MsgType.ERROR,
]);

interface PeerEntry {
  link: PeerLink;
  connecting: Promise<void> | undefined;
  reconnectTimer: TimerHandle | undefined;
  reconnectTries: number;
  directTimer: TimerHandle | undefined;
  directTries: number;
  /** Start times of recent punch attempts with this peer (admitAttempt's window). */
  punchStarts: number[];
  /** How long the open session took to open (its `connected` event's `ms`). */
  openMs: number;
}

/**
 * A punchline peer: one UDP socket for everything (registration, keepalives, punching and the
 * encrypted sessions), so the NAT mapping the server observes is the very one the other peer
 * punches. Session packets are routed by connection id, not by source address, so a session
 * survives its peer's address changing (NAT rebinding) and, later, a change of path.
 */
export class PeerNode extends Emitter<PeerEvents> {
  readonly stats = new PeerStats();
  readonly identity: Identity;
  private readonly opts: PeerOptions & { room: string; port: number; keepaliveMs: number; mode: PathMode };
  private relay: RelayChannel | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: (n: number) => Uint8Array;
  private readonly newId: () => string;
  private socket: DatagramSocket | undefined;
  private client: RendezvousClient | undefined;
  /** The server's key, pinned, shared by the UDP client and the relay's. */
  readonly serverPin: ServerKeyPin;
  private keyChangeReported: string | undefined;
  /** The STUN Binding request sent to the server at start, and whether it was answered. */
  private stunProbe: { txId: Uint8Array; answered: boolean } | undefined;
  /** SERVER_UNREACHABLE was said since the last registration: not again until the server is back. */
  private unreachableReported = false;
  /** The relay's last failed connection attempt, cleared when it connects. */
  private relayFailure: RelayFailure | undefined;
  /** The set-up mistakes (TLS trust, not a relay) already told, by message: each is said once. */
  private readonly relayFailuresReported = new Set<string>();
  private readonly peers = new Map<string, PeerEntry>();
  private readonly routes = new Map<string, PeerLink>();
  private readonly attempts = new Map<string, { attempt: PunchAttempt; at: number }>();
  private trustGate: TrustGate | undefined;
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
    this.log = c.logger ?? silentLogger;
    this.random = c.randomBytes ?? ((n) => new Uint8Array(randomBytes(n)));
    // nanoid's alphabet and length, drawn from the injected random source (a seeded run replays).
    this.newId = c.newId ?? customRandom(urlAlphabet, 21, (size) => this.random(size));
    this.serverPin = new ServerKeyPin(options.serverFingerprint, (fingerprint) =>
      this.emit('server-key', { fingerprint }),
    );
  }

  get serverState(): ServerState {
    if (this.client?.state === 'registered' || this.relay?.ready) return 'registered';
    return this.client?.state ?? 'connecting';
  }

  private lastServerState: ServerState | undefined;
  /** Report the server state when it changes (UDP and stream together), not on every client's change. */
  private serverChanged(): void {
    const state = this.serverState;
    if (state === this.lastServerState) return;
    this.lastServerState = state;
    this.emit('server', { state });
  }

  /** The rendezvous client to ask for introductions: UDP when registered there, else the stream. */
  private get signalling(): RendezvousClient | undefined {
    if (this.client?.state === 'registered') return this.client;
    return this.relay?.rendezvous ?? this.client;
  }
  /**
   * What the rendezvous clients (UDP and the relay stream's) dropped as forged or stale, and the
   * presence gaps they repaired, summed.
   */
  get serverDrops(): RendezvousClientStats {
    const out = emptyClientStats();
    for (const c of [this.client, this.relay?.rendezvous])
      if (c) for (const k of Object.keys(out) as (keyof RendezvousClientStats)[]) out[k] += c.stats[k];
    return out;
  }

  get publicEndpoint(): Endpoint | undefined {
    return this.client?.observed;
  }

  get name(): string {
    return this.client?.name ?? this.opts.name;
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
    return this.peers.get(idHex)?.link.name;
  }

  /** Ask the trust gate again for this peer: messages it held go out if it now says yes. */
  release(nameOrId: string): void {
    this.resolve(nameOrId).link.release();
  }

  /** Take another name in the room (re-registers; NAME_TAKEN leaves the old one). */
  async rename(name: string): Promise<void> {
    if (!this.client) throw new PunchlineError('CLOSED', 'not started');
    await this.client.rename(name);
  }

  /** Bind the socket and start registering; idempotent. */
  async start(): Promise<void> {
    if (this.socket || this.closed) return;
    const sock = this.c.network.createUdpSocket();
    sock.onMessage((data, from) => this.onDatagram(data, from));
    this.local = await sock.bind(this.opts.port, this.opts.bind);
    this.socket = sock;
    const lanHosts =
      this.opts.bind && this.opts.bind !== '0.0.0.0' ? [this.opts.bind] : this.c.network.localAddresses();
    const lan = lanHosts.slice(0, 8).map((address) => ({ address, port: this.local!.port }));
    const client = new RendezvousClient(
      {
        server: this.opts.server,
        room: this.opts.room,
        name: this.opts.name,
        lan,
        keepaliveMs: this.opts.keepaliveMs,
        transport: 'udp',
      },
      {
        identity: this.identity,
        clock: this.clock,
        logger: this.log,
        send: (b, to) => this.send(b, to),
        randomBytes: this.random,
        serverPin: this.serverPin,
      },
    );
    this.wireClient(client, 'udp');
    client.on('observed', (e) => {
      this.log.info('public endpoint changed', {
        from: endpointKey(e.previous),
        to: endpointKey(e.observed),
      });
      this.retryDirectNow(); // a network change: try the direct path again at once
    });
    this.client = client;
    client.start();
    // One STUN Binding request beside the first HELLO: if the port answers STUN but never
    // punchline, it is a STUN server or the rendezvous's STUN-only alternate port, and the
    // unreachable error can say so (20 bytes, once per start).
    this.stunProbe = { txId: this.random(STUN_TXID_SIZE), answered: false };
    this.send(encodeBindingRequest(this.stunProbe.txId), this.opts.server);
    if (this.opts.mode !== 'direct-only' && this.opts.relayUrl && this.c.streams) {
      const relay = new RelayChannel(
        { url: this.opts.relayUrl, room: this.opts.room, name: () => this.name },
        {
          streams: this.c.streams,
          identity: this.identity,
          clock: this.clock,
          logger: this.log,
          randomBytes: this.random,
          serverPin: this.serverPin,
        },
      );
      relay.on('client', (rc) => this.wireClient(rc, 'ws'));
      relay.on('failed', (f) => {
        this.relayFailure = f;
        if ((f.kind === 'tls' || f.kind === 'http') && !this.relayFailuresReported.has(f.message)) {
          this.relayFailuresReported.add(f.message);
          this.emit('error', { code: 'RELAY_UNAVAILABLE', message: f.message });
        }
      });
      relay.on('up', () => {
        this.relayFailure = undefined;
        this.serverChanged();
        for (const e of this.peers.values()) e.link.relayUp();
      });
      relay.on('down', (d) => {
        this.log.warn('relay connection lost', { reason: d.reason });
        this.emit('server-closed', { reason: d.reason });
        this.serverChanged();
      });
      relay.on('relayed', (r) => this.onRelayed(r.from, r.payload));
      this.relay = relay;
      relay.start();
    }
  }

  /** Both rendezvous clients (UDP and the relay stream) feed the same handlers. */
  private wireClient(client: RendezvousClient, transport: 'udp' | 'ws'): void {
    client.on('registered', (e) => {
      this.unreachableReported = false;
      this.emit('registered', { id: idText(e.id), public: endpointKey(e.observed), transport });
    });
    client.on('presence', (e) => this.onPresence(e.members));
    client.on('introduce', (intro) => this.onIntroduce(intro));
    client.on('error', (e) => {
      // With the relay up, an unreachable UDP rendezvous (UDP blocked) is expected: log it only.
      if (transport === 'udp' && e.code === 'SERVER_UNREACHABLE' && this.relay?.ready) {
        this.log.info('rendezvous unreachable over UDP; using the relay stream', {});
        return;
      }
      // Both clients (UDP and the relay stream) meet the same changed key: say it once.
      if (e.code === 'SERVER_KEY_CHANGED') {
        if (this.keyChangeReported === e.message) return;
        this.keyChangeReported = e.message;
      }
      // Unreachable is said once, with what the relay said, until a registration succeeds (the
      // `server` event tells when it is back); retrying goes on meanwhile.
      if (e.code === 'SERVER_UNREACHABLE') {
        if (this.unreachableReported) {
          this.log.info('rendezvous still unreachable', { transport, error: e.message });
          return;
        }
        this.unreachableReported = true;
        const stun =
          transport === 'udp' && this.stunProbe?.answered
            ? `; ${endpointKey(this.opts.server)} answers STUN but not punchline: it is a STUN server or a ` +
              'rendezvous\'s alternate port (--alt-port), not the main port its "listening on udp" line shows'
            : '';
        const relay = this.relayFailure ? `; ${this.relayFailure.message}` : '';
        this.emit('error', { code: e.code, message: `${e.message}${stun}${relay}; retrying` });
        return;
      }
      this.emit('error', { code: e.code, message: e.message });
    });
    client.on('state', () => this.serverChanged());
  }

  /** A session packet that came through the relay. */
  private onRelayed(from: Uint8Array, payload: Uint8Array): void {
    const e = this.peers.get(toHex(from));
    const cid = isSessionPacket(payload) ? connectionIdOf(payload) : undefined;
    const link = cid === undefined ? undefined : this.routes.get(cid);
    if (!e || link !== e.link) {
      this.stats.dropped.no_session++;
      return;
    }
    link.receive(payload, link.relayPath, cid);
  }

  private send(bytes: Uint8Array, to: Endpoint): void {
    this.stats.datagramsOut++;
    this.socket?.send(bytes, to);
  }

  private onDatagram(data: Uint8Array, from: Endpoint): void {
    this.stats.datagramsIn++;
    if (isSessionPacket(data)) {
      // Routed by connection id: the session decides (authenticated) whether `from` is news.
      const cid = connectionIdOf(data);
      const link = cid === undefined ? undefined : this.routes.get(cid);
      if (!link?.session) {
        this.stats.dropped.no_session++;
        return;
      }
      link.receive(data, link.pathTo(from), cid);
      return;
    }
    if (!isPunchline(data)) {
      if (!this.noteStunAnswer(data, from)) this.stats.dropped.malformed++;
      return;
    }
    let m: Message;
    try {
      m = decode(data);
    } catch {
      this.stats.dropped.malformed++;
      return;
    }
    try {
      this.dispatch(m, from, data);
    } catch (e) {
      this.log.error('receive handler failed', { type: m.type, error: String(e) });
    }
  }

  /** The server's answer to our STUN probe (start()): noted, and true; anything else: false. */
  private noteStunAnswer(data: Uint8Array, from: Endpoint): boolean {
    const probe = this.stunProbe;
    if (!probe || probe.answered || !sameEndpoint(from, this.opts.server) || !isStunMessage(data))
      return false;
    try {
      const m = decodeStun(data);
      if (m.class !== 'success' || !equalBytes(m.txId, probe.txId)) return false;
    } catch {
      return false;
    }
    probe.answered = true;
    return true;
  }

  private dispatch(m: Message, from: Endpoint, raw: Uint8Array): void {
    if (SERVER_TYPES.has(m.type)) {
      // Only the server may speak the server's part of the protocol.
      if (sameEndpoint(from, this.opts.server)) this.client?.onMessage(m, raw);
      else this.stats.dropped.unexpected++;
      return;
    }
    switch (m.type) {
      case MsgType.PROBE:
      case MsgType.PROBE_ACK: {
        const a = this.attempts.get(toHex(m.introId));
        if (!a || !validProbe(m, a.attempt.intro, this.identity.id)) {
          this.stats.dropped.bad_probe++;
          return;
        }
        if (m.type === MsgType.PROBE) a.attempt.onProbe(m, from, raw.length);
        else a.attempt.onProbeAck(m);
        return;
      }
      default:
        this.stats.dropped.unexpected++;
    }
  }

  private entry(id: Uint8Array, name: string): PeerEntry {
    const idHex = toHex(id);
    let e = this.peers.get(idHex);
    if (e) return e;
    const relayPort: RelayPort = {
      ready: false,
      send: (to, b) => this.relay?.send(to, b) ?? false,
    };
    Object.defineProperty(relayPort, 'ready', { get: () => this.relay?.ready === true });
    const link = new PeerLink(
      id,
      name,
      {
        identity: this.identity,
        clock: this.clock,
        logger: this.log,
        randomBytes: this.random,
        accept: () => {
          const r = this.receiver;
          return r ? (l, m) => r(this.incoming(l, m)) : undefined;
        },
        ...(this.storeRetryMs !== undefined ? { retryMs: this.storeRetryMs } : {}),
        route: (cids, l) => {
          for (const cid of cids) {
            if (l) this.routes.set(cid, l);
            else if (this.routes.get(cid) === link) this.routes.delete(cid);
          }
        },
        mayHandOver: ({ name, intro }) =>
          this.trustGate?.({ name, id: idHex, signKey: toHex(intro.signKey), dhKey: toHex(intro.dhKey) }) ??
          true,
      },
      (b, to) => this.send(b, to),
      this.relay ? relayPort : undefined,
      this.opts.mode,
    );
    e = {
      link,
      connecting: undefined,
      reconnectTimer: undefined,
      reconnectTries: 0,
      directTimer: undefined,
      directTries: 0,
      punchStarts: [],
      openMs: 0,
    };
    this.peers.set(idHex, e);
    this.wire(e);
    return e;
  }

  /** Link events become node events. */
  private wire(e: PeerEntry): void {
    const l = e.link;
    l.on('open', (o) => {
      e.reconnectTries = 0;
      this.clock.clearTimeout(e.reconnectTimer);
      e.reconnectTimer = undefined;
      e.openMs = o.ms;
      const view = this.connectedView(e, o.path ?? '');
      this.emit('connected', view);
      if (view.path === 'relay') this.scheduleDirectRetry(e);
    });
    l.on('pathChanged', (p) => {
      this.log.debug('path changed', { peer: l.name, path: describePath(p), state: l.session?.state });
      if (l.session?.state !== 'open') return; // before 'open', 'connected' tells the path
      if (l.reportedDead) return; // a peer reported gone has no path until it is heard again
      this.emit('path', {
        peer: l.name,
        id: l.idHex,
        path: p.kind,
        remote: p.kind === 'relay' ? 'relay' : endpointKey(p.remote),
      });
      if (p.kind === 'relay') this.scheduleDirectRetry(e);
      else {
        this.clock.clearTimeout(e.directTimer);
        e.directTimer = undefined;
        e.directTries = 0;
      }
    });
    l.on('message', (m) => this.emit('message', this.incoming(l, m)));
    l.on('delivered', (d) => this.emit('delivered', { peer: l.name, id: d.id }));
    l.on('dead', () => {
      this.emit('disconnected', { peer: l.name, id: l.idHex, reason: 'timeout' });
      this.scheduleReconnect(e);
    });
    // The same session heard again after it was reported gone: connected again, as it is now.
    l.on('alive', (a) => {
      if (!a.afterDead || !l.open) return;
      e.reconnectTries = 0;
      this.clock.clearTimeout(e.reconnectTimer);
      e.reconnectTimer = undefined;
      this.emit('connected', this.connectedView(e, ''));
    });
    l.on('closed', (c) => {
      this.emit('disconnected', {
        peer: l.name,
        id: l.idHex,
        reason: c.reason === 'error' ? 'error' : 'closed',
      });
      if (c.error) this.emit('error', { code: c.error.code, message: c.error.message, peer: l.name });
      if (l.pendingCount > 0 && l.present) this.scheduleReconnect(e);
    });
  }

  private onPresence(members: Member[]): void {
    const me = toHex(this.identity.id);
    const present = new Set<string>();
    for (const m of members) {
      const idHex = toHex(m.id);
      if (idHex === me) continue;
      present.add(idHex);
      const e = this.entry(m.id, m.name);
      e.link.name = m.name;
      const wasAway = !e.link.present;
      e.link.present = true;
      // Messages waited for this peer to come back: connect now.
      if (wasAway && e.link.pendingCount > 0 && !e.link.open) this.connectEntry(e).catch(() => {});
    }
    for (const e of this.peers.values()) if (!present.has(e.link.idHex)) e.link.present = false;
    this.emit('presence', {
      peers: members.filter((m) => toHex(m.id) !== me).map((m) => ({ id: toHex(m.id), name: m.name })),
    });
  }

  private state(e: PeerEntry): PeerState {
    if (e.link.open) return e.link.path === 'relay' ? 'relay' : 'direct';
    if (e.connecting || (e.link.session && e.link.session.state !== 'closed' && !e.link.session.dead))
      return 'connecting';
    return e.link.present ? 'online' : 'offline';
  }

  /** Find a peer by exact name (present ones first), full id, or an unambiguous id prefix (4+ hex digits). */
  resolve(nameOrId: string): PeerEntry {
    const all = [...this.peers.values()];
    const byName = all.filter((p) => p.link.name === nameOrId);
    const presentByName = byName.filter((p) => p.link.present);
    if (presentByName.length === 1) return presentByName[0]!;
    if (presentByName.length === 0 && byName.length === 1) return byName[0]!;
    const lower = nameOrId.toLowerCase();
    const byId = all.filter(
      (p) => p.link.idHex === lower || (lower.length >= 4 && p.link.idHex.startsWith(lower)),
    );
    if (byId.length === 1) return byId[0]!;
    if (byId.length > 1 || byName.length > 1)
      throw new PunchlineError('BAD_ARGUMENT', `"${nameOrId}" matches several peers; give more of the id`);
    throw new PunchlineError('UNKNOWN_PEER', `no peer "${nameOrId}" in the room`);
  }

  /**
   * The open session with a peer as a `connected` event would tell it (path as it is now), or
   * undefined when none is open: how a `connect` to a connected peer is answered.
   */
  connection(nameOrId: string): PeerEvents['connected'] | undefined {
    const e = this.resolve(nameOrId);
    return e.link.open ? this.connectedView(e, '') : undefined;
  }

  /** The `connected` event for a peer's open session, its path as it is now. */
  private connectedView(e: PeerEntry, pathLabel: string): PeerEvents['connected'] {
    const l = e.link;
    const kind = l.path ?? 'direct';
    return {
      peer: l.name,
      id: l.idHex,
      path: kind,
      remote: kind === 'relay' ? 'relay' : l.remote ? endpointKey(l.remote) : pathLabel,
      ms: e.openMs,
      fingerprint: fingerprint(l.id),
      sign_key: l.intro ? toHex(l.intro.signKey) : '',
      dh_key: l.intro ? toHex(l.intro.dhKey) : '',
    };
  }

  /** A new message id (21 characters of nanoid's alphabet), from the node's random source. */
  newMessageId(): string {
    return this.newId();
  }

  /** Connect to a peer: introduction, hole punching, then the encrypted session. Resolves when it is open. */
  connect(nameOrId: string): Promise<void> {
    return this.connectEntry(this.resolve(nameOrId));
  }

  private connectEntry(e: PeerEntry): Promise<void> {
    if (e.link.open) return Promise.resolve();
    if (!e.connecting) {
      e.connecting = (async () => {
        try {
          const client = this.signalling;
          if (!client) throw new PunchlineError('CLOSED', 'not started');
          let intro: Introduce;
          try {
            intro = await client.connect(e.link.id);
          } catch (err) {
            // The server could not introduce us (unknown peer, not registered, unreachable).
            this.connectFailed(e, isPunchlineError(err) ? err : new PunchlineError('INTERNAL', String(err)));
            throw err;
          }
          await this.punch(intro);
        } finally {
          e.connecting = undefined;
        }
      })();
    }
    return e.connecting;
  }

  private onIntroduce(intro: Introduce): void {
    this.punch(intro).catch(() => {
      /* reported through the error event */
    });
  }

  /**
   * Run the punch attempt for an introduction (both sides call this at the same moment), with a
   * fresh session that starts on the path punching finds. Resolves when the session is open.
   */
  private async punch(intro: Introduce): Promise<void> {
    const e = this.entry(intro.id, intro.name);
    const link = e.link;
    const verdict = link.consider(intro);
    if (verdict === 'ignore') return; // a crossing introduction that lost to the lower id
    if (verdict === 'new-session') link.adopt(intro); // on the relay at once, if there is one
    // The peer asked while our session with it is open: it lost its side (a restart). A candidate
    // session proves itself beside the open one and replaces it (PeerLink.candidate).
    if (verdict === 'punch-only' && !intro.initiator) link.candidate(intro);
    const opened = verdict === 'new-session' ? this.whenOpen(link) : Promise.resolve();
    opened.catch(() => {});
    const udpUsable = this.client?.state === 'registered';
    const wantsPunch = link.shouldPunch(intro) && udpUsable;
    // A peer introduced to us over and over (every CONNECT it sends makes the server introduce
    // it again) gets PROBE_BUDGET.attemptsPerWindow punch attempts a minute; later introductions
    // are served over the relay only (common/path/probe-budget.ts).
    const admitted = wantsPunch && this.admitPunch(e, intro);
    if (!admitted) {
      // No punching here. With a relay configured the session rides it (now, or as soon as the
      // stream is up: relayUp); without one there is no way to this peer.
      if (verdict === 'new-session' && !this.relay) {
        const why =
          this.opts.mode === 'relay-only'
            ? 'relay-only, but no relay is configured'
            : wantsPunch
              ? `${PROBE_BUDGET.attemptsPerWindow} punch attempts in ${PROBE_BUDGET.windowMs / 1000} s already, and no relay`
              : 'no UDP path and no relay';
        const err = new PunchlineError('PUNCH_FAILED', `cannot reach ${intro.name}: ${why}`);
        link.close();
        this.connectFailed(e, err);
        throw err;
      }
      return opened;
    }
    this.pruneAttempts();
    const attempt = new PunchAttempt(
      intro,
      {
        identity: this.identity,
        clock: this.clock,
        send: (b, to) => this.send(b, to),
        selfPublic: () => this.client?.observed,
        counters: this.stats.punch,
        limited: (what, fields) => this.limitBit(what, fields),
        trace: (t) => {
          this.log.debug('punch step', { peer: intro.name, ...t });
          this.emit('trace', { peer: intro.name, ...t });
        },
      },
      { ...PUNCH_DEFAULTS, ...this.opts.punch },
    );
    this.attempts.set(toHex(intro.introId), { attempt, at: this.clock.now() });
    this.log.debug('punching', {
      peer: intro.name,
      public: endpointKey(intro.observed),
      lan: intro.lan.map(endpointKey),
    });
    let result: PunchResult;
    try {
      result = await attempt.result;
    } catch (err) {
      if (!link.session || link.session.state === 'closed') return; // superseded or closed
      const pe = isPunchlineError(err) ? err : new PunchlineError('INTERNAL', String(err));
      if (link.path === 'relay' || (this.relay?.ready && this.opts.mode !== 'direct-only')) {
        // The relay carries the session: no error, just stay there and retry later.
        this.log.info('no direct path yet; staying on the relay', { peer: link.name, reason: pe.message });
        this.scheduleDirectRetry(e);
        return opened;
      }
      if (verdict === 'punch-only') return; // the open session goes on where it is
      link.close();
      this.connectFailed(e, pe);
      throw pe;
    }
    if (!link.session || link.session.state === 'closed') return;
    link.useDirect(result);
    return verdict === 'new-session' ? this.whenOpen(link) : undefined;
  }

  /** May a punch attempt with this peer start now? Counts and logs the refusal. */
  private admitPunch(e: PeerEntry, intro: Introduce): boolean {
    const { admit, starts } = admitAttempt(e.punchStarts, this.clock.now());
    e.punchStarts = starts;
    if (!admit) {
      this.stats.punch.attemptsLimited++;
      this.limitBit('attemptsLimited', { peer: intro.name, id: e.link.idHex });
    }
    return admit;
  }

  private readonly limitLoggedAt = new Map<string, number>();
  /** A probe-budget limit bit: log it, at most once per LIMIT_LOG_INTERVAL_MS per kind. */
  private limitBit(what: keyof PunchCounters, fields: Record<string, unknown>): void {
    const now = this.clock.now();
    const last = this.limitLoggedAt.get(what);
    if (last !== undefined && now - last < LIMIT_LOG_INTERVAL_MS) return;
    this.limitLoggedAt.set(what, now);
    this.log.info('probe budget limit', { limit: what, total: this.stats.punch[what], ...fields });
  }

  /** Resolves when the link's current session opens; rejects if it closes first. */
  private whenOpen(link: PeerLink): Promise<void> {
    if (link.open) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const offOpen = link.on('open', () => {
        offOpen();
        offClosed();
        resolve();
      });
      const offClosed = link.on('closed', (c) => {
        offOpen();
        offClosed();
        reject(c.error ?? new PunchlineError('CLOSED', `session with ${link.name} closed (${c.reason})`));
      });
    });
  }

  /**
   * While a session rides the relay, retry the direct path on a backoff. Only the session
   * initiator asks (a fresh introduction makes both sides punch at once), so the two peers do
   * not send crossing introductions every time.
   */
  private scheduleDirectRetry(e: PeerEntry): void {
    const l = e.link;
    if (this.closed || e.directTimer || this.opts.mode !== 'auto' || !l.session?.isInitiator) return;
    const delay = backoffDelay(e.directTries++, DIRECT_RETRY, unitDraw(this.random));
    e.directTimer = this.clock.setTimeout(() => {
      e.directTimer = undefined;
      this.retryDirect(e);
    }, delay);
  }

  private retryDirect(e: PeerEntry): void {
    const l = e.link;
    if (this.closed || !l.open || l.path !== 'relay' || !l.present) return;
    if (this.client?.state !== 'registered') {
      this.scheduleDirectRetry(e); // no UDP right now: try again later
      return;
    }
    this.log.info('retrying the direct path', { peer: l.name, attempt: e.directTries });
    this.client
      .connect(l.id)
      .then((intro) => this.punch(intro))
      .catch(() => this.scheduleDirectRetry(e));
  }

  /** Our public endpoint changed (a new network): every relayed session tries direct at once. */
  private retryDirectNow(): void {
    for (const e of this.peers.values()) {
      if (e.link.path !== 'relay' || !e.link.session?.isInitiator) continue;
      this.clock.clearTimeout(e.directTimer);
      e.directTimer = undefined;
      e.directTries = 0;
      this.retryDirect(e);
    }
  }

  /** Report a failed connection attempt, with what waits (messages stay queued for the next try). */
  private connectFailed(e: PeerEntry, err: PunchlineError): void {
    const n = e.link.pendingCount;
    this.emit('error', {
      code: err.code,
      message: n > 0 ? `${err.message} (${n} message${n > 1 ? 's' : ''} waiting; will retry)` : err.message,
      peer: e.link.name,
    });
    if (n > 0) this.scheduleReconnect(e);
  }

  private scheduleReconnect(e: PeerEntry): void {
    if (this.closed || e.reconnectTimer) return;
    const delay = backoffDelay(e.reconnectTries++, RECONNECT_BACKOFF, unitDraw(this.random));
    e.reconnectTimer = this.clock.setTimeout(() => {
      e.reconnectTimer = undefined;
      if (this.closed || e.link.open || !e.link.present) return; // presence brings it back later
      this.log.info('reconnecting', { peer: e.link.name, attempt: e.reconnectTries });
      this.connectEntry(e).catch(() => {});
    }, delay);
  }

  /** Forget finished attempts after a minute (late probes from the other side are answered until then). */
  private pruneAttempts(): void {
    const cutoff = this.clock.now() - 60_000;
    for (const [k, a] of this.attempts) if (a.attempt.finished && a.at < cutoff) this.attempts.delete(k);
  }

  private incoming(l: PeerLink, m: AppMessage): PeerEvents['message'] {
    return {
      from: l.name,
      from_id: l.idHex,
      id: m.id,
      text: m.text,
      ts: m.ts,
      room: m.room,
      ...(m.action ? { action: true } : {}),
    };
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
  private receiver: ((m: PeerEvents['message']) => Promise<void>) | undefined;
  private storeRetryMs: number | undefined;

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
    const e = this.resolve(nameOrId);
    const msg: AppMessage = {
      id: opts.id ?? this.newId(),
      ts: opts.ts ?? this.clock.wallNow(),
      room: opts.room ?? false,
      text,
      ...(opts.action ? { action: true } : {}),
    };
    e.link.send(msg);
    this.emit('sent', { peer: e.link.name, id: msg.id });
    if (!e.link.open && e.link.present) this.connectEntry(e).catch(() => {});
    return msg.id;
  }

  peerList(): PeerInfo[] {
    return [...this.peers.values()].map((e) => ({
      id: e.link.idHex,
      name: e.link.name,
      state: this.state(e),
      ...(e.link.open && e.link.path === 'relay'
        ? { remote: 'relay' }
        : e.link.open && e.link.remote
          ? { remote: endpointKey(e.link.remote) }
          : {}),
      ...(e.link.pendingCount > 0 ? { pending: e.link.pendingCount } : {}),
    }));
  }

  /** Session figures for one peer (the `stats` command, /info). */
  peerStats(nameOrId: string): PeerStatsView {
    const e = this.resolve(nameOrId);
    const s = e.link.stats();
    const open = e.link.open;
    return {
      peer: e.link.name,
      id: e.link.idHex,
      fingerprint: fingerprint(e.link.id),
      state: this.state(e),
      ...(open && e.link.path ? { path: e.link.path } : {}),
      ...(open && e.link.path === 'relay'
        ? { remote: 'relay' }
        : open && e.link.remote
          ? { remote: endpointKey(e.link.remote) }
          : {}),
      ...(s
        ? {
            // Before the first sample the estimator holds RFC 9002's 333 ms guess: not a measurement.
            ...(s.minRttMs > 0
              ? { rtt_ms: Math.round(s.rttMs * 10) / 10, min_rtt_ms: Math.round(s.minRttMs * 10) / 10 }
              : {}),
            loss: Math.round(s.loss * 1000) / 1000,
            cwnd: s.cwnd,
            bytes_in_flight: s.bytesInFlight,
            retransmits: s.retransmits,
            packets_sent: s.packetsSent,
            packets_received: s.packetsReceived,
          }
        : {}),
      pending: e.link.pendingCount,
      ...(e.link.punch ? { punch: e.link.punch } : {}),
    };
  }

  /** Close every session (telling the peers), leave the room, close the socket; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const a of this.attempts.values()) a.attempt.cancel('closing');
    for (const e of this.peers.values()) {
      this.clock.clearTimeout(e.reconnectTimer);
      e.link.close();
    }
    for (const e of this.peers.values()) this.clock.clearTimeout(e.directTimer);
    this.client?.close();
    this.relay?.close();
    await this.socket?.flush?.();
    this.socket?.close();
  }
}
