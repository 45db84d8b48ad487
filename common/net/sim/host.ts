import { isIPv4 } from 'node:net';
import { PunchlineError } from '../../errors.js';
import type { MessageStream, StreamListener, StreamListenOptions, StreamNetwork } from '../stream.js';
import type { Endpoint, Network } from '../types.js';
import type { SimContext } from './context.js';
import type { Link } from './link.js';
import { allocatePort } from './nat-rules.js';
import { INITIAL_TTL, MAX_UDP_PAYLOAD, type Packet } from './packet.js';
import type { Rng } from './random.js';
import type { Attachment, SimNode } from './segment.js';
import { SimSocket, type SocketHost } from './socket.js';
import { simConnect } from './stream-connect.js';
import type { SimStreamListener, StreamHost } from './stream-path.js';

/** Linux's default ephemeral range (net.ipv4.ip_local_port_range). */
export const DEFAULT_EPHEMERAL_PORTS: readonly [number, number] = [32768, 60999];

const ANY = '0.0.0.0';
const LOOPBACK = '127.0.0.1';
const isLoopback = (address: string): boolean => address.startsWith('127.');

interface TcpListen extends SimStreamListener {
  readonly address: string;
}

/**
 * A simulated host: one interface on a segment (the internet or a NAT's LAN) plus loopback,
 * a UDP port table and a TCP one. `network` is what the peer or server code running on it gets:
 * UDP sockets (Network) and message streams over simulated TCP (StreamNetwork, stream.ts).
 * blockUdp drops UDP only; streams still get out.
 */
export class SimHost implements SimNode, SocketHost, StreamHost {
  /** The Network and StreamNetwork seams (common/net/types.ts, stream.ts) for code running on this host. */
  readonly network: Network & StreamNetwork;
  /** Host firewall: drop all UDP in and out except loopback. */
  blockUdp: boolean;
  private at: Attachment | undefined;
  private readonly ports = new Map<number, SimSocket[]>();
  /** TCP: listening ports, and ports held by outgoing connections (a separate space from UDP). */
  private readonly tcpListeners = new Map<number, TcpListen>();
  private readonly tcpPorts = new Set<number>();
  private readonly rng: Rng;
  private readonly ephemeral: readonly [number, number];

  constructor(
    readonly name: string,
    private readonly ctx: SimContext,
    readonly link: Link,
    opts: { blockUdp: boolean; ephemeralPorts: readonly [number, number] },
  ) {
    this.blockUdp = opts.blockUdp;
    this.ephemeral = opts.ephemeralPorts;
    this.rng = ctx.rng(`host:${name}`);
    this.network = {
      createUdpSocket: () => new SimSocket(this),
      localAddresses: () => (this.at ? [this.at.address] : [LOOPBACK]),
      connectStream: (url, o) => simConnect(ctx, this, url, o ?? {}),
      listenStream: (h, p, onStream, o) => this.listenStream(h, p, onStream, o ?? {}),
    };
  }

  // ---- StreamHost (stream.ts) ----

  /** @internal */
  get segment(): Attachment['segment'] | undefined {
    return this.at?.segment;
  }

  /** @internal */
  get currentAddress(): string | undefined {
    return this.at?.address;
  }

  /** @internal An ephemeral TCP port for an outgoing connection. */
  allocateTcpPort(): number | undefined {
    const p = allocatePort({
      allocation: 'random',
      preferred: 0,
      range: this.ephemeral,
      cursor: this.ephemeral[0],
      inUse: (q) => this.tcpPorts.has(q) || this.tcpListeners.has(q),
      rng: this.rng,
    });
    if (p !== undefined) this.tcpPorts.add(p);
    return p;
  }

  /** @internal */
  releaseTcpPort(port: number): void {
    this.tcpPorts.delete(port);
  }

  /** @internal The listener a connection to address:port reaches, if any. */
  tcpListener(address: string, port: number): SimStreamListener | undefined {
    const l = this.tcpListeners.get(port);
    if (!l) return undefined;
    const ok = l.address === ANY || l.address === address || (l.address === LOOPBACK && isLoopback(address));
    return ok ? l : undefined;
  }

  /** Ports with a TCP listener, ascending. */
  listeningTcpPorts(): number[] {
    return [...this.tcpListeners.keys()].sort((a, b) => a - b);
  }

  private listenStream(
    address: string,
    port: number,
    onStream: (s: MessageStream) => void,
    opts: StreamListenOptions,
  ): Promise<StreamListener> {
    if (address !== ANY && address !== LOOPBACK && address !== this.at?.address)
      return Promise.reject(
        new PunchlineError('IO', `EADDRNOTAVAIL: ${address} is not an address of ${this.name}`),
      );
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      return Promise.reject(new PunchlineError('IO', `bad port ${String(port)}`));
    let chosen = port;
    if (port === 0) {
      const p = this.allocateTcpPort();
      if (p === undefined)
        return Promise.reject(new PunchlineError('IO', `EADDRINUSE: no TCP port left on ${this.name}`));
      this.tcpPorts.delete(p);
      chosen = p;
    } else if (this.tcpListeners.has(port) || this.tcpPorts.has(port)) {
      return Promise.reject(new PunchlineError('IO', `EADDRINUSE: tcp ${address}:${port} on ${this.name}`));
    }
    const accepted = new Set<MessageStream>();
    const entry: TcpListen = { address, onStream, opts, accepted };
    this.tcpListeners.set(chosen, entry);
    let closed = false;
    return Promise.resolve({
      local: { address, port: chosen },
      close: () => {
        if (!closed) {
          closed = true;
          if (this.tcpListeners.get(chosen) === entry) this.tcpListeners.delete(chosen);
          for (const s of [...accepted]) s.close('server shutting down', 1001);
        }
        return Promise.resolve();
      },
    });
  }

