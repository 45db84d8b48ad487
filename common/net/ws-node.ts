import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData, ServerOptions } from 'ws';
import { SystemClock } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import { aborted, PunchlineError } from '../errors.js';
import { PING_TIMEOUT, TEXT_FRAME, TOO_BIG } from './stream.js';
import type {
  ConnectionTimeout,
  MessageStream,
  StreamConnectOptions,
  StreamListener,
  StreamListenOptions,
  StreamNetwork,
} from './stream.js';
import { endpointKey } from './types.js';
import type { Endpoint } from './types.js';

/**
 * The stream seam over WebSocket (RFC 6455, package `ws`) on node:http / node:https: the
 * production transport of the TCP fallback. One event loop serves every connection (no thread
 * or process per connection). Binary frames only: a text frame is a protocol error (close 1003).
 * No permessage-deflate: the payloads are encrypted (incompressible), and compression state
 * would cost ~300 KiB per connection.
 */

/** Close codes (RFC 6455 §7.4.1). */
export const WS_CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  POLICY: 1008,
  TOO_BIG: 1009,
} as const;

/**
 * A connection that has not finished its upgrade within this is destroyed (silent sockets, slow
 * headers: a slowloris on the upgrade); the upgrade is one round trip. Node's own headersTimeout
 * is checked only every connectionsCheckingInterval (30 s), so this timer is what holds.
 */
export const DEFAULT_UPGRADE_TIMEOUT_MS = 10_000;
/**
 * A closing connection whose peer has not finished the closing handshake within this is destroyed.
 * RFC 6455 §7.1.1 wants the server to close TCP soon after the close frames; a peer that never
 * answers would otherwise hold its socket for ws's default 30 s.
 */
export const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;
/** A corked socket is flushed at once when this much is waiting (see WsMessageStream.send). */
const CORK_FLUSH_BYTES = 16_384;
/** Before giving up on the client's answer to our close frame at shutdown. */
const SHUTDOWN_GRACE_MS = 1_000;

const TOO_MANY = 'HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/** One accepted TCP connection of a listener, until it is destroyed. */
interface Tracked {
  readonly raw: Socket;
  upgradeTimer: TimerHandle | undefined;
  closeTimer: TimerHandle | undefined;
  timeout?: ConnectionTimeout;
}

/** ws's own close timer, after ours (DEFAULT_CLOSE_TIMEOUT_MS or the option), in case ours is not armed. */
const CLOSE_BACKSTOP_MS = 1_000;

/**
 * The server's WebSocket (ws's `WebSocket` option): ws calls close() on every way a close starts
 * (ours, the client's close frame, which it answers, a protocol error or an oversized message),
 * so this is where the close timeout is armed. terminate() destroys at once and needs none.
 */
class ServerWebSocket extends WebSocket {
  onClosing: (() => void) | undefined;
  override close(code?: number, data?: string | Buffer): void {
    super.close(code, data);
    this.onClosing?.();
  }
}

const stripMapped = (a: string): string => (a.startsWith('::ffff:') ? a.slice(7) : a);

function remoteOf(socket: Duplex): Endpoint {
  const s = socket as Socket;
  return { address: stripMapped(s.remoteAddress ?? '0.0.0.0'), port: s.remotePort ?? 0 };
}

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

/** Wrap an open `ws` socket as a MessageStream (the server's accepted connections use this). */
export function wsToMessageStream(ws: WebSocket, remote: Endpoint): WsMessageStream {
  return new WsMessageStream(ws, remote);
}

class WsListener implements StreamListener {
  readonly streams = new Set<WsMessageStream>();

