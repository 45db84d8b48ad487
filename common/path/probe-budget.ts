import type { CandidateKind } from './candidate-kind.js';

/**
 * How much a punch attempt may send to addresses that have not answered yet, as numbers and pure
 * functions (docs/contributing.md house style: path logic is pure and table-tested, test/unit/probe-budget.test.ts).
 *
 * Why a budget at all: the candidates are whatever the introduced peer registered. Its public
 * endpoint is the one the rendezvous observed (the cookie proved the peer receives there), but its
 * LAN list is self-claimed, and a peer-reflexive address is the source of a datagram, which can be
 * replayed from a spoofed source. Probing them on the full schedule let one 42-byte CONNECT make
 * an honest peer send 208 PROBEs to eight addresses of the attacker's choice. RFC 9000 §8 bounds
 * what a QUIC endpoint sends to an unvalidated address (three times what it received); an address
 * becomes validated here the same way, by a round trip: an authenticated PROBE_ACK for a probe we
 * sent there. A validated candidate has no cap. Until then:
 *
 * - **public**: the whole default schedule and some room (`probeSchedule(10_000)` has 26 rounds).
 *   It is the address the server saw the peer's registration come from, so these probes go to the
 *   peer (or its NAT), never to a third party, and punching through two NATs needs every round.
 * - **LAN**: only when both peers show the same public address (one NAT, the only case in which
 *   someone else's private address can be ours to reach; hyperdht makes the same rule), at most
 *   `lanCandidates` of them, each `lanProbes` times (the rounds at 0, 50 and 100 ms, where a LAN
 *   answers if it answers at all). On a different NAT a LAN address is someone else's private
 *   network, or a victim's address: not probed.
 * - **peer-reflexive**: `reflexiveProbes` times, at most `reflexiveCandidates` of them.
 * - **triggered checks** (RFC 8445 §7.3.1.4): every fresh authenticated PROBE that arrives from a
 *   candidate whose allowance is used up earns exactly one probe back, at once. This keeps punching
 *   whole (a late LAN side, a hard NAT's new port keep being answered) and bounds the traffic to one
 *   PROBE out per signed PROBE in: no amplification.
 *
 * Every PROBE is `Limits.PROBE_BYTES` (133) long, so the byte budget per candidate and attempt
 * is the probe budget times 133: public 4256 bytes, LAN and peer-reflexive 399 bytes.
 *
 * Attempts: a peer introduced to us over and over (each CONNECT makes the server introduce it to
 * us again) gets at most `attemptsPerWindow` punch attempts per `windowMs`; later introductions are
 * served over the relay only. Honest repetition stays under it: reconnects back off from 1 s
 * (1, 2, 4, 8, 16, 30 s: six in the first minute) and direct-path retries from 5 s.
 */
export const PROBE_BUDGET = {
  publicProbes: 32,
  lanProbes: 3,
  lanCandidates: 4,
  reflexiveProbes: 3,
  reflexiveCandidates: 4,
  attemptsPerWindow: 8,
  windowMs: 60_000,
} as const;

export type ProbeBudget = typeof PROBE_BUDGET;

/** Probes a candidate may get before it answers (0: not probed unless the peer probes us from it). */
export function probeAllowance(kind: CandidateKind, sameNat: boolean, b: ProbeBudget = PROBE_BUDGET): number {
  switch (kind) {
    case 'public':
      return b.publicProbes;
    case 'lan':
      return sameNat ? b.lanProbes : 0;
    case 'peer-reflexive':
      return b.reflexiveProbes;
  }
}

/** The per-candidate state the budget looks at. */
export interface ProbeCount {
  /** Probes sent to it in this attempt. */
  sent: number;
  /** Probes it may get before it answers (probeAllowance, or 0 past the LAN cap). */
  allowance: number;
  /** An authenticated PROBE_ACK came back from it: a validated address, no cap. */
  validated: boolean;
}

/** May the scheduled round probe this candidate? */
export const mayProbe = (c: ProbeCount): boolean => c.validated || c.sent < c.allowance;

/**
 * A fresh authenticated PROBE came from this candidate: send a triggered check now? Only when the
 * rounds no longer reach it (they will otherwise); each such PROBE earns exactly one.
 */
export const triggeredCheck = (c: ProbeCount): boolean => !c.validated && c.sent >= c.allowance;

/**
 * Punch-attempt admission for one remote peer: a sliding window of the start times of its
 * recent attempts. Returns whether a new attempt may start at `now` and the window to keep.
 */
export function admitAttempt(
  starts: readonly number[],
  now: number,
  b: Pick<ProbeBudget, 'attemptsPerWindow' | 'windowMs'> = PROBE_BUDGET,
): { admit: boolean; starts: number[] } {
  const recent = starts.filter((t) => now - t < b.windowMs);
  if (recent.length >= b.attemptsPerWindow) return { admit: false, starts: recent };
  return { admit: true, starts: [...recent, now] };
}
