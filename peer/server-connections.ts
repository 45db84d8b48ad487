import type { Clock } from '../common/clock.js';
import { idText } from '../common/identity/identity.js';
import type { Identity } from '../common/identity/identity.js';
import type { Logger } from '../common/log.js';
import type { StreamNetwork } from '../common/net/stream.js';
import type { Endpoint } from '../common/net/types.js';
import { endpointKey } from '../common/net/types.js';
import type { Introduce, Member, Message } from '../common/wire/messages.js';
import type { EmitPeerEvent, PeerEvents } from './peer-events.js';
import { RelayChannel } from './relay-channel.js';
import type { RelayFailure } from './relay-channel.js';
import { RendezvousClient, emptyClientStats } from './rendezvous-client.js';
import type { RendezvousClientStats, ServerState } from './rendezvous-client.js';
import { NatProbe } from './nat-probe.js';
import type { NatProbeSocket } from './nat-probe.js';
import type { ServerGate } from './server-gate.js';
import { ServerKeyPin } from './server-pin.js';

export interface ServerConnectionsOptions {
  server: Endpoint;
  room: string;
  name: string;
  /** Our LAN candidates, told to the server at registration. */
  lan: Endpoint[];
  keepaliveMs: number;
  /** The relay's WebSocket URL; without it (or without `streams`) there is no relay. */
  relayUrl: string | undefined;
  serverFingerprint: string | undefined;
}

export interface ServerConnectionsComponents {
  identity: Identity;
  clock: Clock;
  logger: Logger;
  randomBytes: (n: number) => Uint8Array;
  streams: StreamNetwork | undefined;
  /** Send a datagram on the node's UDP socket. */
  send: (bytes: Uint8Array, to: Endpoint) => void;
  gate: ServerGate;
  emit: EmitPeerEvent;
  /** What the servers tell that concerns the peers. */
  presence: (members: Member[]) => void;
  introduce: (intro: Introduce) => void;
  /** The relay stream is up: sessions without a path may ride it. */
  relayUp: () => void;
  /** A session packet relayed from the peer with id `from`. */
  relayed: (from: Uint8Array, payload: Uint8Array) => void;
  /** Our public UDP endpoint changed (a network change). */
  observedChanged: () => void;
  /** The server said GOING_AWAY (authentic) on either transport: it is draining. */
  goingAway?: (withinMs: number) => void;
  /** Told of every change of either transport's state (peer/server-failover.ts watches each). */
  changed?: () => void;
  /** The node's UDP side, to measure the NAT's port behaviour after registering (peer/nat-probe.ts); without it, none is. */
  natProbe?: NatProbeSocket;
}

/**
 * The node's ties to the rendezvous server: the UDP rendezvous client, and the relay's stream with
 * its own client. Both feed the same handlers; this decides which one asks for introductions,
 * what the server's state is (either registration counts), and says each server error once.
 */
export class ServerConnections {
  private client: RendezvousClient | undefined;
  private natProbe: NatProbe | undefined;
  private relayChannel: RelayChannel | undefined;
  /** The server's key, pinned, shared by the UDP client and the relay's. */
  private readonly serverPin: ServerKeyPin;
  private keyChangeReported: string | undefined;
  /** SERVER_UNREACHABLE was said since the last registration: not again until the server is back. */
  private unreachableReported = false;
  /** The relay's last failed connection attempt, cleared when it connects. */
  private relayFailure: RelayFailure | undefined;
  /** The set-up mistakes (TLS trust, not a relay) already told, by message: each is said once. */
  private readonly relayFailuresReported = new Set<string>();
  private lastServerState: ServerState | undefined;

  constructor(
    private readonly opts: ServerConnectionsOptions,
    private readonly c: ServerConnectionsComponents,
  ) {
    this.serverPin = new ServerKeyPin(opts.serverFingerprint, (fingerprint) =>
      c.emit('server-key', { fingerprint }),
    );
  }

