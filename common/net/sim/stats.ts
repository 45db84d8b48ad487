/** Why the simulated network dropped a datagram (docs/contributing.md §8: counters, not sleeps). */
export type DropReason =
  | 'loss' // link loss (LinkConditions.loss)
  | 'queue' // a bottleneck's drop-tail queue was full (LinkConditions.rateBytesPerMs, queuePackets)
  | 'too-big' // payload over MAX_UDP_PAYLOAD (EMSGSIZE)
  | 'no-route' // no host with that address where the packet looked for it
  | 'no-listener' // reached the host, but no socket is bound to the port (ICMP port unreachable)
  | 'no-mapping' // inbound at a NAT with no live mapping for the port (unsolicited, or expired)
  | 'filtered' // inbound at a NAT, mapping exists, but the filtering behaviour refuses the source
  | 'hairpin-disabled' // LAN host sent to its own NAT's public address and the NAT does not hairpin
  | 'blocked' // UDP blocked by a host or NAT firewall (blockUdp)
  | 'port-exhausted' // the NAT had no free external port for a new mapping
  | 'ttl' // hop limit reached (never happens in a tree topology; a safety net)
  | 'closed'; // sent on a closed socket

export const DROP_REASONS: readonly DropReason[] = [
  'loss',
  'queue',
  'too-big',
  'no-route',
  'no-listener',
  'no-mapping',
  'filtered',
  'hairpin-disabled',
  'blocked',
  'port-exhausted',
  'ttl',
  'closed',
];

/**
 * Whole-network counters. Once nothing is in flight:
 *   sent + duplicated === delivered + Σ dropped
 */
export interface SimStats {
  /** Calls to DatagramSocket.send on sim sockets. */
  sent: number;
  /** Datagrams handed to a socket (each duplicate counts). */
  delivered: number;
  /** Extra copies made by link duplication. */
  duplicated: number;
  dropped: Record<DropReason, number>;
}

export function newStats(): SimStats {
  const dropped = {} as Record<DropReason, number>;
  for (const r of DROP_REASONS) dropped[r] = 0;
  return { sent: 0, delivered: 0, duplicated: 0, dropped };
}

export const totalDropped = (s: SimStats): number => DROP_REASONS.reduce((n, r) => n + s.dropped[r], 0);

/** One line of the network trace (Simulator.observe). Endpoints are "a.b.c.d:port" text. */
export interface SimEvent {
  /** Virtual time, ms. */
  readonly t: number;
  /** send: a socket sent; deliver: a socket got it; drop: see reason; map: a NAT created a mapping. */
  readonly kind: 'send' | 'deliver' | 'drop' | 'map';
  /** The host, NAT or link (named after its owner) where it happened. */
  readonly node: string;
  readonly id: number;
  readonly src: string;
  readonly dst: string;
  readonly size: number;
  readonly reason?: DropReason;
}

/** Counters of the simulated TCP streams (stream.ts, stream-connect.ts). */
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