  /** The host's interface address (LAN address behind a NAT, public address on the internet). */
  get address(): string {
    if (!this.at) throw new Error(`host ${this.name} is not attached`);
    return this.at.address;
  }

  /** @internal The simulator (re)places the host. */
  attach(at: Attachment | undefined): void {
    this.at = at;
  }

  /** Ports with a bound socket, ascending. */
  boundPorts(): number[] {
    return [...this.ports.keys()].sort((a, b) => a - b);
  }

  bindSocket(sock: SimSocket, port: number, address: string): Endpoint {
    if (address !== ANY && address !== LOOPBACK && address !== this.at?.address)
      throw new PunchlineError('IO', `EADDRNOTAVAIL: ${address} is not an address of ${this.name}`);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new PunchlineError('IO', `bad port ${String(port)}`);
    const clash = (p: number): boolean =>
      (this.ports.get(p) ?? []).some((s) => {
        const a = s.bound?.address;
        return a === ANY || address === ANY || a === address;
      });
    let chosen = port;
    if (port === 0) {
      const p = allocatePort({
        allocation: 'random',
        preferred: 0,
        range: this.ephemeral,
        cursor: this.ephemeral[0],
        inUse: (q) => this.ports.has(q),
        rng: this.rng,
      });
      if (p === undefined)
        throw new PunchlineError('IO', `EADDRINUSE: no ephemeral port left on ${this.name}`);
      chosen = p;
    } else if (clash(port)) {
      throw new PunchlineError('IO', `EADDRINUSE: ${address}:${port} on ${this.name}`);
    }
    const list = this.ports.get(chosen) ?? [];
    list.push(sock);
    this.ports.set(chosen, list);
    return { address, port: chosen };
  }

  unbindSocket(sock: SimSocket): void {
    const port = sock.bound?.port;
    if (port === undefined) return;
    const list = (this.ports.get(port) ?? []).filter((s) => s !== sock);
    if (list.length > 0) this.ports.set(port, list);
    else this.ports.delete(port);
  }

  sendFrom(sock: SimSocket, data: Uint8Array, to: Endpoint): void {
    const from = sock.bound;
    const loop = isLoopback(to.address) || to.address === this.at?.address;
    const srcAddress =
      from && from.address !== ANY
        ? from.address
        : isLoopback(to.address)
          ? LOOPBACK
          : (this.at?.address ?? LOOPBACK);
    // Snapshot the payload: later writes to the sender's buffer must not travel.
    const p: Packet = {
      id: this.ctx.newPacketId(),
      proto: 'udp',
      src: { address: srcAddress, port: from?.port ?? 0 },
      dst: { address: to.address, port: to.port },
      data: data.byteLength > MAX_UDP_PAYLOAD ? data : new Uint8Array(data),
      ttl: INITIAL_TTL,
    };
    this.ctx.sent(p, this.name);
    const refuse = (reason: 'closed' | 'no-route' | 'too-big'): void => {
      sock.sendErrors++;
      this.ctx.drop(p, reason, this.name);
    };
    if (!from || !sock.isOpen) return refuse('closed');
    if (!isIPv4(to.address) || !Number.isInteger(to.port) || to.port < 1 || to.port > 65535)
      return refuse('no-route');
    if (data.byteLength > MAX_UDP_PAYLOAD) return refuse('too-big');
    if (loop) {
      this.ctx.clock.setTimeout(() => this.deliverLocal(p), 0);
      return;
    }
    if (from.address === LOOPBACK) return refuse('no-route');
    if (this.blockUdp) return this.ctx.drop(p, 'blocked', this.name);
    const at = this.at;
    if (!at) return refuse('no-route');
    this.ctx.transmit(this.link, 'up', p, (q) => at.segment.route(q, this));
  }

  /**
   * Send a datagram with a forged source address, as an attacker on a network without source
   * address validation (no BCP 38 filtering) can: for tests that attack what trusts a source.
   */
  sendSpoofed(data: Uint8Array, from: Endpoint, to: Endpoint): void {
    const p: Packet = {
      id: this.ctx.newPacketId(),
      proto: 'udp',
      src: { address: from.address, port: from.port },
      dst: { address: to.address, port: to.port },
      data: new Uint8Array(data),
      ttl: INITIAL_TTL,
    };
    this.ctx.sent(p, this.name);
    const at = this.at;
    if (!at) return this.ctx.drop(p, 'no-route', this.name);
    this.ctx.transmit(this.link, 'up', p, (q) => at.segment.route(q, this));
  }

  receiveFromUplink(p: Packet): void {
    // The host may have moved while the packet was on the wire.
    if (!this.at || p.dst.address !== this.at.address) return this.ctx.drop(p, 'no-route', this.name);
    if (this.blockUdp) return this.ctx.drop(p, 'blocked', this.name);
    this.deliverLocal(p);
  }

  private deliverLocal(p: Packet): void {
    const sock = (this.ports.get(p.dst.port) ?? []).find((s) => {
      const a = s.bound?.address;
      return a === ANY || a === p.dst.address || (a === LOOPBACK && isLoopback(p.dst.address));
    });
    if (!sock) return this.ctx.drop(p, 'no-listener', this.name);
    this.ctx.delivered(p, this.name);
    sock.dispatch(new Uint8Array(p.data), { ...p.src });
  }
}
