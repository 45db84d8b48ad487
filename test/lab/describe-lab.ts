/**
 * describeLab: a describe() that runs only where the real-NAT lab can (root, `ip netns`, iptables,
 * conntrack) and otherwise skips with one printed line saying why, e.g.
 * "real-NAT lab skipped: needs root (network namespaces)". PUNCHLINE_SKIP_LAB=1 skips on purpose.
 */
import { describe } from 'vitest';
import { labUnavailableReason } from '../../common/lab/index.js';

export function describeLab(name: string, fn: () => void): void {
  const reason = labUnavailableReason();
  if (reason === undefined) {
    describe(name, fn);
  } else {
    console.warn(`real-NAT lab skipped: ${reason}`);
    describe.skip(name, fn);
  }
}
