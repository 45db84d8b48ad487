import type { Endpoint } from '../types.js';

/** 65535 − 20 (IPv4 header) − 8 (UDP header): the largest payload a UDP/IPv4 datagram can carry. */
export const MAX_UDP_PAYLOAD = 65_507;

/** Hop limit of a fresh packet (Linux's default IPv4 TTL); every NAT traversal takes one. */
export const INITIAL_TTL = 64;

/**
 * A datagram in flight through the simulated network. Immutable: a NAT that rewrites an address
 * makes a new Packet. `data` is the sender's snapshot, shared by duplicates; each delivery to a
 * socket hands out its own copy.
 *
 * Only UDP travels as packets. Simulated TCP streams (the WebSocket relay when UDP is blocked) are
 * modelled per connection instead (stream.ts): routed through the same links and NATs, but
 * reliable, so they need no per-segment packets.
 */
export interface Packet {
  /** Trace id, shared by the duplicates of one send. */
  readonly id: number;
  readonly proto: 'udp';
  readonly src: Endpoint;
  readonly dst: Endpoint;
  readonly data: Uint8Array;
  readonly ttl: number;
}
