/**
 * ICE-style candidates (RFC 8445 §5.1.2 in spirit): where the other peer might be reached.
 *  - lan: a host address the peer reported (reachable when both sit behind the same NAT);
 *  - public: the server-reflexive endpoint the rendezvous observed (the peer's NAT mapping);
 *  - peer-reflexive: a source address a valid probe actually came from (learned while punching).
 * When both peers show the same public address they sit behind the same NAT, and a LAN path
 * beats the public one (no hairpin needed, no detour). Otherwise the other peer's LAN addresses
 * are someone else's private network, or whatever a hostile registrant claimed: listed, ranked
 * below public, and not probed (allowance 0, common/path/probe-budget.ts) unless the peer
 * probes us from one of them.
 */
export type CandidateKind = 'lan' | 'public' | 'peer-reflexive';
