import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import type { Clock, TimerHandle } from '../clock.js';
import { PING_TIMEOUT, TEXT_FRAME, TOO_BIG } from './stream.js';
import type { MessageStream } from './stream.js';
import type { Endpoint } from './types.js';

/*
 * One WebSocket connection as a MessageStream (ws-node.ts has the transport's overview): the
 * client's, and each the server accepts (ws-listen.ts).
 */

/** Close codes (RFC 6455 §7.4.1). */
export const WS_CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  POLICY: 1008,
  TOO_BIG: 1009,
} as const;

/** A corked socket is flushed at once when this much is waiting (see WsMessageStream.send). */
const CORK_FLUSH_BYTES = 16_384;
const view = (data: RawData): Uint8Array => {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
};

/**
 * A `ws` WebSocket as a MessageStream (both the server's accepted sockets and the client's).
 * `alive` is the liveness flag the server's ping sweep uses: set by any pong, ping or message.
 */
export class WsMessageStream implements MessageStream {
  alive = true;
  private lastHeard: number;
  private messageHandler: (data: Uint8Array) => void = () => {};
  private closeHandlers: ((reason: string) => void)[] = [];
  private done = false;
  private closedReason: string | undefined;
  private localReason: string | undefined;
  private errorReason: string | undefined;
  private idleTimer: TimerHandle | undefined;
  private corked = false;
  private corkedBytes = 0;
  private corkGen = 0;

  constructor(
    readonly ws: WebSocket,
    readonly remote: Endpoint,
    private readonly opts: { clock?: Clock; idleTimeoutMs?: number; socket?: Duplex } = {},
  ) {
    const clock = opts.clock;
    this.lastHeard = clock?.now() ?? 0;
    ws.on('message', (data, isBinary) => {
      this.alive = true;
      if (clock) this.lastHeard = clock.now();
      if (!isBinary) {
        this.close(TEXT_FRAME, WS_CLOSE.UNSUPPORTED_DATA);
        return;
      }
      this.messageHandler(view(data));
    });
    const heard = (): void => {
      this.alive = true;
      if (clock) this.lastHeard = clock.now();
    };
    ws.on('pong', heard);
    ws.on('ping', heard);
    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes the connection itself after an error (1009 for an oversized message).
      this.errorReason = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? TOO_BIG : `error: ${err.message}`;
    });
    ws.on('close', (code, reason) => {
      const text = reason.toString();
      this.finish(
        this.localReason ?? this.errorReason ?? `closed by remote (${code}${text ? ` ${text}` : ''})`,
      );
    });
    if (clock && opts.idleTimeoutMs) this.scheduleIdleCheck(clock, opts.idleTimeoutMs);
  }

  /** Client side: with no message or ping for idleTimeoutMs the server is taken for dead. */
  private scheduleIdleCheck(clock: Clock, ms: number): void {
    this.idleTimer = clock.setTimeout(
      () => {
        if (this.done) return;
        if (clock.now() - this.lastHeard >= ms) return this.terminate(PING_TIMEOUT);
        this.scheduleIdleCheck(clock, ms);
      },
      Math.max(10, ms / 4),
    );
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(data: Uint8Array): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    const socket = this.opts.socket;
    if (socket && !this.corked) {
      // Coalesce what this tick sends to this socket into one write (one writev syscall instead
      // of one per frame: the relay's cost is dominated by syscalls). Uncorked before any I/O.
      this.corked = true;
      this.corkedBytes = 0;
      socket.cork();
      const gen = ++this.corkGen;
      process.nextTick(() => this.uncork(gen));
    }
    this.ws.send(data);
    if (this.corked) {
      this.corkedBytes += data.byteLength;
      // Enough for one good write: flush now, so held-back bytes never look like a slow reader
      // (they count in bufferedAmount, which the relay's queue cap watches).
      if (this.corkedBytes >= CORK_FLUSH_BYTES) this.uncork(this.corkGen);
    }
    return true;
  }

  private uncork(gen: number): void {
    if (!this.corked || gen !== this.corkGen) return;
    this.corked = false;
    this.opts.socket?.uncork();
  }

  onMessage(handler: (data: Uint8Array) => void): void {
    this.messageHandler = handler;
  }

  onClose(handler: (reason: string) => void): void {
    const reason = this.closedReason;
    if (reason === undefined) this.closeHandlers.push(handler);
    else queueMicrotask(() => handler(reason));
  }

  close(reason = 'closed', code: number = WS_CLOSE.NORMAL): void {
    if (this.done || this.localReason !== undefined) return;
    this.localReason = reason;
    // The close reason travels in the close frame: at most 123 bytes (RFC 6455 §5.5).
    this.ws.close(code, Buffer.from(reason).subarray(0, 123));
  }

  /** Drop the connection without a closing handshake (a dead peer would never answer one). */
  terminate(reason: string): void {
    if (this.done) return;
    this.localReason ??= reason;
    this.ws.terminate();
  }

  private finish(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.closedReason = reason;
    this.opts.clock?.clearTimeout(this.idleTimer);
    for (const h of this.closeHandlers.splice(0)) h(reason);
  }

  get closed(): boolean {
    return this.done;
  }
}
