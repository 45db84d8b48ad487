/**
 * UDP hole punching with raw sim sockets (no project peer code): the smoke test that the
 * simulated NATs behave the way punching relies on (docs/nat-traversal.md).
 */
import { describe, expect, it } from 'vitest';
import { NAT_PRESETS, type NatPolicy } from '../../common/net/sim/nat-rules.js';
import { Simulator } from '../../common/net/sim/simulator.js';
import { dec, ep, probe, reflected, reflector } from './helpers.js';

const RDV = ep('203.0.113.10', 3478);
/** ICE pacing, Ta = 50 ms (RFC 8445 §14). */
const PACE_MS = 50;
const ATTEMPTS = 10;

async function punch(
  natA: Partial<NatPolicy>,
  natB: Partial<NatPolicy>,
  opts: { seed?: number; loss?: number; onlyA?: boolean } = {},
) {
  const sim = new Simulator({ seed: opts.seed ?? 1 });
  await reflector(sim.addHost('rdv', { internetAddress: RDV.address }), RDV.port);
  const na = sim.addNat('natA', { publicAddress: '203.0.113.20', ...natA });
  const nb = sim.addNat('natB', { publicAddress: '203.0.113.30', ...natB });
  const ha = sim.addHost('a', { behind: na });
  const hb = sim.addHost('b', { behind: nb });
  for (const n of [ha, hb, na, nb]) sim.setLink(n, { delayMs: 10, jitterMs: 5, loss: opts.loss ?? 0 });
  const a = await probe(ha, 0);
  const b = await probe(hb, 0);

  // 1. Each learns its server-reflexive endpoint (retrying, in case of loss).
  for (let i = 0; i < 10 && (a.got.length === 0 || b.got.length === 0); i++) {
    if (a.got.length === 0) a.send('where am I', RDV);
    if (b.got.length === 0) b.send('where am I', RDV);
    await sim.runUntil(() => a.got.length > 0 && b.got.length > 0, 500);
  }
  const aPub = reflected(a);
  const bPub = reflected(b);

  // 2. Both probe each other's public endpoint at once, every PACE_MS, and answer every probe at
  //    the address it came from (ICE's peer-reflexive candidate, RFC 8445 §7.2.5.3.1).
  for (const p of [a, b])
    p.sock.onMessage((data, from) => {
      const text = dec(data);
      p.got.push({ text, from });
      if (text.startsWith('punch')) p.send('ack', from);
    });
  const fromPeer = (p: typeof a, peer: typeof aPub): number =>
    p.got.filter((g) => g.from.address === peer.address).length;
  let rounds = 0;
  while (rounds < ATTEMPTS && (fromPeer(a, bPub) === 0 || fromPeer(b, aPub) === 0)) {
    rounds++;
    a.send(`punch ${rounds}`, bPub);
    if (!opts.onlyA) b.send(`punch ${rounds}`, aPub);
    await sim.run(PACE_MS);
  }
  await sim.run(200);
  return { sim, a, b, aPub, bPub, rounds, ok: fromPeer(a, bPub) > 0 && fromPeer(b, aPub) > 0 };
}

const EIM_APDF: Partial<NatPolicy> = {
  mapping: 'endpoint-independent',
  filtering: 'address-and-port-dependent',
};
const APDM: Partial<NatPolicy> = { ...NAT_PRESETS.symmetric };

describe('UDP hole punching on the simulated network', () => {
  it('gets through two EIM/APDF (port-restricted cone) NATs at the first attempt', async () => {
    const r = await punch(EIM_APDF, EIM_APDF);
    expect(r.ok).toBe(true);
    expect(r.rounds).toBeLessThanOrEqual(2); // a probe takes up to 4 × 15 ms, longer than the 50 ms pace
    expect(r.aPub.address).toBe('203.0.113.20');
    expect(r.bPub.address).toBe('203.0.113.30');
    // What each side saw come from the peer is the peer's reflexive endpoint: EIM kept it.
    expect(r.a.got.filter((g) => g.text.startsWith('punch')).map((g) => g.from)).toContainEqual(r.bPub);
    expect(r.b.got.filter((g) => g.text.startsWith('punch')).map((g) => g.from)).toContainEqual(r.aPub);
  });

  it('needs both sides to send: if only one punches, its probes die at the other NAT', async () => {
    const r = await punch(EIM_APDF, EIM_APDF, { onlyA: true });
    expect(r.ok).toBe(false);
    expect(r.sim.stats.dropped.filtered).toBe(ATTEMPTS);
  });

  it('fails between two symmetric (APDM) NATs: the peer-facing ports are not the reflexive ones', async () => {
    const r = await punch(APDM, APDM);
    expect(r.ok).toBe(false);
    expect(r.rounds).toBe(ATTEMPTS);
    expect(r.a.got.filter((g) => g.text.startsWith('punch'))).toEqual([]);
    expect(r.b.got.filter((g) => g.text.startsWith('punch'))).toEqual([]);
    expect(r.sim.stats.dropped.filtered + r.sim.stats.dropped['no-mapping']).toBeGreaterThanOrEqual(
      2 * ATTEMPTS,
    );
  });

  it.each([
    ['symmetric ↔ full cone: works (the cone side admits anyone)', APDM, NAT_PRESETS.fullCone, true],
    [
      'symmetric ↔ restricted cone: works (address-dependent filtering ignores the port)',
      APDM,
      NAT_PRESETS.restrictedCone,
      true,
    ],
    ['symmetric ↔ port-restricted cone: fails', APDM, NAT_PRESETS.portRestrictedCone, false],
  ] as const)('%s', async (_name, natA, natB, ok) => {
    expect((await punch(natA, natB)).ok).toBe(ok);
  });

  it('still gets through EIM/APDF NATs with 20% loss on every link, by retrying', async () => {
    for (const seed of [1, 2, 3]) {
      const r = await punch(EIM_APDF, EIM_APDF, { seed, loss: 0.2 });
      expect(r.ok).toBe(true);
    }
  });
});
