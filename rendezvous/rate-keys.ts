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
 * Token buckets by key (a source, a member id) with a bound on how many are kept: when a new key
 * would exceed `maxKeys`, the least recently used bucket is forgotten (a Map keeps insertion order;
 * each use moves its key to the end). A forgotten key starts again with a full bucket, so eviction
 * can only give an attacker who cycles through more keys than `maxKeys` a fresh burst, never more
 * memory. Buckets refill lazily from the injected time: no timers.
 */
export class RateKeys {
  private readonly buckets = new Map<string, TokenBucket>();
  /** Buckets forgotten to make room for a new key. */
  evicted = 0;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly maxKeys: number,
  ) {}

  /** Take one token for `key` at `now` (ms); false when its bucket is empty. */
  take(key: string, now: number): boolean {
    let b = this.buckets.get(key);
    if (b) this.buckets.delete(key);
    else {
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value as string;
        this.buckets.delete(oldest);
        this.evicted++;
      }
      b = new TokenBucket(this.ratePerSec, this.burst, now);
    }
    this.buckets.set(key, b);
    return b.take(1, now);
  }

  /** Forget `key` (its member left): a bucket per member must not outlive the member. */
  forget(key: string): void {
    this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }
}
