import { MAX_SEQUENTIAL_STEP, type PortBehaviour } from '../nat-behaviour.js';

/**
 * How to punch towards a peer, from both sides' port behaviour (common/nat-behaviour.ts). Pure,
 * and table-tested in test/unit/port-strategy.test.ts; docs/nat-traversal.md ("Symmetric NATs")
 * explains each row.
 *
 * - plain: probe the peer's candidates from our one socket (common/path/candidates.ts). Enough
 *   whenever our mapping towards the peer is the one the server saw, or the peer's filter ignores
 *   ports; and all that is done when both sides randomise (no spraying: stay on the relay).
 * - open-sockets: our NAT gives every destination a new port. Open up to PORT_SEARCH.sockets
 *   sockets and send one small PORT_PROBE from each to the peer's public endpoint: each opens a
 *   mapping the peer can hit (the birthday paradox, with the peer doing probe-ports).
 * - probe-ports: the peer's NAT does that. Send PORT_PROBEs to ports of the peer's public address
 *   (the one the server saw, never a claimed one): the predicted ports first when its NAT counts
 *   up, then random ones, paced, until one lands on a mapping the peer opened towards us.
 *
 * Both sides run plain punching as well; the first authenticated path wins either way.
 */
export type PortStrategy = 'plain' | 'open-sockets' | 'probe-ports';

/** Does this NAT give a new public port per destination? */
const hard = (b: PortBehaviour): boolean => b.kind === 'random' || b.kind === 'sequential';
/** Does it keep one public port for every destination (or did nobody say, as before)? */
const easy = (b: PortBehaviour): boolean => b.kind === 'consistent';

/** What this side does, given its own behaviour and the peer's. */
export function portStrategy(self: PortBehaviour, peer: PortBehaviour): PortStrategy {
  // A search needs one side that keeps its port (the fixed target) and one that does not. An
  // unknown side might be either, and two hard sides would have to guess each other's ports at
  // once (64k x 64k): plain punching only.
  if (hard(self) && easy(peer)) return 'open-sockets';
  if (easy(self) && hard(peer)) return 'probe-ports';
  return 'plain';
}

/**
 * The port search's limits: politeness and bounds, documented in docs/nat-traversal.md. With S
 * sockets open on the hard side among R possible ports, each PORT_PROBE hits one with
 * probability S/R; after n probes the search has succeeded with 1 - (1 - S/R)^n: with 256 of
 * 64,512 ports, 50 % after 174 probes, 90 % after 580, 98 % after 984, 99.7 % after 1,500.
 */
export const PORT_SEARCH = {
  /** Sockets the hard side opens (each one NAT mapping towards the peer). */
  sockets: 256,
  /** Sockets opened per pacing tick: a burst of 16 PORT_PROBEs to the one verified peer. */
  socketsPerTick: 16,
  /** PORT_PROBEs the easy side sends per tick to ports of the hard side's public address. */
  probesPerTick: 4,
  /** Pacing tick, ms: 4 probes / 8 ms = 500 probes (20 KB on the wire) a second. */
  tickMs: 8,
  /** Total PORT_PROBEs per search: 99.7 % success with 256 sockets, 3 s at the pace above. */
  probes: 1_500,
  /** The predicted ports probed first towards a sequential NAT: the next `sockets` mappings. */
  predicted: 256,
  /** The ports a NAT hands out, as far as a search knows (Linux and most CGNATs: 1024-65535). */
  portRange: [1024, 65535] as const,
  /** After a search that found nothing, the next one with the same peer waits this long, doubling. */
  backoffMs: 30_000,
  /** ...up to this. */
  maxBackoffMs: 600_000,
  /** PORT_PROBEs from the peer's address a socket answers (the easy side, when its filter lets them in). */
  answersPerSearch: 8,
} as const;

/** A peer's search history: failures in a row, and when the last search ended. */
export interface SearchHistory {
  failures: number;
  lastEndedAt: number;
}

/** May a port search with this peer start at `now`? Each failure doubles the wait (from PORT_SEARCH.backoffMs). */
export function admitSearch(h: SearchHistory | undefined, now: number): boolean {
  if (!h || h.failures === 0) return true;
  const wait = Math.min(PORT_SEARCH.maxBackoffMs, PORT_SEARCH.backoffMs * 2 ** (h.failures - 1));
  return now - h.lastEndedAt >= wait;
}

/**
 * The ports a probe-ports search tries, in order, without repeats: towards a sequential NAT the
 * next PORT_SEARCH.predicted mappings after the last one it saw (`last + step`, `last + 2 step`,
 * ...), then ports drawn at random from the range. `random(n)` gives n random bytes (the injected
 * source: one seed, one trace).
 */
export function* searchPorts(peer: PortBehaviour, random: (n: number) => Uint8Array): Generator<number> {
  const [lo, hi] = PORT_SEARCH.portRange;
  const tried = new Set<number>();
  if (peer.kind === 'sequential' && peer.step !== 0 && Math.abs(peer.step) <= MAX_SEQUENTIAL_STEP) {
    for (let k = 1; k <= PORT_SEARCH.predicted; k++) {
      const p = peer.last + k * peer.step;
      if (p < lo || p > hi) break;
      tried.add(p);
      yield p;
    }
  }
  const size = hi - lo + 1;
  while (tried.size < size) {
    const b = random(2);
    const p = lo + (((b[0]! << 8) | b[1]!) % size);
    if (tried.has(p)) continue;
    tried.add(p);
    yield p;
  }
}