  /** The UDP rendezvous client, once started. */
  get udp(): RendezvousClient | undefined {
    return this.client;
  }

  /** Is a relay configured (started with a URL and a stream network)? */
  get relayConfigured(): boolean {
    return this.relayChannel !== undefined;
  }

  get relayReady(): boolean {
    return this.relayChannel?.ready === true;
  }

  /** Send a session packet to a peer through the relay; false when the relay cannot take it. */
  relaySend(to: Uint8Array, payload: Uint8Array): boolean {
    return this.relayChannel?.send(to, payload) ?? false;
  }

  /** ms until a session packet of `payload` bytes may go to the relay within its limits (RelayChannel.wait). */
  relayWait(payload: number): number {
    return this.relayChannel?.wait(payload) ?? 0;
  }

  get state(): ServerState {
    if (this.client?.state === 'registered' || this.relayChannel?.ready) return 'registered';
    return this.client?.state ?? 'connecting';
  }

  /** The rendezvous client to ask for introductions: UDP when registered there, else the stream. */
  get signalling(): RendezvousClient | undefined {
    if (this.client?.state === 'registered') return this.client;
    return this.relayChannel?.rendezvous ?? this.client;
  }

  /** The name we are registered under (or asked for). */
  get name(): string {
    return this.client?.name ?? this.opts.name;
  }

  /**
   * What the rendezvous clients (UDP and the relay stream's) dropped as forged or stale, and the
   * presence gaps they repaired, summed.
   */
  get drops(): RendezvousClientStats {
    const out = emptyClientStats();
    for (const c of [this.client, this.relayChannel?.rendezvous])
      if (c) for (const k of Object.keys(out) as (keyof RendezvousClientStats)[]) out[k] += c.stats[k];
    return out;
  }

  /** A message from the server's endpoint (the gate checked where it came from). */
  onMessage(m: Message, raw: Uint8Array): void {
    this.client?.onMessage(m, raw);
  }

  /** Start registering over UDP (with a STUN request beside it) and, when configured, the relay. */
  start(): void {
    const { server, room, name, lan, keepaliveMs } = this.opts;
    const client = new RendezvousClient(
      { server, room, name, lan, keepaliveMs, transport: 'udp' },
      {
        identity: this.c.identity,
        clock: this.c.clock,
        logger: this.c.logger,
        send: this.c.send,
        randomBytes: this.c.randomBytes,
        serverPin: this.serverPin,
      },
    );
    this.wireClient(client, 'udp');
    client.on('observed', (e) => {
      this.c.logger.info('public endpoint changed', {
        from: endpointKey(e.previous),
        to: endpointKey(e.observed),
      });
      this.c.observedChanged(); // a network change: try the direct path again at once
    });
    this.client = client;
    this.startNatProbe(client);
    client.start();
    this.c.send(this.c.gate.stunRequest(), server);
    if (this.opts.relayUrl && this.c.streams) this.startRelay(this.opts.relayUrl, this.c.streams);
  }

  /** Wait, at most `maxMs`, for a running port-behaviour measurement to reach the server (NatProbe.settled). */
  natSettled(maxMs: number): Promise<void> {
    return this.natProbe?.settled(maxMs) ?? Promise.resolve();
  }

  /** Measure the NAT's port behaviour after each UDP registration from a new mapping. */
  private startNatProbe(client: RendezvousClient): void {
    const socket = this.c.natProbe;
    if (!socket) return;
    const { clock, randomBytes, logger, gate, send } = this.c;
    const server = this.opts.server;
    const probe = new NatProbe({ ...socket, server, clock, randomBytes, logger, gate, send });
    client.on('registered', (e) => probe.registered(client, e.observed));
    this.natProbe = probe;
  }

