import type { Endpoint } from '../net/types.js';
import { endpointKey } from '../net/types.js';

/**
 * ICE-style candidates (RFC 8445 §5.1.2 in spirit): where the other peer might be reached.
 *  - lan: a host address the peer reported (reachable when both sit behind the same NAT);
 *  - public: the server-reflexive endpoint the rendezvous observed (the peer's NAT mapping);
 *  - peer-reflexive: a source address a valid probe actually came from (learned while punching).
 * LAN beats public (no NAT hairpin, no detour); public beats peer-reflexive only by discovery order.
 */
export type CandidateKind = 'lan' | 'public' | 'peer-reflexive';

export interface Candidate {
  endpoint: Endpoint;
  kind: CandidateKind;
  priority: number; // higher is better
}

const KIND_PRIORITY: Record<CandidateKind, number> = { lan: 300, public: 200, 'peer-reflexive': 100 };

export function candidate(endpoint: Endpoint, kind: CandidateKind): Candidate {
  return { endpoint, kind, priority: KIND_PRIORITY[kind] };
}

/**
 * The candidates to probe for a peer, best first, without duplicates. A LAN endpoint equal to
 * the public one (a peer with no NAT) counts once, as public.
 */
export function candidatesFor(remote: { observed: Endpoint; lan: readonly Endpoint[] }): Candidate[] {
  const seen = new Set<string>([endpointKey(remote.observed)]);
  const out: Candidate[] = [];
  for (const e of remote.lan) {
    const k = endpointKey(e);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(candidate(e, 'lan'));
  }
  out.push(candidate(remote.observed, 'public'));
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
