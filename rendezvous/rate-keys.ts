import { TokenBucket } from './token-bucket.js';

/**
 * What a per-source limit counts by: an IPv4 address, or an IPv6 address's /64 prefix (one
 * subscriber's network: RFC 6177 and common practice give a site at least a /64, so an attacker
 * with one IPv6 connection holds 2^64 addresses and would otherwise get 2^64 buckets and id quotas).
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as the IPv4 address.
 */
export function sourceKey(address: string): string {
  if (!address.includes(':')) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const [head = '', tail = ''] = address.split('%')[0]!.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::')
    ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => (g === '' ? '0' : g.replace(/^0+(?=.)/, '')))
    .join(':')}::/64`;
}

/**
 * Token buckets by key (a source, a member id) with a bound on how many are kept. Two generations
 * of at most maxKeys / 2 each: a key is looked up in the current one, then in the previous one
 * (and moved to the current); when the current one is full it becomes the previous one and the
 * old previous one, every bucket not used since, is forgotten. So at most `maxKeys` buckets exist,
 * a key in use is never forgotten, and each operation is O(1) (no scan for the oldest). A
 * forgotten key starts again with a full bucket: an attacker who cycles through more keys than
 * `maxKeys` gains a fresh burst per key, never more memory. Buckets refill lazily from the injected
 * time: no timers.
 */
export class RateKeys {
  private current = new Map<string, TokenBucket>();
  private previous = new Map<string, TokenBucket>();
  private readonly generation: number;
  /** Buckets forgotten to stay within maxKeys. */
  evicted = 0;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    maxKeys: number,
  ) {
    this.generation = Math.max(1, Math.floor(maxKeys / 2));
  }

  /** Take one token for `key` at `now` (ms); false when its bucket is empty. */
  take(key: string, now: number): boolean {
    let b = this.current.get(key);
    if (!b) {
      b = this.previous.get(key);
      if (b) this.previous.delete(key);
      else b = new TokenBucket(this.ratePerSec, this.burst, now);
      if (this.current.size >= this.generation) {
        this.evicted += this.previous.size;
        this.previous = this.current;
        this.current = new Map();
      }
      this.current.set(key, b);
    }
    return b.take(1, now);
  }

  /** Forget `key` (its member left): a bucket per member must not outlive the member. */
  forget(key: string): void {
    this.current.delete(key);
    this.previous.delete(key);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}
