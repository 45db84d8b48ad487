import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../common/clock.js';
import { Emitter } from '../common/emitter.js';
import { PunchlineError, isPunchlineError } from '../common/errors.js';
import type { ErrorCode } from '../common/errors.js';
import type { Identity } from '../common/identity.js';
import { idText } from '../common/identity.js';
import { silentLogger } from '../common/log.js';
import type { Logger } from '../common/log.js';
import type { DatagramSocket, Endpoint, Network } from '../common/net/types.js';
import { endpointKey, sameEndpoint } from '../common/net/types.js';
import { toHex } from '../common/wire/bytes.js';
import { Limits, MsgType } from '../common/wire/constants.js';
import { decode, encode, isPunchline } from '../common/wire/messages.js';
import type { Introduce, Member, Message } from '../common/wire/messages.js';
import { PUNCH_DEFAULTS, PunchAttempt, validProbe } from './puncher.js';
import type { PunchOptions, PunchResult } from './puncher.js';
import { RendezvousClient } from './rendezvous-client.js';
import type { ServerState } from './rendezvous-client.js';

export interface PeerOptions {
  server: Endpoint;
  name: string;
  room?: string;
  /** Local UDP port (0 = any). */
  port?: number;
  /** Local address to bind (default all interfaces); when set it is also the only LAN candidate. */
  bind?: string;
  /**
   * Keepalive towards the server and each direct peer. 15 s: no more often than RFC 8445 §11
   * and RFC 8085 §3.5 allow, and inside the ~30 s many NATs keep an idle UDP mapping.
   */
  keepaliveMs?: number;
  punch?: Partial<PunchOptions>;
}

export const PEER_DEFAULTS = { room: 'lobby', port: 0, keepaliveMs: 15_000 } as const;

export interface PeerComponents {
  network: Network;
  clock: Clock;
  identity: Identity;
  logger?: Logger;
  randomBytes?: (n: number) => Uint8Array;
}

export type PeerState = 'online' | 'connecting' | 'direct' | 'offline';

export interface PeerInfo {
  id: string;
  name: string;
  state: PeerState;
  remote?: string;
  punch?: PunchResult;
}

export interface PeerEvents extends Record<string, unknown> {
  registered: { id: string; public: string };
  presence: { peers: { id: string; name: string }[] };
  connected: { peer: string; id: string; path: 'direct'; remote: string; ms: number };
  message: { from: string; from_id: string; id: string; text: string };
  error: { code: ErrorCode; message: string; peer?: string };
  server: { state: ServerState };
}

interface PeerEntry {
  id: Uint8Array;
  idHex: string;
  name: string;
  state: PeerState;
  remote: Endpoint | undefined;
  punch: PunchResult | undefined;
  queue: string[];
  connecting: Promise<void> | undefined;
  keepalive: TimerHandle | undefined;
}

function newEntry(id: Uint8Array, name: string): PeerEntry {
  return {
    id,
    idHex: toHex(id),
    name,
    state: 'online',
    remote: undefined,
    punch: undefined,
    queue: [],
    connecting: undefined,
    keepalive: undefined,
  };
}

export class PeerStats {
  datagramsIn = 0;
  datagramsOut = 0;
  dropped: Record<'malformed' | 'unexpected' | 'bad_probe' | 'unknown_peer', number> = {
    malformed: 0,
    unexpected: 0,
    bad_probe: 0,
    unknown_peer: 0,
  };
}

const SERVER_TYPES = new Set<number>([
  MsgType.COOKIE,
  MsgType.REGISTERED,
  MsgType.KEEPALIVE_ACK,
  MsgType.PRESENCE,
  MsgType.INTRODUCE,
  MsgType.ERROR,
]);

/**
 * A punchline peer: one UDP socket for everything (registration, keepalives, punching and
 * peer traffic), so the NAT mapping the server observes is the very one the other peer punches.
 */
