/**
 * The datagram-socket seam (docs/architecture.md, Seams). Production uses node:dgram
 * (common/net/udp-node.ts); tests use the simulated network (common/net/sim/). The peer and
 * server code only ever see these interfaces, so the same code runs on both.
 */
import type { Endpoint } from '../endpoint.js';

// Endpoint and its helpers live at the root of common/ (common/endpoint.ts) so the codecs and the
// path logic need nothing from this layer; they are re-exported here for the code that uses them
// with the sockets.
export type { Endpoint };
export { endpointKey, parseEndpoint, sameEndpoint } from '../endpoint.js';

export type DatagramHandler = (data: Uint8Array, from: Endpoint) => void;

export interface DatagramSocket {
  /** Bind to a local port (0 = any) and address (default: all interfaces). Resolves with the bound endpoint. */
  bind(port?: number, address?: string): Promise<Endpoint>;
  /** Fire-and-forget send; errors (unreachable, too big) are counted, never thrown asynchronously. */
  send(data: Uint8Array, to: Endpoint): void;
  /** Set the single receive handler. */
  onMessage(handler: DatagramHandler): void;
  /** The bound local endpoint. Throws if not bound. */
  localEndpoint(): Endpoint;
  /** Resolves once datagrams already handed to send() have left (bounded wait). Optional. */
  flush?(): Promise<void>;
  /** Close the socket; idempotent. */
  close(): void;
}

/** What a host's network stack offers the code running on it. */
export interface Network {
  createUdpSocket(): DatagramSocket;
  /** The host's own interface addresses (LAN candidates), excluding loopback unless it is all there is. */
  localAddresses(): string[];
}