  private startRelay(url: string, streams: StreamNetwork): void {
    const relay = new RelayChannel(
      { url, room: this.opts.room, name: () => this.name },
      {
        streams,
        identity: this.c.identity,
        clock: this.c.clock,
        logger: this.c.logger,
        randomBytes: this.c.randomBytes,
        serverPin: this.serverPin,
      },
    );
    relay.on('client', (rc) => this.wireClient(rc, 'ws'));
    relay.on('failed', (f) => {
      this.relayFailure = f;
      if ((f.kind === 'tls' || f.kind === 'http') && !this.relayFailuresReported.has(f.message)) {
        this.relayFailuresReported.add(f.message);
        this.c.emit('error', { code: 'RELAY_UNAVAILABLE', message: f.message });
      }
    });
    relay.on('up', () => {
      this.relayFailure = undefined;
      this.stateChanged();
      this.c.relayUp();
    });
    relay.on('down', (d) => {
      this.c.logger.warn('relay connection lost', { reason: d.reason });
      this.c.emit('server-closed', { reason: d.reason });
      this.stateChanged();
    });
    relay.on('relayed', (r) => this.c.relayed(r.from, r.payload));
    this.relayChannel = relay;
    relay.start();
  }

  /** Report the server state when it changes (UDP and stream together), not on every client's change. */
  private stateChanged(): void {
    this.c.changed?.();
    const state = this.state;
    if (state === this.lastServerState) return;
    this.lastServerState = state;
    this.c.emit('server', { state });
  }

  /** Both rendezvous clients (UDP and the relay stream) feed the same handlers. */
  private wireClient(client: RendezvousClient, transport: 'udp' | 'ws'): void {
    client.on('registered', (e) => {
      this.unreachableReported = false;
      this.c.emit('registered', { selfId: idText(e.id), public: endpointKey(e.observed), transport });
    });
    client.on('presence', (e) => this.c.presence(e.members));
    client.on('introduce', (intro) => this.c.introduce(intro));
    client.on('error', (e) => {
      const said = this.errorToSay(transport, e);
      if (said) this.c.emit('error', said);
    });
    client.on('state', () => this.stateChanged());
    client.on('going-away', (e) => this.c.goingAway?.(e.withinMs));
  }

  /** What to say of a rendezvous client's error, if anything: each is said once, with what may explain it. */
  private errorToSay(
    transport: 'udp' | 'ws',
    e: { code: PeerEvents['error']['code']; message: string },
  ): PeerEvents['error'] | undefined {
    // With the relay up, an unreachable UDP rendezvous (UDP blocked) is expected: log it only.
    if (transport === 'udp' && e.code === 'SERVER_UNREACHABLE' && this.relayChannel?.ready) {
      this.c.logger.info('rendezvous unreachable over UDP; using the relay stream', {});
      return undefined;
    }
    // Both clients (UDP and the relay stream) meet the same changed key: say it once.
    if (e.code === 'SERVER_KEY_CHANGED') {
      if (this.keyChangeReported === e.message) return undefined;
      this.keyChangeReported = e.message;
    }
    if (e.code !== 'SERVER_UNREACHABLE') return { code: e.code, message: e.message };
    // Unreachable is said once, with what the relay said, until a registration succeeds (the
    // `server` event tells when it is back); retrying goes on meanwhile.
    if (this.unreachableReported) {
      this.c.logger.info('rendezvous still unreachable', { transport, error: e.message });
      return undefined;
    }
    this.unreachableReported = true;
    const stun =
      transport === 'udp' && this.c.gate.stunAnswered
        ? `; ${endpointKey(this.opts.server)} answers STUN but not punchline: it is a STUN server or a ` +
          'rendezvous\'s alternate port (--alt-port), not the main port its "listening on udp" line shows'
        : '';
    const relay = this.relayFailure ? `; ${this.relayFailure.message}` : '';
    return { code: e.code, message: `${e.message}${stun}${relay}; retrying` };
  }

  /** Stop both clients (the UDP one says LEAVE); idempotent. */
  close(): void {
    this.natProbe?.close();
    this.client?.close();
    this.relayChannel?.close();
  }
}
