import { describe, expect, it } from 'vitest';
import { NAT_BEHAVIOURS, natLabel } from '../../common/nat-behaviour.js';
import { portSearchFinds, predictDirect } from '../../common/path/predict-direct.js';
import type { NatType } from '../../common/nat-behaviour.js';
import { SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

const ALL: NatType[] = NAT_BEHAVIOURS.flatMap((mapping) =>
  NAT_BEHAVIOURS.map((filtering) => ({ mapping, filtering })),
);
const PUNCH = { deadlineMs: 3000 };

/** Two peers, each behind its own NAT; A connects to B. Resolves with the outcome seen on both sides. */
async function attempt(
  a: NatType,
  b: NatType,
  seed = 1,
): Promise<{ direct: boolean; errors: string[]; ms?: number }> {
  const w = new SimWorld(seed);
  await w.start();
  // Random port allocation for per-destination mappings, as real symmetric NATs do.
  const natA = w.nat('natA', {
    ...a,
    portAllocation: a.mapping === 'endpoint-independent' ? 'preserve' : 'random',
  });
  const natB = w.nat('natB', {
    ...b,
    portAllocation: b.mapping === 'endpoint-independent' ? 'preserve' : 'random',
  });
  const pa = await w.peer('alice', { behind: natA }, { punch: PUNCH });
  const pb = await w.peer('bob', { behind: natB }, { punch: PUNCH });
  // Both measured their NAT's port behaviour (peer/nat-probe.ts): the introduction carries it.
  const measured = (p: SimPeer): boolean => p.node.natBehaviour.kind !== 'unknown';
  await w.run(
    () => pa.events.presence.some((e) => e.peers.length === 1) && measured(pa) && measured(pb),
    5000,
  );
  void pa.node.connect('bob').catch(() => {});
  const settled = (p: SimPeer): boolean => p.events.connected.length > 0 || p.events.error.length > 0;
  await w.run(() => settled(pa) && settled(pb), 10_000);
  const direct = pa.events.connected.length === 1 && pb.events.connected.length === 1;
  const result = {
    direct,
    errors: [...pa.events.error, ...pb.events.error].map((e) => e.code),
    ...(direct ? { ms: pa.events.connected[0]!.ms } : {}),
  };
  await w.close();
  return result;
}

describe('NAT matrix on the simulated network (docs/nat-traversal.md)', () => {
  for (const a of ALL)
    it(`${natLabel(a)} vs every NAT type: direct exactly where predictDirect says`, async () => {
      for (const b of ALL) {
        const r = await attempt(a, b);
        const expected = predictDirect(a, b);
        expect(r.direct, `${natLabel(a)} x ${natLabel(b)}`).toBe(expected);
        // A port search takes up to its budget (common/path/port-strategy.ts); plain punching one round.
        if (expected) expect(r.ms!).toBeLessThan(portSearchFinds(a, b) ? PUNCH.deadlineMs : 1000);
        else expect(r.errors).toContain('PUNCH_FAILED'); // a clean failure with a reason
      }
    });
});