  private pingTimer: TimerHandle | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly local: Endpoint,
    private readonly server: http.Server | https.Server,
    /** Every TCP connection, upgraded or not (HTTP's closeAllConnections does not see upgraded ones). */
    private readonly sockets: ReadonlySet<Socket>,
    private readonly clock: Clock,
    pingIntervalMs: number,
  ) {
    if (pingIntervalMs > 0) this.schedulePing(pingIntervalMs);
  }

  /**
   * One sweep for every connection (not a timer each): a stream that has not answered the last
   * ping (nor sent anything) since the previous sweep is dead; the others are pinged again.
   */
  private schedulePing(ms: number): void {
    this.pingTimer = this.clock.setTimeout(() => {
      for (const s of this.streams) {
        if (!s.alive) {
          s.terminate(PING_TIMEOUT);
          continue;
        }
        s.alive = false;
        try {
          s.ws.ping();
        } catch {
          /* closing already */
        }
      }
      this.schedulePing(ms);
    }, ms);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.clock.clearTimeout(this.pingTimer);
      const open = [...this.streams];
      for (const s of open) s.close('server shutting down', WS_CLOSE.GOING_AWAY);
      const allClosed = Promise.all(
        open.map((s) => new Promise<void>((r) => (s.closed ? r() : s.onClose(() => r())))),
      );
      await Promise.race([allClosed, new Promise((r) => setTimeout(r, SHUTDOWN_GRACE_MS).unref())]);
      for (const s of this.streams) s.terminate('server shutting down');
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      // Whatever is left (a half-open 429, an upgrade in progress) is cut: close must finish.
      this.server.closeAllConnections();
      for (const sock of this.sockets) sock.destroy();
      await closed;
    })();
    return this.closing;
  }
}

export interface WsNetworkComponents {
  /** Drives the ping sweep and client idle checks; default the system clock. */
  clock?: Clock;
}

/** A StreamNetwork on `ws`: `connectStream('ws://…' | 'wss://…')` and `listenStream` (HTTP or TLS). */
export function createWsStreamNetwork(components: WsNetworkComponents = {}): StreamNetwork {
  const clock = components.clock ?? new SystemClock();
  return {
    connectStream: (url, opts) => connectWs(url, opts ?? {}, clock),
    listenStream: (host, port, onStream, opts) => listenWs(host, port, onStream, opts ?? {}, clock),
  };
}

/** The default production instance. */
export const wsStreamNetwork: StreamNetwork = createWsStreamNetwork();

function connectWs(url: string, opts: StreamConnectOptions, clock: Clock): Promise<MessageStream> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(aborted('connect aborted'));
    let parsed: URL;
    try {
      parsed = new URL(url);
      if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new Error('scheme');
    } catch {
      return reject(new PunchlineError('BAD_ARGUMENT', `not a ws:// or wss:// URL: ${url}`));
    }
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
      ...(opts.maxMessageBytes ? { maxPayload: opts.maxMessageBytes } : {}),
      ...(opts.ca ? { ca: typeof opts.ca === 'string' ? opts.ca : Buffer.from(opts.ca) } : {}),
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    let settled = false;
    const fail = (e: PunchlineError): void => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      ws.terminate();
      reject(e);
    };
    const onAbort = (): void => fail(aborted('connect aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      fail(new PunchlineError('IO', `${url}: server answered HTTP ${String(res.statusCode)}`));
    });
    ws.once('error', (err) => fail(new PunchlineError('IO', `${url}: ${err.message}`, { cause: err })));
    let socket: Duplex | undefined;
    ws.once('upgrade', (res) => (socket = res.socket));
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'wss:' ? 443 : 80;
      const host = parsed.hostname.replace(/^\[|\]$/g, '');
      resolve(
        new WsMessageStream(
          ws,
          { address: host, port },
          { clock, idleTimeoutMs: opts.idleTimeoutMs ?? 0, ...(socket ? { socket } : {}) },
        ),
      );
    });
  });
}

