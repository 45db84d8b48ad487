/**
 * `punchline nat-check` through the kernel's NAT: the real rendezvous (with its STUN alternate
 * port) on the lab internet and the real CLI behind a Linux MASQUERADE router (port-restricted
 * cone), a `--random-fully` one (symmetric), and one that drops UDP (only TCP gets out). Each
 * prints the report as the command would (docs/nat-check.md shows these runs).
 */
import { afterEach, expect, it } from 'vitest';
import type { NatCheckReport } from '../../peer/nat-check/types.js';
import { formatReport } from '../../peer/nat-check/format.js';
import { CLI } from '../support/proc.js';
import { Lab, type Host, type RouterOptions } from '../../common/lab/index.js';
import { describeLab } from './describe-lab.js';

const SERVER_IP = '203.0.113.10';
const PORT = 7000;

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

/** The rendezvous on the internet, a router of the given kind, a host behind it. */
async function world(router: RouterOptions): Promise<{ host: Host; wanIp: string }> {
  lab = await Lab.create();
  const server = await lab.addHost('server', { on: lab.internet, ip: SERVER_IP });
  const rdv = server.node(CLI, ['rendezvous', '--host', SERVER_IP, '--port', String(PORT)]);
  await rdv.waitForLine(/listening on udp .* \(stun alt port 7001\)/, 10_000);
  const nat = await lab.addRouter('nat', router);
  return { host: await lab.addHost('a', { on: nat }), wanIp: nat.wanIp };
}

async function natCheck(host: Host, title: string): Promise<NatCheckReport> {
  const r = await host.exec(
    process.execPath,
    [CLI, 'nat-check', '--server', `${SERVER_IP}:${PORT}`, '--json'],
    {
      timeoutMs: 20_000,
    },
  );
  expect(r.code, r.stderr).toBe(0);
  const report = JSON.parse(r.stdout) as NatCheckReport;
  console.log(`lab nat-check, ${title}:\n${formatReport(report).join('\n')}\n`);
  return report;
}

describeLab('real-NAT lab: punchline nat-check', () => {
  it('behind a Linux MASQUERADE router: endpoint-independent mapping, address-and-port-dependent filtering (port-restricted cone)', async () => {
    const { host, wanIp } = await world({ nat: 'cone' });
    const r = await natCheck(host, 'cone router (MASQUERADE)');
    expect(r).toMatchObject({
      udp: 'ok',
      nat: 'yes',
      altPort: 7001,
      mapping: 'endpoint-independent',
      filtering: 'address-and-port-dependent',
      natType: { name: 'port-restricted cone', label: 'EIM/APDF' },
      relay: { reachable: true },
    });
    expect(r.public).toMatch(new RegExp(`^${wanIp.replace(/\./g, '\\.')}:\\d+$`));
    const path = Object.fromEntries(r.predictions.map((p) => [p.remote, p.path]));
    expect(path).toEqual({
      'full cone': 'direct',
      'restricted cone': 'direct',
      'port-restricted cone': 'direct',
      symmetric: 'direct', // by a port search (common/path/predict-direct.ts, portSearchFinds)
      'no NAT': 'direct',
    });
  });

  it('behind a MASQUERADE --random-fully router: dependent mapping (symmetric)', async () => {
    const { host, wanIp } = await world({ nat: 'symmetric' });
    const r = await natCheck(host, 'symmetric router (MASQUERADE --random-fully)');
    expect(r).toMatchObject({
      udp: 'ok',
      nat: 'yes',
      mapping: 'dependent',
      filtering: 'address-and-port-dependent',
      natType: { name: 'symmetric' },
    });
    expect(r.public).toMatch(new RegExp(`^${wanIp.replace(/\./g, '\\.')}:\\d+$`));
    const path = Object.fromEntries(r.predictions.map((p) => [p.remote, p.path]));
    expect(path).toEqual({
      'full cone': 'direct',
      'restricted cone': 'direct',
      'port-restricted cone': 'direct', // by a port search: only the server port differed, so APDM
      symmetric: 'relay',
      'no NAT': 'direct',
    });
  });

  it('behind a router that drops UDP: UDP blocked, relay reachable, everything over the relay', async () => {
    const { host } = await world({ nat: 'cone', udpBlocked: true });
    const r = await natCheck(host, 'router dropping UDP (only TCP gets out)');
    expect(r).toMatchObject({ udp: 'blocked', public: null, nat: 'unknown', relay: { reachable: true } });
    expect(r.findings.find((f) => f.topic === 'udp')?.evidence).toMatch(/UDP is blocked/);
    expect(new Set(r.predictions.map((p) => p.path))).toEqual(new Set(['relay']));
  });
});
