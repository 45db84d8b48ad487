import type { Endpoint } from '../endpoint.js';
import { endpointKey } from '../endpoint.js';
import type { CandidateKind } from './candidate-kind.js';
import { PROBE_BUDGET, probeAllowance } from './probe-budget.js';

export type { CandidateKind };

export interface Candidate {
  endpoint: Endpoint;
  kind: CandidateKind;
  priority: number; // higher is better
  /** Probes it may get before it answers (common/path/probe-budget.ts). */
  allowance: number;
}

const KIND_PRIORITY: Record<CandidateKind, number> = { lan: 300, public: 200, 'peer-reflexive': 100 };
/** A LAN candidate of a peer behind another NAT: probed, but not worth waiting for. */
const FOREIGN_LAN_PRIORITY = 150;

export function candidate(
  endpoint: Endpoint,
  kind: CandidateKind,
  priority = KIND_PRIORITY[kind],
  allowance = probeAllowance(kind, true),
): Candidate {
  return { endpoint, kind, priority, allowance };
}

/**
 * The candidates for a peer, best first, without duplicates, each with its probe allowance. A
 * LAN endpoint equal to the public one (a peer with no NAT) counts once, as public. `selfPublic`
 * is our own server-reflexive endpoint, when known (unknown: not the same NAT).
 */
export function candidatesFor(
  remote: { observed: Endpoint; lan: readonly Endpoint[] },
  selfPublic?: Endpoint,
): Candidate[] {
  const sameNat = selfPublic !== undefined && selfPublic.address === remote.observed.address;
  const seen = new Set<string>([endpointKey(remote.observed)]);
  const out: Candidate[] = [];
  let lanProbed = 0;
  for (const e of remote.lan) {
    const k = endpointKey(e);
    if (seen.has(k)) continue;
    seen.add(k);
    // Past the LAN cap a candidate stays listed (it wins if the peer probes us from it) but
    // gets no probes of its own.
    const allowance = lanProbed < PROBE_BUDGET.lanCandidates ? probeAllowance('lan', sameNat) : 0;
    if (allowance > 0) lanProbed++;
    out.push(candidate(e, 'lan', sameNat ? KIND_PRIORITY.lan : FOREIGN_LAN_PRIORITY, allowance));
  }
  // Port 0: the peer has no UDP mapping at the server (it came over the stream only).
  if (remote.observed.port !== 0) out.push(candidate(remote.observed, 'public'));
  return out.sort((a, b) => b.priority - a.priority);
}

/**
 * When probes go out, relative to the introduction (ms). Dense at first: almost every success
 * comes on the first attempts, when both NATs have just opened their mappings. 50 ms is ICE's
 * pacing interval Ta (RFC 8445 §14.2); later rounds back off to 500 ms so a failing attempt
 * costs little traffic until its deadline.
 */
export function probeSchedule(deadlineMs: number, paceMs = 50): number[] {
  const out: number[] = [];
  let t = 0;
  let step = paceMs;
  for (let i = 0; t < deadlineMs && i < 10_000; i++) {
    out.push(t);
    if (i >= 4) step = Math.min(500, step * 2);
    t += step;
  }
  return out;
}
