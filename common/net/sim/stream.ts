import type { TimerHandle } from '../../clock.js';
import { PING_TIMEOUT, TOO_BIG } from '../stream.js';
import type { MessageStream } from '../stream.js';
import type { Endpoint } from '../types.js';
import type { SimContext } from './context.js';
import type { Rng } from './random.js';
import type { Hop, Path } from './stream-path.js';

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
 *
 * This file holds one end of a connection; stream-path.ts the route it takes, stream-connect.ts
 * how a connection is opened.
 */

/** Bytes in flight + unread per direction before the sender's queue grows (a modest TCP window). */
export const SIM_STREAM_WINDOW_BYTES = 65_536;
type Item =
  | { kind: 'data'; data: Uint8Array }
  | { kind: 'ping' }
  | { kind: 'pong' }
  | { kind: 'fin'; code: number; reason: string }
  | { kind: 'rst' };

const sizeOf = (item: Item): number => (item.kind === 'data' ? item.data.byteLength : 0);

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
