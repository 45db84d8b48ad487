import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Server, ServerOptions } from 'ws';
import type { Clock, TimerHandle } from '../clock.js';
import { PING_TIMEOUT } from './stream.js';
import type { ConnectionTimeout, MessageStream, StreamListener, StreamListenOptions } from './stream.js';
import { endpointKey } from './types.js';
import type { Endpoint } from './types.js';
import { WS_CLOSE, WsMessageStream } from './ws-stream.js';

/*
 * The server side of the WebSocket transport (ws-node.ts has the overview): one node:http or
 * node:https server, every TCP connection counted from accept to destruction, upgrade and close
 * timeouts on the injected clock, plain HTTP answers on the same port.
 */

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

/** How a listener's connections are served: its options, its timeouts and its bookkeeping. */
interface Serving {
  readonly opts: StreamListenOptions;
  readonly clock: Clock;
  readonly upgradeTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly onStream: (s: MessageStream) => void;
  readonly wss: Server<typeof ServerWebSocket>;
  /** Every accepted TCP connection, by its remote endpoint (the TLS socket over it has the same). */
  readonly tracked: Map<string, Tracked>;
  /** Every TCP connection, upgraded or not (HTTP's closeAllConnections does not see upgraded ones). */
  readonly sockets: Set<Socket>;
  /** Set once listening: connections that race the listen are refused until then. */
  listener?: WsListener;
}

export async function listenWs(
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
  server.headersTimeout = upgradeTimeoutMs;
  server.requestTimeout = upgradeTimeoutMs;
  // Without a gate counting connections, headroom over the WebSocket cap so /healthz and
  // /metrics still answer at the limit (with one, the gate is the cap: see rendezvous/stream-front.ts).
  if (opts.maxConnections && !opts.connections) server.maxConnections = opts.maxConnections + 32;
  const sv: Serving = {
    opts,
    clock,
    upgradeTimeoutMs,
    closeTimeoutMs,
    onStream,
    wss: webSocketServer(opts, closeTimeoutMs),
    tracked: new Map(),
    sockets: new Set(),
  };
  server.on('request', (req, res) => answerHttp(opts, req, res));
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => upgrade(sv, req, socket, head));
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('connection', (sock: Socket) => accepted(sv, sock));
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
  const local = { address: stripMapped(a.address), port: a.port };
  sv.listener = new WsListener(local, server, sv.sockets, clock, opts.pingIntervalMs ?? 0);
  return sv.listener;
}

function webSocketServer(opts: StreamListenOptions, closeTimeoutMs: number): Server<typeof ServerWebSocket> {
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
  return new WebSocketServer<typeof ServerWebSocket>(wssOptions);
}

/** A connection starts closing: it gets closeTimeoutMs to finish, then it is destroyed. */
function closing(sv: Serving, t: Tracked | undefined): void {
  if (!t || t.closeTimer || t.raw.destroyed) return;
  sv.clock.clearTimeout(t.upgradeTimer);
  t.upgradeTimer = undefined;
  t.closeTimer = sv.clock.setTimeout(() => {
    t.timeout = 'close';
    t.raw.destroy();
  }, sv.closeTimeoutMs);
}

/** A plain HTTP request on the stream port (health, metrics): the owner's answer, or 404. */
function answerHttp(opts: StreamListenOptions, req: http.IncomingMessage, res: http.ServerResponse): void {
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
}

/** An upgrade request: refused (429) before listening or by admission, else a new stream. */
function upgrade(sv: Serving, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const remote = remoteOf(socket);
  const t = sv.tracked.get(endpointKey(remote));
  if (!sv.listener || (sv.opts.admit && !sv.opts.admit(remote))) {
    socket.end(TOO_MANY);
    closing(sv, t); // a client that never closes its side does not keep the socket
    return;
  }
  sv.wss.handleUpgrade(req, socket, head, (ws) => {
    const l = sv.listener;
    if (!l) return ws.terminate();
    if (t) {
      sv.clock.clearTimeout(t.upgradeTimer);
      t.upgradeTimer = undefined;
      ws.onClosing = () => closing(sv, t);
    }
    const s = new WsMessageStream(ws, remote, { socket });
    l.streams.add(s);
    s.onClose(() => l.streams.delete(s));
    sv.onStream(s);
  });
}

/**
 * A TCP connection is accepted: counted from this moment, not from the upgrade (a socket that
 * never upgrades holds a file descriptor just the same), and timed until it upgrades.
 */
function accepted(sv: Serving, sock: Socket): void {
  const { opts, clock } = sv;
  const gate = opts.connections;
  const remote = remoteOf(sock);
  if (gate && !gate.opened(remote)) {
    // Refused before any request: a best-effort 429 for whoever debugs with curl (plain HTTP
    // only; before a TLS handshake it would be noise), and the socket goes at once, uncounted.
    if (!opts.tls) sock.end(TOO_MANY);
    sock.destroy();
    return;
  }
  sv.sockets.add(sock);
  const key = endpointKey(remote);
  const t: Tracked = { raw: sock, upgradeTimer: undefined, closeTimer: undefined };
  t.upgradeTimer = clock.setTimeout(() => {
    t.timeout = 'upgrade';
    sock.destroy();
  }, sv.upgradeTimeoutMs);
  sv.tracked.set(key, t);
  sock.once('close', () => {
    sv.sockets.delete(sock);
    clock.clearTimeout(t.upgradeTimer);
    clock.clearTimeout(t.closeTimer);
    if (sv.tracked.get(key) === t) sv.tracked.delete(key);
    gate?.closed(remote, t.timeout);
  });
}