async function listenWs(
  host: string,
  port: number,
  onStream: (s: MessageStream) => void,
  opts: StreamListenOptions,
  clock: Clock,
): Promise<StreamListener> {
  const server = opts.tls
    ? https.createServer({ cert: Buffer.from(opts.tls.cert), key: Buffer.from(opts.tls.key) })
    : http.createServer();
  const upgradeTimeoutMs = opts.upgradeTimeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS;
  const closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  const gate = opts.connections;
  server.headersTimeout = upgradeTimeoutMs;
  server.requestTimeout = upgradeTimeoutMs;
  // Without a gate counting connections, headroom over the WebSocket cap so /healthz and
  // /metrics still answer at the limit (with one, the gate is the cap: see rendezvous/stream-front.ts).
  if (opts.maxConnections && !gate) server.maxConnections = opts.maxConnections + 32;
  // closeTimeout is in ws since 8.18 (package.json asks for ^8.23) but not yet in @types/ws.
  const wssOptions: ServerOptions<typeof ServerWebSocket> & { closeTimeout: number } = {
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    WebSocket: ServerWebSocket,
    // Our own close timer (on the clock, armed by ServerWebSocket.close) fires first and is
    // counted; ws's is only a backstop.
    closeTimeout: closeTimeoutMs + CLOSE_BACKSTOP_MS,
    ...(opts.maxMessageBytes ? { maxPayload: opts.maxMessageBytes } : {}),
  };
  const wss = new WebSocketServer<typeof ServerWebSocket>(wssOptions);
  /** Every accepted TCP connection, by its remote endpoint (the TLS socket over it has the same). */
  const tracked = new Map<string, Tracked>();
  const closing = (t: Tracked | undefined): void => {
    if (!t || t.closeTimer || t.raw.destroyed) return;
    clock.clearTimeout(t.upgradeTimer);
    t.upgradeTimer = undefined;
    t.closeTimer = clock.setTimeout(() => {
      t.timeout = 'close';
      t.raw.destroy();
    }, closeTimeoutMs);
  };
  /** Set once listening: connections that race the listen are refused until then. */
  const live: { listener?: WsListener } = {};

  server.on('request', (req, res) => {
    let path = '/';
    try {
      path = new URL(req.url ?? '/', 'http://x').pathname;
    } catch {
      /* keep '/' */
    }
    const answer = opts.http?.(req.method ?? 'GET', path);
    const a = answer ?? { status: 404, contentType: 'text/plain', body: 'not found\n' };
    res.writeHead(a.status, {
      'content-type': a.contentType,
      'content-length': Buffer.byteLength(a.body),
      'cache-control': 'no-store',
      // One request per connection: a plain HTTP request counts under its IP's limit like any
      // connection, and gives its slot back as soon as it is answered.
      connection: 'close',
    });
    res.end(req.method === 'HEAD' ? undefined : a.body);
  });

  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const remote = remoteOf(socket);
    const t = tracked.get(endpointKey(remote));
    if (!live.listener || (opts.admit && !opts.admit(remote))) {
      socket.end(TOO_MANY);
      closing(t); // a client that never closes its side does not keep the socket
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const l = live.listener;
      if (!l) return ws.terminate();
      if (t) {
        clock.clearTimeout(t.upgradeTimer);
        t.upgradeTimer = undefined;
        ws.onClosing = () => closing(t);
      }
      const s = new WsMessageStream(ws, remote, { socket });
      l.streams.add(s);
      s.onClose(() => l.streams.delete(s));
      onStream(s);
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  const sockets = new Set<Socket>();
  server.on('connection', (sock: Socket) => {
    // Counted from the moment TCP is accepted, not from the upgrade: a socket that never
    // upgrades holds a file descriptor just the same.
    const remote = remoteOf(sock);
    if (gate && !gate.opened(remote)) {
      // Refused before any request: a best-effort 429 for whoever debugs with curl (plain HTTP
      // only; before a TLS handshake it would be noise), and the socket goes at once, uncounted.
      if (!opts.tls) sock.end(TOO_MANY);
      sock.destroy();
      return;
    }
    sockets.add(sock);
    const key = endpointKey(remote);
    const t: Tracked = { raw: sock, upgradeTimer: undefined, closeTimer: undefined };
    t.upgradeTimer = clock.setTimeout(() => {
      t.timeout = 'upgrade';
      sock.destroy();
    }, upgradeTimeoutMs);
    tracked.set(key, t);
    sock.once('close', () => {
      sockets.delete(sock);
      clock.clearTimeout(t.upgradeTimer);
      clock.clearTimeout(t.closeTimer);
      if (tracked.get(key) === t) tracked.delete(key);
      gate?.closed(remote, t.timeout);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => {
    /* accept errors (EMFILE) are transient; the server keeps listening */
  });
  const a = server.address() as AddressInfo;
  const listener = new WsListener(
    { address: stripMapped(a.address), port: a.port },
    server,
    sockets,
    clock,
    opts.pingIntervalMs ?? 0,
  );
  live.listener = listener;
  return listener;
}
