import type { Endpoint } from '../net/types.js';
import { endpointKey } from '../net/types.js';

/**
 * ICE-style candidates (RFC 8445 §5.1.2 in spirit): where the other peer might be reached.
 *  - lan: a host address the peer reported (reachable when both sit behind the same NAT);
 *  - public: the server-reflexive endpoint the rendezvous observed (the peer's NAT mapping);
 *  - peer-reflexive: a source address a valid probe actually came from (learned while punching).
 * When both peers show the same public address they sit behind the same NAT, and a LAN path
 * beats the public one (no hairpin needed, no detour). Otherwise the other peer's LAN addresses
 * are someone else's private network: still probed (a VPN or a shared LAN may reach them), but
 * ranked below public, so the public answer is taken at once instead of waiting for them.
 */
export type CandidateKind = 'lan' | 'public' | 'peer-reflexive';

export interface Candidate {
  endpoint: Endpoint;
  kind: CandidateKind;
  priority: number; // higher is better
}

const KIND_PRIORITY: Record<CandidateKind, number> = { lan: 300, public: 200, 'peer-reflexive': 100 };
/** A LAN candidate of a peer behind another NAT: probed, but not worth waiting for. */
const FOREIGN_LAN_PRIORITY = 150;

export function candidate(
  endpoint: Endpoint,
  kind: CandidateKind,
  priority = KIND_PRIORITY[kind],
): Candidate {
  return { endpoint, kind, priority };
}

/**
 * The candidates to probe for a peer, best first, without duplicates. A LAN endpoint equal to
 * the public one (a peer with no NAT) counts once, as public. `selfPublic` is our own
 * server-reflexive endpoint, when known.
 */
export function candidatesFor(
  remote: { observed: Endpoint; lan: readonly Endpoint[] },
  selfPublic?: Endpoint,
): Candidate[] {
  const sameNat = selfPublic !== undefined && selfPublic.address === remote.observed.address;
  const seen = new Set<string>([endpointKey(remote.observed)]);
  const out: Candidate[] = [];
  for (const e of remote.lan) {
    const k = endpointKey(e);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(candidate(e, 'lan', sameNat ? KIND_PRIORITY.lan : FOREIGN_LAN_PRIORITY));
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
