import type { VirtualClock } from '../../clock.js';
import type { Link, LinkDirection } from './link.js';
import type { Packet } from './packet.js';
import type { Rng } from './random.js';
import type { DropReason, SimStreamStats } from './stats.js';

/** What hosts, NATs and segments need from the Simulator that owns them. */
export interface SimContext {
  readonly clock: VirtualClock;
  /** Counters of the simulated TCP streams (stream.ts). */
  readonly streams: SimStreamStats;
  /** A random stream named by `label`, derived from the simulator's seed. */
  rng(label: string): Rng;
  newPacketId(): number;
  /** Carry `p` over one direction of `link`: drop it, or call `arrive` (once per copy) after the link's delay. */
  transmit(link: Link, direction: LinkDirection, p: Packet, arrive: (p: Packet) => void): void;
  sent(p: Packet, node: string): void;
  delivered(p: Packet, node: string): void;
  drop(p: Packet, reason: DropReason, node: string): void;
  mapped(p: Packet, node: string, external: string): void;
}
