import { describe, expect, it } from 'vitest';
import { RateKeys, sourceKey } from '../../rendezvous/rate-keys.js';
import { RENDEZVOUS_DEFAULTS as D } from '../../rendezvous/server.js';

describe('RateKeys (rendezvous/rate-keys.ts)', () => {
  it('a key gets its burst, then the rate; keys do not share tokens', () => {
    const k = new RateKeys(10, 40, 100);
    let ok = 0;
    for (let i = 0; i < 100; i++) if (k.take('a', 0)) ok++;
    expect(ok).toBe(40);
    expect(k.take('b', 0)).toBe(true);
    ok = 0;
    for (let i = 0; i < 20; i++) if (k.take('a', 1000)) ok++;
    expect(ok).toBe(10); // one second at 10/s
  });

  it('100,000 keys never hold more than the default --max-rate-keys buckets; a key in use is kept', () => {
    const k = new RateKeys(D.registerRate, D.registerBurst, D.maxRateKeys);
    let most = 0;
    for (let i = 0; i < 100_000; i++) {
      k.take(`k${i}`, 0);
      k.take('busy', 0); // used all along: never the least recently used
      most = Math.max(most, k.size);
    }
    expect(most).toBeLessThanOrEqual(D.maxRateKeys);
    expect(most).toBeGreaterThanOrEqual(D.maxRateKeys / 2);
    expect(k.evicted).toBe(100_000 + 1 - k.size);
    // 'busy' kept its bucket, emptied by its 100,000 takes: it was never evicted and refilled.
    expect(k.take('busy', 0)).toBe(false);
  });
});

describe('sourceKey: what a per-source limit counts by', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::99', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ])('%s -> %s', (address, key) => {
    expect(sourceKey(address)).toBe(key);
  });
});
