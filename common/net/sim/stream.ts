import { isIPv4 } from 'node:net';
import type { TimerHandle } from '../../clock.js';
import { aborted, badArgument, PunchlineError, timeout } from '../../errors.js';
import { PING_TIMEOUT, TOO_BIG } from '../stream.js';
import type { MessageStream, StreamConnectOptions, StreamListenOptions } from '../stream.js';
import type { Endpoint } from '../types.js';
import type { SimContext } from './context.js';
import type { Link, LinkDirection } from './link.js';
import type { Rng } from './random.js';
import type { Segment } from './segment.js';

/**
 * Simulated TCP connections carrying messages (the WebSocket relay's transport in tests).
 *
 * What is modelled, and why:
 * - **Routing through the topology.** The client connects out through its NATs (each gives the
 *   connection a TCP mapping for its lifetime, in a port space apart from UDP), so the server sees
 *   the outermost NAT's public address, as in life. `blockUdp` does not stop it: "UDP blocked,
 *   only TCP gets out" is the case this exists for. No hairpinning, no port forwarding: the
 *   server must sit on the internet (or on the client's own LAN or host).
 * - **Delay, not loss.** Each message crosses every access link on the path and takes its delay
 *   and jitter, but link loss, duplication and reordering do not apply: TCP retransmits and
 *   delivers in order. Arrival times are made monotonic per direction (FIFO).
 * - **Back-pressure.** A direction carries at most `windowBytes` in flight plus unread at the
 *   receiver (a TCP receive window); beyond that, messages wait in the sender's queue, which is
 *   `bufferedAmount`. A test can stop a receiver reading (`pauseReading`) to make a slow consumer.
 * - **Close propagation.** close() sends a FIN after what is queued (a graceful close);
 *   terminate() sends a reset at once. Either reaches the other side after the path's delay.
 * - **Dead paths.** If the client's host moves or a NAT on the path loses the mapping
 *   (flushMappings), the path dies for good: nothing more is delivered and nobody is told, as with
 *   a real TCP connection whose NAT state is gone. Liveness pings (the listener's
 *   `pingIntervalMs`, the client's `idleTimeoutMs`) are what find it.
 */

/** Bytes in flight + unread per direction before the sender's queue grows (a modest TCP window). */
export const SIM_STREAM_WINDOW_BYTES = 65_536;
/** A connection attempt to an unreachable address gives up after this (TCP SYN retries). */
export const SIM_CONNECT_TIMEOUT_MS = 10_000;

export interface SimStreamStats {
  connects: number;
  refused: number;
  timeouts: number;
  /** Messages handed to send() on open streams, and their bytes. */
  messages: number;
  bytes: number;
  /** Items (messages, pings, FINs) that met a dead path. */
  lost: number;
}

export const newStreamStats = (): SimStreamStats => ({
  connects: 0,
  refused: 0,
  timeouts: 0,
  messages: 0,
  bytes: 0,
  lost: 0,
});

/** One access link crossed in one direction. */
interface Hop {
  readonly link: Link;
  readonly dir: LinkDirection;
}

/** A NAT as the stream layer needs it (nat.ts). */
export interface StreamNat {
  readonly name: string;
  readonly link: Link;
  readonly lan: Segment;
  readonly upstream: Segment | undefined;
  readonly externalAddress: string;
  /** A TCP mapping for one connection: the external endpoint, or undefined when ports run out. */
  openStreamMapping(internal: Endpoint, remote: Endpoint): Endpoint | undefined;
  hasStreamMapping(port: number): boolean;
  closeStreamMapping(port: number, internal: Endpoint): void;
}

/** A host as the stream layer needs it (host.ts). */
export interface StreamHost {
  readonly name: string;
  readonly link: Link;
  readonly segment: Segment | undefined;
  /** The interface address, or undefined when detached. */
  readonly currentAddress: string | undefined;
  allocateTcpPort(): number | undefined;
  releaseTcpPort(port: number): void;
  tcpListener(address: string, port: number): SimStreamListener | undefined;
}

export interface SimStreamListener {
  readonly onStream: (s: MessageStream) => void;
  readonly opts: StreamListenOptions;
  readonly accepted: Set<SimStream>;
}

type Item =
  | { kind: 'data'; data: Uint8Array }
  | { kind: 'ping' }
  | { kind: 'pong' }
  | { kind: 'fin'; code: number; reason: string }
  | { kind: 'rst' };

const sizeOf = (item: Item): number => (item.kind === 'data' ? item.data.byteLength : 0);

