/**
 * The --real demo's world, built with the lab (common/lab, the one the lab tests use): an
 * internet bridge (203.0.113.0/24) with the real `punchline rendezvous` on it, and two iptables
 * MASQUERADE routers with alice and bob behind them, each running the real `punchline chat`.
 */
import path from 'node:path';
import { Lab, type Host, type LabProcess, type Router } from '../../common/lab/index.js';
import type { Side, Topology, Who } from './events.js';
import { percent } from './format.js';
import type { NatKindInfo } from './nat-kinds.js';

export const SERVER_IP = '203.0.113.10';
export const PORT = 7000;
export const SERVER = `${SERVER_IP}:${PORT}`;

export interface RealWorld {
  lab: Lab;
  server: Host;
  sides: Record<Who, { host: Host; router: Router }>;
}

/** The namespaces: the rendezvous' host on the internet, a kernel router and a host per peer. */
export async function buildLab(nat: [NatKindInfo, NatKindInfo], loss: number, lab: Lab): Promise<RealWorld> {
  const server = await lab.addHost('server', { on: lab.internet, ip: SERVER_IP });
  const kind = (n: NatKindInfo): 'cone' | 'symmetric' => n.kind as 'cone' | 'symmetric';
  const routerA = await lab.addRouter('natA', { nat: kind(nat[0]), loss });
  const routerB = await lab.addRouter('natB', { nat: kind(nat[1]), loss });
  const alice = await lab.addHost('alice', { on: routerA });
  const bob = await lab.addHost('bob', { on: routerB });
  return {
    lab,
    server,
    sides: { alice: { host: alice, router: routerA }, bob: { host: bob, router: routerB } },
  };
}

/** The lab as the diagram draws it (diagram.ts). */
export function labTopology(
  w: RealWorld,
  nat: [NatKindInfo, NatKindInfo],
  labels: readonly string[],
  loss: number,
): Topology {
  const link = loss > 0 ? `veth, ${percent(loss)} loss each way` : 'veth, no added delay';
  const side = (who: Who, i: 0 | 1): Side => ({
    peer: who,
    nat: nat[i].kind,
    natLabel: labels[i]!,
    local: w.sides[who].host.ip,
    lan: w.sides[who].router.lan.subnet,
    routerPublic: w.sides[who].router.wanIp,
    delayMs: 0,
    loss,
    link,
  });
  return {
    rendezvous: SERVER,
    rendezvousDelayMs: 0,
    rendezvousLink: 'veth',
    alice: side('alice', 0),
    bob: side('bob', 1),
  };
}

/** `punchline rendezvous` on the lab internet; resolves once it listens on UDP and TCP. */
export async function startRendezvous(w: RealWorld, cli: string, waitMs: number): Promise<void> {
  const rdv = w.server.node(cli, ['rendezvous', '--host', SERVER_IP, '--port', String(PORT)]);
  await rdv.waitForLine(/listening on udp/, waitMs);
  await rdv.waitForLine(/listening on tcp/, waitMs);
}

/** `punchline chat --json --log-level debug` for one peer, with a fresh data directory under `dataDir`. */
export function startChat(w: RealWorld, who: Who, cli: string, dataDir: string): LabProcess {
  return w.sides[who].host.node(cli, [
    'chat',
    '--server',
    SERVER,
    '--name',
    who,
    '--json',
    '--log-level',
    'debug',
    '--data-dir',
    path.join(dataDir, who),
  ]);
}