export class PeerNode extends Emitter<PeerEvents> {
  readonly stats = new PeerStats();
  readonly identity: Identity;
  private readonly opts: PeerOptions & { room: string; port: number; keepaliveMs: number };
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: (n: number) => Uint8Array;
  private socket: DatagramSocket | undefined;
  private client: RendezvousClient | undefined;
  private readonly peers = new Map<string, PeerEntry>();
  private readonly attempts = new Map<string, { attempt: PunchAttempt; at: number }>();
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
  }

  get serverState(): ServerState {
    return this.client?.state ?? 'connecting';
  }
  get publicEndpoint(): Endpoint | undefined {
    return this.client?.observed;
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
      },
      {
        identity: this.identity,
        clock: this.clock,
        logger: this.log,
        send: (b, to) => this.send(b, to),
        randomBytes: this.random,
      },
    );
    client.on('registered', (e) =>
      this.emit('registered', { id: idText(e.id), public: endpointKey(e.observed) }),
    );
    client.on('presence', (e) => this.onPresence(e.members));
    client.on('introduce', (intro) =>
      this.punch(intro).catch(() => {
        /* reported through the error event */
      }),
    );
    client.on('error', (e) => this.emit('error', { code: e.code, message: e.message }));
    client.on('state', (state) => this.emit('server', { state }));
    client.on('observed', (e) =>
      this.log.info('public endpoint changed', {
        from: endpointKey(e.previous),
        to: endpointKey(e.observed),
      }),
    );
    this.client = client;
    client.start();
  }

  private send(bytes: Uint8Array, to: Endpoint): void {
    this.stats.datagramsOut++;
    this.socket?.send(bytes, to);
  }

  private onDatagram(data: Uint8Array, from: Endpoint): void {
    this.stats.datagramsIn++;
    if (!isPunchline(data)) {
      this.stats.dropped.malformed++;
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
      this.dispatch(m, from);
    } catch (e) {
      this.log.error('receive handler failed', { type: m.type, error: String(e) });
    }
  }

  private dispatch(m: Message, from: Endpoint): void {
    if (SERVER_TYPES.has(m.type)) {
      // Only the server may speak the server's part of the protocol.
      if (sameEndpoint(from, this.opts.server)) this.client?.onMessage(m);
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
        if (m.type === MsgType.PROBE) a.attempt.onProbe(m, from);
        else a.attempt.onProbeAck(m);
        return;
      }
      case MsgType.DATA: {
        // The initiator may finish punching (and send) before this side has its own answer, so
        // a peer still connecting is accepted too.
        const p = this.peers.get(toHex(m.from));
        if (!p || (p.state !== 'direct' && p.state !== 'connecting')) {
          this.stats.dropped.unknown_peer++;
          return;
        }
        this.emit('message', { from: p.name, from_id: p.idHex, id: toHex(m.msgId), text: m.text });
        return;
      }
      case MsgType.PEER_KEEPALIVE:
        return;
      default:
        this.stats.dropped.unexpected++;
    }
  }

  private onPresence(members: Member[]): void {
    const present = new Set<string>();
    for (const m of members) {
      const idHex = toHex(m.id);
      if (idHex === toHex(this.identity.id)) continue;
      present.add(idHex);
      const p = this.peers.get(idHex);
      if (p) {
        p.name = m.name;
        if (p.state === 'offline') p.state = 'online';
      } else {
        this.peers.set(idHex, newEntry(m.id, m.name));
      }
    }
    // A peer that left the room stays reachable over an open direct path; otherwise it is offline.
    for (const p of this.peers.values())
      if (!present.has(p.idHex) && p.state !== 'direct') p.state = 'offline';
    this.emit('presence', {
      peers: members
        .filter((m) => toHex(m.id) !== toHex(this.identity.id))
        .map((m) => ({ id: toHex(m.id), name: m.name })),
    });
  }

  /** Find a peer by exact name, full id, or an unambiguous id prefix (4+ hex digits). */
  resolve(nameOrId: string): PeerEntry {
    const all = [...this.peers.values()];
    const byName = all.filter((p) => p.name === nameOrId && p.state !== 'offline');
    if (byName.length === 1) return byName[0]!;
    const lower = nameOrId.toLowerCase();
    const byId = all.filter((p) => p.idHex === lower || (lower.length >= 4 && p.idHex.startsWith(lower)));
    if (byId.length === 1) return byId[0]!;
    if (byId.length > 1)
      throw new PunchlineError(
        'BAD_ARGUMENT',
        `"${nameOrId}" matches ${byId.length} peers; give more of the id`,
      );
    throw new PunchlineError('UNKNOWN_PEER', `no peer "${nameOrId}" in the room`);
  }

  /** Connect to a peer (introduction, then hole punching). Resolves when a direct path is up. */
  connect(nameOrId: string): Promise<void> {
    const p = this.resolve(nameOrId);
    if (p.state === 'direct') return Promise.resolve();
    if (!p.connecting) {
      p.state = 'connecting';
      p.connecting = (async () => {
        try {
          if (!this.client) throw new PunchlineError('CLOSED', 'not started');
          let intro: Introduce;
          try {
            intro = await this.client.connect(p.id);
          } catch (e) {
            // The server could not introduce us (unknown peer, not registered, unreachable).
            this.connectFailed(p, isPunchlineError(e) ? e : new PunchlineError('INTERNAL', String(e)));
            throw e;
          }
          await this.punch(intro);
        } finally {
          p.connecting = undefined;
        }
      })();
    }
    return p.connecting;
  }

  /** Run (or join) the punch attempt for an introduction; both sides call this at the same moment. */
  private async punch(intro: Introduce): Promise<void> {
    const idHex = toHex(intro.id);
    let p = this.peers.get(idHex);
    if (!p) {
      p = newEntry(intro.id, intro.name);
      this.peers.set(idHex, p);
    }
    if (p.state !== 'direct') p.state = 'connecting';
    this.pruneAttempts();
    const attempt = new PunchAttempt(
      intro,
      {
        identity: this.identity,
        clock: this.clock,
        send: (b, to) => this.send(b, to),
        selfPublic: () => this.client?.observed,
      },
      {
        ...PUNCH_DEFAULTS,
        ...this.opts.punch,
      },
    );
    this.attempts.set(toHex(intro.introId), { attempt, at: this.clock.now() });
    this.log.debug('punching', {
      peer: intro.name,
      public: endpointKey(intro.observed),
      lan: intro.lan.map(endpointKey),
    });
    try {
      const result = await attempt.result;
      if (p.state === 'direct') return; // the other simultaneous attempt won
      p.state = 'direct';
      p.remote = result.remote;
      p.punch = result;
      this.startPeerKeepalive(p);
      this.emit('connected', {
        peer: p.name,
        id: idHex,
        path: 'direct',
        remote: endpointKey(result.remote),
        ms: result.ms,
      });
      this.flush(p);
    } catch (e) {
      if (p.state === 'direct') return;
      const err = isPunchlineError(e) ? e : new PunchlineError('INTERNAL', String(e));
      this.connectFailed(p, err);
      throw err;
    }
  }

  /** Report a failed connection attempt once, with what it cost (queued messages not sent). */
  private connectFailed(p: PeerEntry, err: PunchlineError): void {
    if (p.state !== 'direct') p.state = 'online';
    const lost = p.queue.length;
    p.queue = [];
    this.emit('error', {
      code: err.code,
      message:
        lost > 0 ? `${err.message} (${lost} queued message${lost > 1 ? 's' : ''} not sent)` : err.message,
      peer: p.name,
    });
  }

  /** Forget finished attempts after a minute (late probes from the other side are answered until then). */
  private pruneAttempts(): void {
    const cutoff = this.clock.now() - 60_000;
    for (const [k, a] of this.attempts) if (a.attempt.finished && a.at < cutoff) this.attempts.delete(k);
  }

  private startPeerKeepalive(p: PeerEntry): void {
    this.clock.clearTimeout(p.keepalive);
    p.keepalive = this.clock.setTimeout(() => {
      if (this.closed || p.state !== 'direct' || !p.remote) return;
      this.send(encode({ type: MsgType.PEER_KEEPALIVE, from: this.identity.id }), p.remote);
      this.startPeerKeepalive(p);
    }, this.opts.keepaliveMs);
  }

  private sendData(p: PeerEntry, text: string): void {
    this.send(encode({ type: MsgType.DATA, from: this.identity.id, msgId: this.random(8), text }), p.remote!);
  }

  /** Send a text message; a peer not yet connected is connected first (the message waits). */
  sendMessage(nameOrId: string, text: string): void {
    const size = Buffer.byteLength(text);
    if (size > Limits.MAX_TEXT_BYTES)
      throw new PunchlineError(
        'BAD_ARGUMENT',
        `text is ${size} bytes; at most ${Limits.MAX_TEXT_BYTES} fit in one message`,
      );
    const p = this.resolve(nameOrId);
    if (p.state === 'direct' && p.remote) return this.sendData(p, text);
    p.queue.push(text);
    this.connect(p.idHex).catch(() => {
      /* reported through the error event */
    });
  }

  private flush(p: PeerEntry): void {
    const q = p.queue;
    p.queue = [];
    for (const text of q) this.sendData(p, text);
  }

  peerList(): PeerInfo[] {
    return [...this.peers.values()].map((p) => ({
      id: p.idHex,
      name: p.name,
      state: p.state,
      ...(p.remote ? { remote: endpointKey(p.remote) } : {}),
      ...(p.punch ? { punch: p.punch } : {}),
    }));
  }

  /** Leave the room (best effort), stop every timer and close the socket; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const a of this.attempts.values()) a.attempt.cancel('closing');
    for (const p of this.peers.values()) this.clock.clearTimeout(p.keepalive);
    this.client?.close();
    await this.socket?.flush?.();
    this.socket?.close();
  }
}
