import type { Endpoint } from './types.js';

/**
 * The stream seam for the TCP fallback (design §1): a reliable, ordered, message-framed
 * connection. Production: a WebSocket (`ws`) over TCP or TLS. Tests: a simulated connection
 * through the simulated network's topology (a NAT that blocks UDP still lets it through).
 * The relay core and the peer's relay client only ever see this interface.
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
  close(reason?: string): void;
}

export interface StreamListener {
  readonly local: Endpoint;
  close(): Promise<void>;
}

export interface StreamNetwork {
  /** Connect to a server; `url` is ws://host:port/path or wss://... (the sim ignores the scheme). */
  connectStream(url: string, opts?: { signal?: AbortSignal }): Promise<MessageStream>;
  /** Accept connections on host:port (the server side). */
  listenStream(host: string, port: number, onStream: (s: MessageStream) => void): Promise<StreamListener>;
}