/** The path of one connection, and whether everything it relies on still holds. */
class Path {
  dead = false;
  constructor(
    readonly up: Hop[],
    readonly down: Hop[],
    private readonly checks: (() => boolean)[],
  ) {}
  alive(): boolean {
    if (!this.dead && !this.checks.every((c) => c())) this.dead = true;
    return !this.dead;
  }
  delay(hops: Hop[], rng: Rng): number {
    let d = 0;
    for (const h of hops) {
      const c = h.link[h.dir];
      d += c.delayMs + rng.next() * c.jitterMs;
    }
    return d;
  }
  baseRtt(): number {
    let d = 0;
    for (const h of [...this.up, ...this.down]) d += h.link[h.dir].delayMs;
    return d;
  }
}

/** One end of a simulated connection. */
export class SimStream implements MessageStream {
  /** Liveness for the server's ping: any pong or message since the last ping. */
  private alive = true;
  private lastHeard: number;
  private open = true;
  private queue: Item[] = [];
  private queued = 0;
  private unread: Item[] = [];
  private unreadBytes = 0;
  private paused = false;
  private handler: ((data: Uint8Array) => void) | undefined;
  private closeHandlers: ((reason: string) => void)[] = [];
  private closeReported = false;
  /** Set once the close has been announced to the handlers (later ones are told at once). */
  private closedReason: string | undefined;
  private timer: TimerHandle | undefined;
  /** Set by the connection: the other end, the hops towards it, and the delivery bookkeeping. */
  other!: SimStream;
  hops!: Hop[];
  private lastArrival = 0;
  private inFlight = 0;
  /** Largest message accepted (the listener's maxMessageBytes), on the server end. */
  maxMessageBytes = Infinity;
  onRelease: () => void = () => {};

  constructor(
    readonly remote: Endpoint,
    private readonly ctx: SimContext,
    private readonly path: Path,
    private readonly rng: Rng,
    readonly side: 'client' | 'server',
  ) {
    this.lastHeard = ctx.clock.now();
  }

  get bufferedAmount(): number {
    return this.queued;
  }

  /** True until this end closes or learns of the other end's close. */
  get isOpen(): boolean {
    return this.open;
  }

  send(data: Uint8Array): boolean {
    if (!this.open) return false;
    this.ctx.streams.messages++;
    this.ctx.streams.bytes += data.byteLength;
    this.enqueue({ kind: 'data', data: new Uint8Array(data) });
    return true;
  }

  onMessage(handler: (data: Uint8Array) => void): void {
    this.handler = handler;
    this.drainUnread();
  }

  onClose(handler: (reason: string) => void): void {
    const reason = this.closedReason;
    if (reason === undefined) this.closeHandlers.push(handler);
    else this.ctx.clock.setTimeout(() => handler(reason), 0);
  }

  close(reason = 'closed', code = 1000): void {
    if (!this.open) return;
    this.open = false;
    this.enqueue({ kind: 'fin', code, reason });
    this.reportClose(reason);
  }

  /** Drop the connection at once (a reset): queued data is discarded. */
  terminate(reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.queue = [];
    this.queued = 0;
    this.transmit({ kind: 'rst' });
    this.reportClose(reason);
  }

  /** Test hook: stop reading (a slow consumer); arrivals pile up, then the sender's queue grows. */
  pauseReading(): void {
    this.paused = true;
  }

  resumeReading(): void {
    this.paused = false;
    this.drainUnread();
  }

  /** Server end: ping every `ms`; no pong (or message) by the next ping closes with PING_TIMEOUT. */
  startPing(ms: number): void {
    this.timer = this.ctx.clock.setTimeout(() => {
      if (!this.open) return;
      if (!this.alive) return this.terminate(PING_TIMEOUT);
      this.alive = false;
      this.enqueue({ kind: 'ping' });
      this.startPing(ms);
    }, ms);
  }

  /** Client end: close with PING_TIMEOUT when nothing arrives for `ms`. */
  startIdleCheck(ms: number): void {
    this.timer = this.ctx.clock.setTimeout(
      () => {
        if (!this.open) return;
        if (this.ctx.clock.now() - this.lastHeard >= ms) return this.terminate(PING_TIMEOUT);
        this.startIdleCheck(ms);
      },
      Math.max(10, ms / 4),
    );
  }

  private enqueue(item: Item): void {
    this.queue.push(item);
    this.queued += sizeOf(item);
    this.pump();
  }

  /** Move queued items onto the wire while the window allows (control items always fit). */
  pump(): void {
    while (this.queue.length > 0) {
      const item = this.queue[0]!;
      const size = sizeOf(item);
      const used = this.inFlight + this.other.unreadBytes;
      if (size > 0 && used > 0 && used + size > SIM_STREAM_WINDOW_BYTES) return;
      this.queue.shift();
      this.queued -= size;
      this.transmit(item);
    }
  }

