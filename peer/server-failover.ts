import type { TimerHandle } from '../common/clock.js';
import type { Endpoint } from '../common/net/types.js';
import { endpointKey } from '../common/net/types.js';
import { backoffDelay, unitDraw } from '../common/path/backoff.js';
import type { Message } from '../common/wire/messages.js';
import type { PeerEvents, ServerChangeReason } from './peer-events.js';
import type { PathMode } from './link-policy.js';
import type { PeerOptions, ServerTarget } from './peer-options.js';

export type { ServerTarget } from './peer-options.js';
import { emptyClientStats } from './rendezvous-client.js';
import type { RendezvousClient, RendezvousClientStats, ServerState } from './rendezvous-client.js';
import { ServerConnections } from './server-connections.js';
import type { ServerConnectionsComponents } from './server-connections.js';

/**
 * How long a server may go without a working registration before the client moves to the next
 * one: 10 s, long enough for one full registration try at the same server (HELLO and REGISTER,
 * 250 ms doubling, common/path/backoff.ts REQUEST_TRIES: ~7.75 s) after a keepalive went
 * unanswered, so one lost answer does not move every client.
 */
export const FAILOVER_MS = 10_000;

/**
 * When the relay's WebSocket to the server in use closed and has not come back this long, the
 * client moves at once instead of after FAILOVER_MS: its first reconnect (1 s +- 30 %,
 * peer/relay-channel.ts RELAY_RECONNECT) and registration have had their chance, and a relayed
 * session goes silent after 7 s (peer/link-policy.ts DIRECT_TRUST_MS): moving within 3 s lets it
 * go on through the next server as the same session (test/simnet/failover.test.ts).
 */
export const RELAY_LOST_FAILOVER_MS = 3_000;

/**
 * After every server was tried once and none registered, the next round waits 1 s, doubling to
 * 30 s, with jitter from the injected random source (as peer/relay-channel.ts's reconnects): a
 * cluster coming back is not met by every client at once, and the loop never spins.
 */
export const FAILOVER_ROUND_BACKOFF = { initialMs: 1_000, maxMs: 30_000, factor: 2, jitter: 0.2 };

export interface ServerFailoverOptions {
  targets: ServerTarget[];
  room: string;
  name: string;
  lan: Endpoint[];
  keepaliveMs: number;
  /** False: no relay at any server (direct-only). */
  relay: boolean;
  failoverMs: number;
}

export interface ServerFailoverComponents extends ServerConnectionsComponents {
  /** Registered at a server other than the last one: relayed sessions must be introduced there. */
  moved: () => void;
}

/**
 * The node's rendezvous connections across several servers (`--server A,B`): one server at a
 * time, in the order given. A server counts as working while each transport that registered
 * there (UDP, the relay stream) still is; when it has not worked for `failoverMs`
 * (its keepalives or registrations unanswered, its WebSocket closed and not back), the client
 * closes its connections and registers at the next. When a whole round failed, the next round
 * waits on FAILOVER_ROUND_BACKOFF. Each server keeps its own key pin.
 */
export class ServerFailover {
  private current: ServerConnections | undefined;
  private index = 0;
  private timer: TimerHandle | undefined;
  /** Servers tried since the last registration: a full round without one backs off. */
  private triedSinceRegistered = 0;
  private rounds = 0;
  /** The transports that registered at the current server (a loss of either is a failure). */
  private udpUp = false;
  private relayUp = false;
  /** The server we were last registered at, by name. */
  private lastRegistered: string | undefined;
  private closed = false;
  /** Moves to another server, for tests and the stats. */
  moves = 0;

  constructor(
    private readonly opts: ServerFailoverOptions,
    private readonly c: ServerFailoverComponents,
  ) {}

  /** The server in use (or being tried). */
  get target(): ServerTarget {
    return this.opts.targets[this.index]!;
  }

  get udp(): RendezvousClient | undefined {
    return this.current?.udp;
  }
  get relayConfigured(): boolean {
    return this.opts.relay && this.c.streams !== undefined && this.opts.targets.some((t) => t.relayUrl);
  }
  get relayReady(): boolean {
    return this.current?.relayReady === true;
  }
  relaySend(to: Uint8Array, payload: Uint8Array): boolean {
    return this.current?.relaySend(to, payload) ?? false;
  }
  /** ms until `payload` bytes may go to the current server's relay (its announced policy). */
  relayWait(payload: number): number {
    return this.current?.relayWait(payload) ?? 0;
  }
  get state(): ServerState {
    return this.current?.state ?? 'connecting';
  }
  get signalling(): RendezvousClient | undefined {
    return this.current?.signalling;
  }
  get name(): string {
    return this.current?.name ?? this.opts.name;
  }
  get drops(): RendezvousClientStats {
    return this.current?.drops ?? emptyClientStats();
  }
  onMessage(m: Message, raw: Uint8Array): void {
    this.current?.onMessage(m, raw);
  }
  natSettled(maxMs: number): Promise<void> {
    return this.current?.natSettled(maxMs) ?? Promise.resolve();
  }

  start(): void {
    this.connect();
  }

