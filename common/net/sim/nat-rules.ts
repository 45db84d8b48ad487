/**
 * The NAT's decisions as pure functions (docs/contributing.md §4), after RFC 4787 ("NAT Behavioral
 * Requirements for Unicast UDP"). nat.ts holds the state; these say what the state means.
 */
import { badArgument } from '../../errors.js';
import { endpointKey, type Endpoint } from '../types.js';
import type { Rng } from './random.js';

import { NAT_BEHAVIOURS, type NatBehaviour } from '../../nat-behaviour.js';
export { NAT_BEHAVIOURS, type NatBehaviour };

/**
 * How a new mapping picks its external port (RFC 4787 §4.2.1):
 * - preserve: the internal port if free, else the next free one (Linux MASQUERADE);
 * - sequential: the next free port after the last one handed out (predictable NATs);
 * - random: a random free port (MASQUERADE --random-fully, many CGNATs).
 */
export type PortAllocation = 'preserve' | 'sequential' | 'random';

export interface NatPolicy {
  readonly mapping: NatBehaviour;
  readonly filtering: NatBehaviour;
  /** RFC 4787 §6 REQ-9: a LAN host reaching another through the NAT's public address. */
  readonly hairpin: boolean;
  /** Idle time after which a mapping dies. RFC 4787 REQ-5 asks ≥ 2 min; Linux conntrack uses 30 s for UDP. */
  readonly mappingTimeoutMs: number;
  /** RFC 4787 REQ-6: outbound packets refresh the timer (always); inbound ones only if this is set. */
  readonly inboundRefresh: boolean;
  readonly portAllocation: PortAllocation;
  /** External ports this NAT hands out, inclusive. */
  readonly portRange: readonly [number, number];
}

/**
 * A Linux home router: MASQUERADE is endpoint-independent mapping with conntrack's
 * address-and-port-dependent filtering (a "port-restricted cone", docs/nat-traversal.md), source port kept,
 * no hairpinning, 30 s UDP timeout (nf_conntrack_udp_timeout).
 */
export const DEFAULT_NAT_POLICY: NatPolicy = {
  mapping: 'endpoint-independent',
  filtering: 'address-and-port-dependent',
  hairpin: false,
  mappingTimeoutMs: 30_000,
  inboundRefresh: false,
  portAllocation: 'preserve',
  portRange: [1024, 65535],
};

/** The classic (RFC 3489) names, as policy fragments for Simulator.addNat. */
export const NAT_PRESETS = {
  fullCone: { mapping: 'endpoint-independent', filtering: 'endpoint-independent' },
  restrictedCone: { mapping: 'endpoint-independent', filtering: 'address-dependent' },
  portRestrictedCone: { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' },
  symmetric: {
    mapping: 'address-and-port-dependent',
    filtering: 'address-and-port-dependent',
    portAllocation: 'random',
  },
} as const satisfies Record<string, Partial<NatPolicy>>;

export function checkNatPolicy(p: NatPolicy): NatPolicy {
  if (!NAT_BEHAVIOURS.includes(p.mapping)) throw badArgument(`unknown NAT mapping ${String(p.mapping)}`);
  if (!NAT_BEHAVIOURS.includes(p.filtering))
    throw badArgument(`unknown NAT filtering ${String(p.filtering)}`);
  if (!(p.mappingTimeoutMs > 0)) throw badArgument('mappingTimeoutMs must be > 0');
  const [lo, hi] = p.portRange;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65535 || lo > hi)
    throw badArgument(`bad portRange ${lo}-${hi}`);
  return p;
}

/**
 * The key a mapping is stored under: two outbound packets from the same internal endpoint share
 * a mapping (and so an external port) iff their keys are equal. RFC 4787 §4.1.
 */
export function mappingKey(
  mapping: NatBehaviour,
  proto: string,
  internal: Endpoint,
  remote: Endpoint,
): string {
  const from = `${proto} ${endpointKey(internal)}`;
  switch (mapping) {
    case 'endpoint-independent':
      return from;
    case 'address-dependent':
      return `${from} -> ${remote.address}`;
    case 'address-and-port-dependent':
      return `${from} -> ${endpointKey(remote)}`;
  }
}

/** Do outbound packets to `a` and to `b` from the same internal endpoint use the same mapping? */
export const sharesMapping = (mapping: NatBehaviour, internal: Endpoint, a: Endpoint, b: Endpoint): boolean =>
  mappingKey(mapping, 'udp', internal, a) === mappingKey(mapping, 'udp', internal, b);

/**
 * What a mapping remembers about a remote it sent to, for filtering: inbound from R is admitted
 * iff filterKey(filtering, R) was recorded by an earlier outbound packet. RFC 4787 §5.
 */
export function filterKey(filtering: NatBehaviour, remote: Endpoint): string {
  switch (filtering) {
    case 'endpoint-independent':
      return '*';
    case 'address-dependent':
      return remote.address;
    case 'address-and-port-dependent':
      return endpointKey(remote);
  }
}

/** Is an inbound packet from `from` admitted through a mapping that has sent to `contacted`? */
export const admitsInbound = (
  filtering: NatBehaviour,
  contacted: readonly Endpoint[],
  from: Endpoint,
): boolean => contacted.some((c) => filterKey(filtering, c) === filterKey(filtering, from));

export interface PortRequest {
  readonly allocation: PortAllocation;
  /** The internal source port (what 'preserve' tries first). */
  readonly preferred: number;
  readonly range: readonly [number, number];
  /** Where a sequential scan starts. */
  readonly cursor: number;
  readonly inUse: (port: number) => boolean;
  readonly rng: Rng;
}

/** Random probes before a random allocation falls back to scanning. */
const RANDOM_TRIES = 32;

/** Pick an external port for a new mapping, or undefined when the range is full. */
export function allocatePort(req: PortRequest): number | undefined {
  const [lo, hi] = req.range;
  const size = hi - lo + 1;
  const free = (p: number): boolean => p >= lo && p <= hi && !req.inUse(p);
  let start = req.cursor;
  if (req.allocation === 'preserve' && free(req.preferred)) return req.preferred;
  if (req.allocation === 'random') {
    for (let i = 0; i < RANDOM_TRIES; i++) {
      const p = req.rng.int(lo, hi);
      if (free(p)) return p;
    }
    start = req.rng.int(lo, hi);
  }
  const first = start >= lo && start <= hi ? start : lo;
  for (let i = 0; i < size; i++) {
    const p = lo + ((first - lo + i) % size);
    if (free(p)) return p;
  }
  return undefined;
}