  private transmit(item: Item): void {
    const now = this.ctx.clock.now();
    const at = Math.max(now + this.path.delay(this.hops, this.rng), this.lastArrival);
    this.lastArrival = at;
    const size = sizeOf(item);
    this.inFlight += size;
    this.ctx.clock.setTimeout(() => {
      this.inFlight -= size;
      if (!this.path.alive()) {
        this.ctx.streams.lost++;
        return;
      }
      this.other.arrive(item);
      this.pump();
    }, at - now);
  }

  /** An item from the other end reached this one. */
  private arrive(item: Item): void {
    if (item.kind === 'rst') return this.remoteClosed('connection reset by remote');
    if (!this.open && item.kind !== 'fin') return;
    this.lastHeard = this.ctx.clock.now();
    this.alive = true;
    this.unread.push(item);
    this.unreadBytes += sizeOf(item);
    this.drainUnread();
  }

  private drainUnread(): void {
    while (this.unread.length > 0 && !this.paused) {
      const item = this.unread[0]!;
      if (item.kind === 'data' && !this.handler) return; // nobody listening yet: hold it
      this.unread.shift();
      this.unreadBytes -= sizeOf(item);
      switch (item.kind) {
        case 'data':
          if (item.data.byteLength > this.maxMessageBytes) {
            // Like ws: an oversized message closes the connection (1009).
            this.close(TOO_BIG, 1009);
            return;
          }
          if (this.open) this.handler!(item.data);
          break;
        case 'ping':
          if (this.open) this.enqueue({ kind: 'pong' });
          break;
        case 'pong':
          break;
        case 'fin':
          this.remoteClosed(`closed by remote (${item.code}${item.reason ? ` ${item.reason}` : ''})`);
          return;
      }
    }
    // Reading freed window: the other side may send what it was holding.
    this.other.pump();
  }

  private remoteClosed(reason: string): void {
    this.unread = [];
    this.unreadBytes = 0;
    if (this.open) {
      this.open = false;
      this.queue = [];
      this.queued = 0;
      this.reportClose(reason);
    }
    this.maybeRelease();
  }

  private reportClose(reason: string): void {
    if (this.closeReported) return;
    this.closeReported = true;
    this.ctx.clock.clearTimeout(this.timer);
    // Asynchronous, like a socket's close event: never re-enter the caller of close().
    this.ctx.clock.setTimeout(() => {
      this.closedReason = reason;
      for (const h of this.closeHandlers.splice(0)) h(reason);
    }, 0);
    this.maybeRelease();
  }

  private maybeRelease(): void {
    if (!this.open && !this.other.open) this.onRelease();
  }
}

/**
 * The route from `from` to `address`, found by walking up through the NATs until a segment holds
 * the address. Returns the connection's path pieces, or a reason it cannot be made.
 */
const isNat = (n: unknown): n is StreamNat => typeof (n as StreamNat).openStreamMapping === 'function';
const isHost = (n: unknown): n is StreamHost => typeof (n as StreamHost).tcpListener === 'function';

function route(
  from: StreamHost,
  address: string,
):
  | { ok: true; target: StreamHost; up: Hop[]; nats: StreamNat[] }
  | { ok: false; why: 'no-route' | 'refused' } {
  if (address.startsWith('127.') || address === from.currentAddress)
    return { ok: true, target: from, up: [], nats: [] };
  let seg = from.segment;
  if (!seg) return { ok: false, why: 'no-route' };
  const up: Hop[] = [{ link: from.link, dir: 'up' }];
  const nats: StreamNat[] = [];
  for (let depth = 0; depth < 16; depth++) {
    const member = seg.member(address);
    if (member && isHost(member)) {
      up.push({ link: member.link, dir: 'down' });
      return { ok: true, target: member, up, nats };
    }
    if (member) return { ok: false, why: 'refused' }; // a NAT's own address: nothing listens there
    const gw: unknown = seg.gateway;
    if (!gw || !isNat(gw) || address.startsWith(seg.prefix) || !gw.upstream)
      return { ok: false, why: 'no-route' };
    nats.push(gw);
    up.push({ link: gw.link, dir: 'up' });
    seg = gw.upstream;
  }
  return { ok: false, why: 'no-route' };
}

function parseUrl(url: string): Endpoint {
  const m = /^wss?:\/\/([^/:]+|\[[^\]]+\]):(\d+)(\/.*)?$/.exec(url);
  if (!m || !isIPv4(m[1]!)) throw badArgument(`the simulated network needs ws://IPv4:PORT/..., got ${url}`);
  return { address: m[1]!, port: Number(m[2]) };
}

/**
 * Open a connection from `host` to `url` (see the file comment for the model). Resolves after two
 * round trips (TCP handshake, then the WebSocket upgrade); the server's onStream runs after 1.5.
 */
