import type { Endpoint } from './types.js';

/**
 * The stream seam for the TCP fallback (docs/architecture.md, Seams): a reliable, ordered, message-framed
 * connection. Production: a WebSocket (`ws`) over TCP or TLS (common/net/ws-node.ts). Tests: a
 * simulated connection through the simulated network's topology (common/net/sim/stream.ts; a NAT
 * that blocks UDP still lets it through). The relay core and the peer's relay client only ever
 * see this interface.
 */
export interface MessageStream {
  /** The other end as this side sees it (for the server: the client's public TCP source). */
  readonly remote: Endpoint;
  /** Queue one message. Returns false if the stream is closed (the message is dropped). */
  send(data: Uint8Array): boolean;
  /** Bytes queued but not yet handed to the network: the sender's back-pressure signal. */
  readonly bufferedAmount: number;
  onMessage(handler: (data: Uint8Array) => void): void;
  /** Called once when the stream closes for any reason (either side, or a dead connection). */
  onClose(handler: (reason: string) => void): void;
  /**
   * Close; idempotent. `code` is a WebSocket close code (RFC 6455 §7.4.1; default 1000 normal,
   * 1008 policy violation, 1001 going away); transports without codes ignore it.
   */
  close(reason?: string, code?: number): void;
}

/** The onClose reason when the transport's liveness check (WebSocket ping/pong) found the peer dead. */
export const PING_TIMEOUT = 'ping timeout';
/** The onClose reason when a client sent a text frame (binary frames only; WebSocket close 1003). */
export const TEXT_FRAME = 'text frame';
/** The onClose reason when a message exceeded maxMessageBytes (WebSocket close 1009). */
export const TOO_BIG = 'message too big';

/** A plain HTTP answer on the stream port (health and metrics); transports without HTTP ignore it. */
export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** Why a transport cut a connection on its own: never upgraded, or never finished closing. */
export type ConnectionTimeout = 'upgrade' | 'close';

/**
 * Admission by transport connection (for `ws`: the TCP socket), from the moment it is accepted
 * until it is destroyed: before the upgrade (which may never come), while it serves plain HTTP,
 * and while it closes. The owner counts here what must not outnumber its limits; a transport
 * without such a phase (the simulator) does not call it.
 */
export interface ConnectionGate {
  /** A connection from `remote` was accepted: false refuses it (destroyed at once, no answer). */
  opened(remote: Endpoint): boolean;
  /**
   * A connection `opened` admitted is destroyed (called once for it); `timeout` when the
   * transport cut it itself.
   */
  closed(remote: Endpoint, timeout?: ConnectionTimeout): void;
}

export interface StreamListenOptions {
  /**
   * Liveness: ping every stream this often; one with no pong (or other traffic) by the next ping
   * is closed with PING_TIMEOUT. 0 turns it off.
   */
  pingIntervalMs?: number;
  /** Largest message a client may send; a larger one closes its stream (TOO_BIG). */
  maxMessageBytes?: number;
  /** Asked before a connection is accepted (per-IP and total limits): false refuses it early. */
  admit?: (remote: Endpoint) => boolean;
  /** Total open connections the transport accepts at most (a cap below the fd limit). */
  maxConnections?: number;
  /** Told of every transport connection from accept to destruction (see ConnectionGate). */
  connections?: ConnectionGate;
  /**
   * A connection that has not become a stream (finished its upgrade) within this is destroyed:
   * silent sockets and slow headers cannot hold a slot for long. Default 10000.
   */
  upgradeTimeoutMs?: number;
  /**
   * Once a stream is closing (a close frame sent or received, RFC 6455 §5.5.1), its connection
   * is destroyed if the other side has not finished the closing handshake within this. Default 2000.
   */
  closeTimeoutMs?: number;
  /** Plain HTTP GET/HEAD on the same port (e.g. /healthz, /metrics); undefined answers 404. */
  http?: (method: string, path: string) => HttpAnswer | undefined;
  /** PEM certificate chain and key: serve TLS (https + wss). */
  tls?: { cert: string | Uint8Array; key: string | Uint8Array };
}

export interface StreamConnectOptions {
  signal?: AbortSignal;
  /** Extra trusted CA certificates (PEM) for wss:// (a self-signed test server). */
  ca?: string | Uint8Array;
  /** Close with PING_TIMEOUT when nothing (message or ping) arrives for this long. 0 = off. */
  idleTimeoutMs?: number;
  /** Local address to connect from. */
  localAddress?: string;
  /** Largest message accepted from the server. */
  maxMessageBytes?: number;
}

export interface StreamListener {
  readonly local: Endpoint;
  /** Stop accepting and close every stream it accepted (1001 going away). */
  close(): Promise<void>;
}

export interface StreamNetwork {
  /** Connect to a server; `url` is ws://host:port/path or wss://... (the sim ignores the scheme). */
  connectStream(url: string, opts?: StreamConnectOptions): Promise<MessageStream>;
  /** Accept connections on host:port (the server side). */
  listenStream(
    host: string,
    port: number,
    onStream: (s: MessageStream) => void,
    opts?: StreamListenOptions,
  ): Promise<StreamListener>;
}
