/**
 * nat-check on the simulated network: the real RendezvousServer (with its STUN alternate port) on
 * the simulated internet, the real probe behind every NAT preset, behind a NAT that drops UDP,
 * and with no NAT at all. Virtual time: each run takes simulated seconds, not real ones.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NAT_PRESETS, Simulator } from '../../common/net/sim/index.js';
import type { NatOptions } from '../../common/net/sim/index.js';
import type { SimHost } from '../../common/net/sim/host.js';
import type { NatCheckReport } from '../../peer/nat-check/types.js';
import { runNatCheck } from '../../peer/nat-check/probe.js';
import type { NatCheckOptions } from '../../peer/nat-check/probe.js';
import { RendezvousServer } from '../../rendezvous/server.js';
import type { RendezvousOptions } from '../../rendezvous/server.js';

const SERVER = { address: '203.0.113.10', port: 7000 };

let server: RendezvousServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function world(
  seed = 1,
  serverOpts: RendezvousOptions = {},
): { sim: Simulator; server: RendezvousServer; start: () => Promise<void> } {
  const sim = new Simulator({ seed });
  const host = sim.addHost('rendezvous', { internetAddress: SERVER.address });
  server = new RendezvousServer(
    { host: SERVER.address, port: SERVER.port, ...serverOpts },
    { network: host.network, streamNetwork: host.network, clock: sim.clock },
  );
  const s = server;
  return { sim, server: s, start: async () => void (await s.start()) };
}

async function check(
  sim: Simulator,
  client: SimHost,
  opts: Partial<NatCheckOptions> = {},
): Promise<NatCheckReport> {
  let report: NatCheckReport | undefined;
  let error: unknown;
  runNatCheck(
    { server: SERVER, ...opts },
    { network: client.network, streams: client.network, clock: sim.clock },
  ).then(
    (r) => (report = r),
    (e: unknown) => (error = e),
  );
  await sim.runUntil(() => report !== undefined || error !== undefined, 30_000);
  if (error) throw error;
  if (!report) throw new Error('nat-check did not finish within 30 s of simulated time');
  return report;
}

const paths = (r: NatCheckReport): Record<string, string> =>
  Object.fromEntries(r.predictions.map((p) => [p.remote, p.path]));

describe('nat-check on the simulated network, against the real rendezvous', () => {
  const cases: [string, NatOptions, Partial<NatCheckReport>, Record<string, string>][] = [
    [
      'full cone (EIM/EIF)',
      NAT_PRESETS.fullCone,
      {
        mapping: 'endpoint-independent',
        filtering: 'endpoint-independent-or-address-dependent',
        natType: { name: 'full cone or restricted cone', label: 'EIM/EIF|ADF' },
      },
      {
        'full cone': 'direct',
        'restricted cone': 'direct',
        'port-restricted cone': 'direct',
        symmetric: 'direct',
        'no NAT': 'direct',
      },
    ],
    [
      'restricted cone (EIM/ADF)',
      NAT_PRESETS.restrictedCone,
      {
        mapping: 'endpoint-independent',
        filtering: 'endpoint-independent-or-address-dependent',
        natType: { name: 'full cone or restricted cone', label: 'EIM/EIF|ADF' },
      },
      {
        'full cone': 'direct',
        'restricted cone': 'direct',
        'port-restricted cone': 'direct',
        symmetric: 'direct',
        'no NAT': 'direct',
      },
    ],
    [
      'port-restricted cone (EIM/APDF)',
      NAT_PRESETS.portRestrictedCone,
      {
        mapping: 'endpoint-independent',
        filtering: 'address-and-port-dependent',
        natType: { name: 'port-restricted cone', label: 'EIM/APDF' },
      },
      {
        'full cone': 'direct',
        'restricted cone': 'direct',
        'port-restricted cone': 'direct',
        symmetric: 'direct', // the port search (common/path/predict-direct.ts, portSearchFinds)
        'no NAT': 'direct',
      },
    ],
    [
      'symmetric (APDM/APDF, random ports)',
      NAT_PRESETS.symmetric,
      {
        mapping: 'dependent',
        filtering: 'address-and-port-dependent',
        natType: { name: 'symmetric', label: 'APDM/APDF' },
      },
      {
        'full cone': 'direct',
        'restricted cone': 'direct',
        'port-restricted cone': 'direct', // the port search: only the port differed, so APDM
        symmetric: 'relay',
        'no NAT': 'direct',
      },
    ],
    [
      'symmetric mapping with endpoint-independent filtering (APDM/EIF)',
      { mapping: 'address-and-port-dependent', filtering: 'endpoint-independent', portAllocation: 'random' },
      {
        mapping: 'dependent',
        filtering: 'endpoint-independent-or-address-dependent',
        natType: { name: 'symmetric mapping with a lenient filter', label: 'APDM/EIF|ADF' },
      },
      {
        'full cone': 'direct',
        'restricted cone': 'direct',
        'port-restricted cone': 'direct', // the port search, whatever our filtering
        symmetric: 'relay',
        'no NAT': 'direct',
      },
    ],
  ];

  it.each(cases)('behind a %s NAT', async (_name, policy, expected, expectedPaths) => {
    const w = world();
    await w.start();
    const nat = w.sim.addNat('nat', { publicAddress: '203.0.113.20', ...policy });
    const client = w.sim.addHost('client', { behind: nat });
    const r = await check(w.sim, client);
    expect(r).toMatchObject({
      udp: 'ok',
      nat: 'yes',
      altPort: 7001,
      relay: { reachable: true },
      ...expected,
    });
    expect(r.public).toMatch(/^203\.0\.113\.20:\d+$/);
    expect(paths(r)).toEqual(expectedPaths);
    expect(r.predictions.every((p) => p.certain)).toBe(true);
  });

  it('behind a NAT that drops UDP: UDP blocked, the relay reachable, every chat over the relay', async () => {
    const w = world();
    await w.start();
    const nat = w.sim.addNat('nat', { publicAddress: '203.0.113.20', blockUdp: true });
    const client = w.sim.addHost('client', { behind: nat });
    const start = w.sim.clock.now();
    const r = await check(w.sim, client);
    expect(r).toMatchObject({
      udp: 'blocked',
      public: null,
      nat: 'unknown',
      mapping: 'unknown',
      filtering: 'unknown',
      relay: { reachable: true },
    });
    expect(r.findings.map((f) => f.topic)).toEqual(['udp', 'relay']);
    expect(r.findings[0]!.evidence).toMatch(/after 4 tries in 3000 ms: the server is up/);
    expect(new Set(Object.values(paths(r)))).toEqual(new Set(['relay']));
    expect(w.sim.clock.now() - start).toBeLessThanOrEqual(3_100); // one bounded test, then stop
  });

  it('with UDP blocked and no relay: unreachable on both transports, said so, nothing predicted', async () => {
    const w = world(1);
    await w.start();
    const nat = w.sim.addNat('nat', { publicAddress: '203.0.113.20', blockUdp: true });
    const client = w.sim.addHost('client', { behind: nat });
    const r = await check(w.sim, client, { relayUrl: 'ws://203.0.113.10:7999/' });
    // From inside, nothing answering on either transport looks like no server at all: said so,
    // and no prediction is made.
    expect(r).toMatchObject({
      udp: 'blocked',
      serverReachable: 'no',
      relay: { reachable: false },
      predictions: [],
    });
    expect(r.findings[0]).toMatchObject({ topic: 'server', result: 'unreachable' });
    expect(r.findings[1]!.evidence).toMatch(/UDP blocked or the server unreachable over UDP/);
  });

  it('with no NAT (a public address): no NAT, endpoint-independent, nothing filtered', async () => {
    const w = world();
    await w.start();
    const client = w.sim.addHost('client', { internetAddress: '203.0.113.50' });
    const r = await check(w.sim, client);
    expect(r).toMatchObject({
      udp: 'ok',
      nat: 'none',
      mapping: 'endpoint-independent',
      filtering: 'endpoint-independent-or-address-dependent',
      natType: { name: 'no NAT, no filtering of unknown ports' },
    });
    expect(r.public).toMatch(/^203\.0\.113\.50:\d+$/);
    expect(r.findings.find((f) => f.topic === 'public')!.evidence).toMatch(/no NAT/);
    expect(new Set(Object.values(paths(r)))).toEqual(new Set(['direct']));
  });

  it('one server address cannot see address-dependent mapping: ADM shows as endpoint-independent, with a note', async () => {
    const w = world();
    await w.start();
    const nat = w.sim.addNat('nat', {
      publicAddress: '203.0.113.20',
      mapping: 'address-dependent',
      filtering: 'address-and-port-dependent',
    });
    const client = w.sim.addHost('client', { behind: nat });
    const r = await check(w.sim, client);
    expect(r.mapping).toBe('endpoint-independent');
    expect(r.notes.join(' ')).toMatch(/cannot be told from address-dependent mapping/);
    // Predicted as EIM: direct against a symmetric NAT by a port search, which an ADM NAT would
    // not get (the peer measures it as consistent too); the note names what it would lose.
    expect(r.predictions.find((p) => p.remote === 'symmetric')).toMatchObject({ path: 'direct' });
    expect(r.notes.join(' ')).toMatch(
      /address-dependent one would take the relay with port-restricted cone and symmetric peers/,
    );
  });

  it('a server without the alternate port (--alt-port 0): the filtering test is refused, mapping and filtering unknown, predictions conservative', async () => {
    const w = world(1, { altPort: 0 });
    await w.start();
    expect(w.server.altEndpoint).toBeUndefined();
    const nat = w.sim.addNat('nat', { publicAddress: '203.0.113.20', ...NAT_PRESETS.portRestrictedCone });
    const client = w.sim.addHost('client', { behind: nat });
    const r = await check(w.sim, client);
    expect(r).toMatchObject({
      udp: 'ok',
      nat: 'yes',
      altPort: null,
      mapping: 'unknown',
      filtering: 'unknown',
    });
    expect(r.findings.find((f) => f.topic === 'filtering')!.evidence).toMatch(
      /420 Unknown Attribute.*--alt-port/,
    );
    const byRemote = Object.fromEntries(r.predictions.map((p) => [p.remote, p]));
    expect(byRemote['full cone']).toMatchObject({ path: 'direct', certain: true });
    expect(byRemote['port-restricted cone']).toMatchObject({ path: 'relay', certain: false });
    expect(byRemote['port-restricted cone']!.why).toMatch(/mapping is endpoint-independent/);
  });

  it('an alternate port elsewhere (--alt-port 7100): learnt from the "change port" answer where it gets in, else given with --alt-port', async () => {
    const w = world(1, { altPort: 7100 });
    await w.start();
    expect(w.server.altEndpoint).toEqual({ address: SERVER.address, port: 7100 });
    const full = w.sim.addNat('natA', { publicAddress: '203.0.113.20', ...NAT_PRESETS.fullCone });
    const a = await check(w.sim, w.sim.addHost('a', { behind: full }));
    expect(a).toMatchObject({ altPort: 7100, mapping: 'endpoint-independent' });

    const sym = w.sim.addNat('natB', { publicAddress: '203.0.113.21', ...NAT_PRESETS.symmetric });
    const guessed = await check(w.sim, w.sim.addHost('b', { behind: sym }));
    expect(guessed).toMatchObject({ altPort: 7001, mapping: 'unknown', filtering: 'unknown' });
    expect(guessed.notes.join(' ')).toMatch(/Port 7001 was assumed.*--alt-port/);
    const told = await check(w.sim, w.sim.addHost('c', { behind: sym }), { altPort: 7100 });
    expect(told).toMatchObject({
      altPort: 7100,
      mapping: 'dependent',
      filtering: 'address-and-port-dependent',
    });
  });

  it('a server bound to 0.0.0.0 works the same', async () => {
    const sim = new Simulator({ seed: 3 });
    const host = sim.addHost('rendezvous', { internetAddress: SERVER.address });
    server = new RendezvousServer(
      { host: '0.0.0.0', port: SERVER.port },
      { network: host.network, streamNetwork: host.network, clock: sim.clock },
    );
    await server.start();
    const prc = sim.addNat('nat', { publicAddress: '203.0.113.21', ...NAT_PRESETS.portRestrictedCone });
    const r = await check(sim, sim.addHost('b', { behind: prc }));
    expect(r).toMatchObject({
      altPort: 7001,
      mapping: 'endpoint-independent',
      filtering: 'address-and-port-dependent',
    });
  });
});
