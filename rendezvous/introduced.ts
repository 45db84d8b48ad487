/**
 * Which peers the server has introduced to each other: the relay forwards a frame only between
 * such a pair (docs/security.md: a room member relays only to peers it was introduced to, so the
 * relay is no open proxy).
 *
 * Bounded and expiring: each peer remembers at most `maxPerPeer` partners (the least recently
 * used one is forgotten first), and a pair is forgotten `ttlMs` after its last introduction or
 * relayed frame. Both directions are stored, so a lookup is one map access per side.
 */
export interface IntroducedOptions {
  ttlMs: number;
  maxPerPeer: number;
}

export interface Pair {
  expiresAt: number;
  /** Set once a frame has been relayed between them: the pair is then a relayed session. */
  relayed: boolean;
}

export class IntroducedPairs {
  /** idHex -> (partner idHex -> shared pair state); Map order is recency (re-inserted on use). */
  private readonly byPeer = new Map<string, Map<string, Pair>>();
  /** Pairs that have relayed at least one frame, ever (a counter for /metrics). */
  sessionsTotal = 0;

  constructor(private readonly opts: IntroducedOptions) {}

  /** Remember (or refresh) that `a` and `b` were introduced. */
  add(a: string, b: string, now: number): void {
    if (a === b) return;
    const existing = this.byPeer.get(a)?.get(b);
    const pair = existing ?? { expiresAt: 0, relayed: false };
    pair.expiresAt = now + this.opts.ttlMs;
    this.link(a, b, pair);
    this.link(b, a, pair);
  }

  private link(a: string, b: string, pair: Pair): void {
    let m = this.byPeer.get(a);
    if (!m) {
      m = new Map();
      this.byPeer.set(a, m);
    }
    m.delete(b);
    m.set(b, pair);
    while (m.size > this.opts.maxPerPeer) {
      const oldest = m.keys().next().value as string;
      this.unlink(a, oldest);
    }
  }

  private unlink(a: string, b: string): void {
    const ma = this.byPeer.get(a);
    ma?.delete(b);
    if (ma?.size === 0) this.byPeer.delete(a);
    const mb = this.byPeer.get(b);
    mb?.delete(a);
    if (mb?.size === 0) this.byPeer.delete(b);
  }

  /** The live pair of `from` and `to`, if they were introduced (one map lookup per side). */
  lookup(from: string, to: string, now: number): Pair | undefined {
    const pair = this.byPeer.get(from)?.get(to);
    if (!pair) return undefined;
    if (pair.expiresAt <= now) {
      this.unlink(from, to);
      return undefined;
    }
    return pair;
  }

  /** A frame was relayed between the pair: refresh its lifetime and mark it a relayed session. */
  relayed(pair: Pair, now: number): void {
    pair.expiresAt = now + this.opts.ttlMs;
    if (!pair.relayed) {
      pair.relayed = true;
      this.sessionsTotal++;
    }
  }

  /** Forget every pair of a peer that left. */
  forget(a: string): void {
    for (const b of [...(this.byPeer.get(a)?.keys() ?? [])]) this.unlink(a, b);
  }

  /** Drop expired pairs; returns how many. */
  sweep(now: number): number {
    let n = 0;
    for (const [a, m] of [...this.byPeer])
      for (const [b, pair] of [...m])
        if (pair.expiresAt <= now && a < b) {
          this.unlink(a, b);
          n++;
        }
    return n;
  }

  /** Live pairs (each counted once), and those of them that have relayed. */
  counts(now: number): { pairs: number; relaying: number } {
    let pairs = 0;
    let relaying = 0;
    for (const [a, m] of this.byPeer)
      for (const [b, pair] of m)
        if (a < b && pair.expiresAt > now) {
          pairs++;
          if (pair.relayed) relaying++;
        }
    return { pairs, relaying };
  }
}