  /** Connections to the current target; the failover timer runs until it registers. */
  private connect(): void {
    if (this.closed) return;
    const t = this.target;
    this.c.gate.setServer(t.server);
    this.udpUp = false;
    this.relayUp = false;
    this.triedSinceRegistered++;
    const conn = new ServerConnections(
      {
        server: t.server,
        room: this.opts.room,
        name: this.opts.name,
        lan: this.opts.lan,
        keepaliveMs: this.opts.keepaliveMs,
        relayUrl: this.opts.relay ? t.relayUrl : undefined,
        serverFingerprint: t.fingerprint,
      },
      {
        ...this.c,
        // What a server we left says late is not said (its clients are closed, but a callback may be queued).
        emit: (name, e) => {
          if (conn !== this.current) return;
          // The key first seen here is this server's from now on (and servers.json's, by name).
          if (name !== 'server-key') return this.c.emit(name, e);
          const fingerprint = (e as PeerEvents['server-key']).fingerprint;
          t.fingerprint = fingerprint;
          this.c.emit('server-key', { fingerprint, server: t.name });
        },
        changed: () => this.check(conn),
        goingAway: (withinMs) => this.goingAway(conn, withinMs),
      },
    );
    this.current = conn;
    conn.start();
    this.arm();
  }

  /** After a change of the current connections' state: working, or failing (timer armed). */
  private check(conn: ServerConnections): void {
    if (conn !== this.current || this.closed) return;
    const udp = conn.udp?.state === 'registered';
    const relay = conn.relayReady;
    const registered = udp || relay;
    if (registered && !this.udpUp && !this.relayUp) this.registeredHere();
    this.udpUp ||= udp;
    this.relayUp ||= relay;
    const working = registered && (!this.udpUp || udp) && (!this.relayUp || relay);
    if (working) {
      this.c.clock.clearTimeout(this.timer);
      this.timer = undefined;
    } else
      this.arm(this.relayUp && !relay ? Math.min(RELAY_LOST_FAILOVER_MS, this.opts.failoverMs) : undefined);
  }

  /**
   * The server said it is draining (GOING_AWAY, authenticated): move now rather than after its
   * failover timeouts. With one server, register there again: its connections are closed (LEAVE,
   * so the drain need not wait for us) and a new registration retries on the client's own
   * back-off until the server, or its replacement, answers. Sessions are left alone.
   */
  private goingAway(conn: ServerConnections, withinMs: number): void {
    if (conn !== this.current || this.closed) return;
    this.c.logger.info('rendezvous server draining; moving on', { server: this.target.name, withinMs });
    this.c.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.next('draining');
  }

  /** The first registration at this server. */
  private registeredHere(): void {
    this.triedSinceRegistered = 0;
    this.rounds = 0;
    const name = this.target.name;
    if (this.lastRegistered !== undefined && this.lastRegistered !== name) this.c.moved();
    this.lastRegistered = name;
  }

  private arm(ms = this.opts.failoverMs): void {
    if (this.timer || this.closed || this.opts.targets.length < 2) return;
    this.timer = this.c.clock.setTimeout(() => {
      this.timer = undefined;
      this.next('unanswered');
    }, ms);
  }

  /** Leave the current server for the next; after a whole round without a registration, back off first. */
  private next(reason: ServerChangeReason): void {
    if (this.closed) return;
    const from = this.target;
    if (this.current) this.opts.name = this.current.name; // a rename holds at the next server
    this.current?.close();
    this.current = undefined;
    this.index = (this.index + 1) % this.opts.targets.length;
    this.moves++;
    if (reason === 'unanswered')
      this.c.logger.warn('rendezvous server not answering; moving on', {
        from: from.name,
        to: this.target.name,
      });
    if (this.target !== from)
      this.c.emit('server-changed', { server: this.target.name, previous: from.name, reason });
    if (this.triedSinceRegistered < this.opts.targets.length) return this.connect();
    const delay = backoffDelay(this.rounds++, FAILOVER_ROUND_BACKOFF, unitDraw(this.c.randomBytes));
    this.triedSinceRegistered = 0;
    this.timer = this.c.clock.setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delay);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.c.clock.clearTimeout(this.timer);
    this.current?.close();
  }
}

/** The failover's options from a node's (peer/peer-options.ts) and its LAN candidates. */
export function failoverOptions(
  o: PeerOptions & { room: string; keepaliveMs: number; mode: PathMode },
  lan: Endpoint[],
): ServerFailoverOptions {
  return {
    targets: serverTargets(o),
    room: o.room,
    name: o.name,
    lan,
    keepaliveMs: o.keepaliveMs,
    relay: o.mode !== 'direct-only',
    failoverMs: o.failoverMs ?? FAILOVER_MS,
  };
}

/** The servers a node's options name: the list, or the one server. */
export function serverTargets(o: {
  server: Endpoint;
  servers?: ServerTarget[];
  relayUrl?: string;
  serverFingerprint?: string;
}): ServerTarget[] {
  if (o.servers && o.servers.length > 0) return o.servers.map((t) => ({ ...t }));
  return [
    {
      server: o.server,
      name: endpointKey(o.server),
      ...(o.relayUrl !== undefined ? { relayUrl: o.relayUrl } : {}),
      ...(o.serverFingerprint !== undefined ? { fingerprint: o.serverFingerprint } : {}),
    },
  ];
}