export function simConnect(
  ctx: SimContext,
  host: StreamHost,
  url: string,
  opts: StreamConnectOptions,
): Promise<MessageStream> {
  return new Promise((resolve, reject) => {
    let dst: Endpoint;
    try {
      dst = parseUrl(url);
    } catch (e) {
      return reject(e);
    }
    if (opts.signal?.aborted) return reject(aborted('connect aborted'));
    const clock = ctx.clock;
    let settled = false;
    const timers: TimerHandle[] = [];
    const cleanup: (() => void)[] = [];
    let client: SimStream | undefined;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      for (const t of timers) clock.clearTimeout(t);
      fn();
    };
    const fail = (e: Error): void =>
      settle(() => {
        // Once the server has its end, a reset tears both down (and releases the path).
        if (client) client.terminate(e.message);
        else for (const c of cleanup) c();
        reject(e);
      });
    const onAbort = (): void => fail(aborted('connect aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const r = route(host, dst.address);
    if (!r.ok && r.why === 'no-route') {
      timers.push(
        clock.setTimeout(() => {
          ctx.streams.timeouts++;
          fail(timeout(`connect ${url}: no route (gave up after ${SIM_CONNECT_TIMEOUT_MS} ms)`));
        }, SIM_CONNECT_TIMEOUT_MS),
      );
      return;
    }
    const clientAddress = host.currentAddress ?? '127.0.0.1';
    const localPort = host.allocateTcpPort();
    if (localPort === undefined)
      return fail(new PunchlineError('IO', `no ephemeral TCP port left on ${host.name}`));
    cleanup.push(() => host.releaseTcpPort(localPort));
    const local: Endpoint = {
      address: dst.address.startsWith('127.') ? '127.0.0.1' : clientAddress,
      port: localPort,
    };

    // Outbound through each NAT: a TCP mapping for the connection's life.
    let seen: Endpoint = local;
    const checks: (() => boolean)[] = [];
    const startAddress = host.currentAddress;
    checks.push(() => host.currentAddress === startAddress);
    if (r.ok) {
      for (const nat of r.nats) {
        const inside = seen;
        const ext = nat.openStreamMapping(inside, dst);
        if (!ext) return fail(new PunchlineError('IO', `connect ${url}: NAT ${nat.name} is out of ports`));
        cleanup.push(() => nat.closeStreamMapping(ext.port, inside));
        const natAddress = nat.externalAddress;
        checks.push(() => nat.hasStreamMapping(ext.port) && nat.externalAddress === natAddress);
        seen = ext;
      }
      const target = r.target;
      const targetAddress = target.currentAddress;
      if (target !== host) checks.push(() => target.currentAddress === targetAddress);
    }
    const up = r.ok ? r.up : [];
    const down = [...up].reverse().map((h) => ({ link: h.link, dir: h.dir === 'up' ? 'down' : 'up' }) as Hop);
    const path = new Path(up, down, checks);
    const rtt = path.baseRtt();

    timers.push(
      clock.setTimeout(() => {
        const listener = r.ok ? r.target.tcpListener(dst.address, dst.port) : undefined;
        if (!listener) {
          ctx.streams.refused++;
          // The RST travels back: refused after one round trip in all (this timer is at 1.5).
          return void timers.push(
            clock.setTimeout(() => fail(new PunchlineError('IO', `connect ${url}: ECONNREFUSED`)), 0),
          );
        }
        if (listener.opts.admit && !listener.opts.admit(seen)) {
          ctx.streams.refused++;
          return void timers.push(
            clock.setTimeout(
              () => fail(new PunchlineError('IO', `${url}: server answered HTTP 429`)),
              rtt / 2,
            ),
          );
        }
        const rngC = ctx.rng(`stream:${host.name}:${localPort}:c`);
        const rngS = ctx.rng(`stream:${host.name}:${localPort}:s`);
        const c = new SimStream(dst, ctx, path, rngC, 'client');
        client = c;
        const server = new SimStream(seen, ctx, path, rngS, 'server');
        c.other = server;
        server.other = c;
        c.hops = up;
        server.hops = down;
        server.maxMessageBytes = listener.opts.maxMessageBytes ?? Infinity;
        let released = false;
        const release = (): void => {
          if (released) return;
          released = true;
          listener.accepted.delete(server);
          for (const c of cleanup) c();
        };
        c.onRelease = release;
        server.onRelease = release;
        listener.accepted.add(server);
        ctx.streams.connects++;
        if (listener.opts.pingIntervalMs) server.startPing(listener.opts.pingIntervalMs);
        listener.onStream(server);
        timers.push(
          clock.setTimeout(() => {
            settle(() => {
              if (opts.idleTimeoutMs) c.startIdleCheck(opts.idleTimeoutMs);
              resolve(c);
            });
          }, rtt / 2),
        );
      }, rtt * 1.5),
    );
  });
}
