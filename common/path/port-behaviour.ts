import type { Endpoint } from '../endpoint.js';
import { MAX_SEQUENTIAL_STEP } from '../nat-behaviour.js';
import type { PortBehaviour } from '../nat-behaviour.js';

/*
 * How a NAT hands out public ports, read off the public endpoints the rendezvous reported for
 * four mappings made one after the other (docs/nat-traversal.md, "Port behaviour"). Pure
 * (docs/contributing.md §4); peer/nat-probe.ts makes the mappings.
 */

/**
 * What the peer measured, in the order the mappings were made (a missing one: no answer came):
 * - m1: the main socket to the server's main port (the `observed` of REGISTERED);
 * - m2: the main socket to the server's alternate port (a STUN Binding);
 * - m3: a fresh temporary socket to the main port;
 * - m4: the same temporary socket to the alternate port.
 */
export interface PortSamples {
  /** The main socket's own (local) endpoint: is the public port the socket's? */
  readonly local: Endpoint;
  readonly samples: readonly (Endpoint | undefined)[];
}

/**
 * - m1 or m2 missing: unknown (one mapping says nothing about the next);
 * - m1 = m2: consistent (one public port for both destinations), `preserved` when it is the
 *   socket's own port;
 * - otherwise the mapping depends on the destination. The samples up to the first missing one
 *   (a lost m3 leaves m4's place in the sequence unknown: it may be one step or two after m2)
 *   give deltas m2-m1, m3-m2, m4-m3: all non-zero, of one sign and at most MAX_SEQUENTIAL_STEP
 *   apart: sequential, stepping by the last delta from the last port seen; anything else
 *   (a zero or reversed delta, a jump): random.
 *
 * A sample on another public address than m1 makes it random, not unknown: the NAT maps per
 * destination (that much was measured) from a pool of addresses (RFC 4787 §4.1, "arbitrary"
 * pooling), so the address of the next mapping, and with it any predicted port, is a guess.
 */
export function classifyPorts({ local, samples }: PortSamples): PortBehaviour {
  const [m1, m2] = samples;
  if (!m1 || !m2) return { kind: 'unknown' };
  const seen: Endpoint[] = [];
  for (const s of samples) {
    if (!s) break;
    seen.push(s);
  }
  if (seen.some((s) => s.address !== m1.address)) return { kind: 'random' };
  if (m1.port === m2.port) return { kind: 'consistent', preserved: m1.port === local.port };
  const deltas = seen.slice(1).map((s, i) => s.port - seen[i]!.port);
  const sign = Math.sign(deltas[0]!);
  const steady = deltas.every((d) => d !== 0 && Math.sign(d) === sign && Math.abs(d) <= MAX_SEQUENTIAL_STEP);
  if (!steady) return { kind: 'random' };
  return { kind: 'sequential', step: deltas[deltas.length - 1]!, last: seen[seen.length - 1]!.port };
}
