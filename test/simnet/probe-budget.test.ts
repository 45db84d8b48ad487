import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../common/identity/identity.js';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import type { SimNat } from '../../common/net/sim/nat.js';
import type { Network } from '../../common/net/types.js';
import { MsgType } from '../../common/wire/constants.js';
import { PeerNode } from '../../peer/peer-node.js';
import type { RendezvousClient } from '../../peer/rendezvous-client.js';
import { RELAY_URL, SERVER, SimWorld } from '../support/sim-world.js';

/** The attacker's socket port; its claimed LAN endpoints are the victims' addresses with it. */
const PORT = 40_000;
const CONNECTS = 30;

interface Figures {
  /** UDP bytes and datagrams the attacker sent during the attack. */
  attackerBytes: number;
  connects: number;
  /** What the honest member sent to the eight victim endpoints, and what arrived there. */
  toVictims: { datagrams: number; bytes: number };
  received: number;
  honest: PeerNode;
}

/**
 * A room member (mallory) registers eight victim addresses as its LAN endpoints, opens a relayed
 * session with an honest member, then sends CONNECT after CONNECT for it: every CONNECT makes
 * the server introduce mallory to the honest member again, and each introduction starts a punch
 * attempt there, towards every candidate mallory claimed.
 */
async function reflector(sameNat: boolean): Promise<Figures> {
  const w = new SimWorld(sameNat ? 41 : 42, true);
  await w.start();
  const nat: SimNat | undefined = sameNat
    ? w.nat('home', { ...NAT_PRESETS.portRestrictedCone, hairpin: false })
    : undefined;
  const honest = await w.peer('honest', nat ? { behind: nat } : { internetAddress: '203.0.113.80' });
  const victims: string[] = [];
  let received = 0;
  for (let i = 0; i < 8; i++) {
    const host = w.sim.addHost(
      `victim${i}`,
      nat ? { behind: nat } : { internetAddress: `203.0.113.${200 + i}` },
    );
    const sock = host.network.createUdpSocket();
    sock.onMessage(() => received++);
    await sock.bind(PORT);
    victims.push(host.address);
  }
  const mh = w.sim.addHost('mallory', nat ? { behind: nat } : { internetAddress: '203.0.113.66' });
  const network: Network = {
    createUdpSocket: () => mh.network.createUdpSocket(),
    localAddresses: () => victims, // the claim nobody checks
  };
  const mallory = new PeerNode(
    { server: SERVER, name: 'mallory', relayUrl: RELAY_URL, port: PORT, mode: 'relay-only' },
    { network, streams: mh.network, clock: w.sim.clock, identity: generateIdentity() },
  );
  let connected = 0;
  mallory.on('connected', () => connected++);
  await mallory.start();
  await w.run(() => honest.events.presence.some((e) => e.peers.some((p) => p.name === 'mallory')), 10_000);
  await w.run(() => mallory.peerList().some((p) => p.name === 'honest'), 10_000);
  void mallory.connect('honest'); // a session on the relay: from now on every introduction is punch-only
  await w.run(() => connected === 1 && honest.events.connected.length === 1, 10_000);
  expect(connected).toBe(1);
  await w.sim.run(12_000); // the first introduction's punch attempt runs out

  const victimKeys = new Set(victims.map((a) => `${a}:${PORT}`));
  const f = {
    attackerBytes: 0,
    connects: 0,
    toVictims: { datagrams: 0, bytes: 0 },
    received: 0,
    honest: honest.node,
  };
  received = 0;
  const stop = w.sim.observe((e) => {
    if (e.kind !== 'send') return;
    if (e.node === 'mallory') f.attackerBytes += e.size;
    if (e.node === 'honest' && victimKeys.has(e.dst)) {
      f.toVictims.datagrams++;
      f.toVictims.bytes += e.size;
    }
  });
  const client = (mallory as unknown as { servers: { udp: RendezvousClient } }).servers.udp;
  for (let i = 0; i < CONNECTS; i++) {
    void client.connect(honest.node.identity.id).catch(() => {});
    f.connects++;
    await w.sim.run(1000);
  }
  await w.sim.run(12_000); // every attempt started meets its deadline
  stop();
  f.received = received;
  await mallory.close();
  await w.close();
  return f;
}

describe('probe budget: attacks on the simulated network', () => {
  it('reflector: LAN endpoints claimed by a member on another network are not probed', async () => {
    const f = await reflector(false);
    const perByte = f.toVictims.bytes / f.attackerBytes;
    console.log(
      `reflector, other network: ${f.connects} CONNECTs, attacker sent ${f.attackerBytes} B; ` +
        `honest sent ${f.toVictims.datagrams} datagrams / ${f.toVictims.bytes} B to the victims ` +
        `(${perByte.toFixed(2)} B per attacker byte)`,
    );
    expect(f.toVictims.datagrams).toBe(0);
    expect(f.received).toBe(0);
    const s = f.honest.stats.punch;
    expect(s.lanNotProbed).toBeGreaterThanOrEqual(8);
    expect(s.attemptsLimited).toBeGreaterThan(0); // 30 introductions in 30 s: K a minute punch
    expect(s.attempts).toBeLessThanOrEqual(8 + 1);
  });

  it('reflector: behind the same NAT, at most 4 LAN candidates x 3 probes per attempt and 8 attempts a minute', async () => {
    const f = await reflector(true);
    const perByte = f.toVictims.bytes / f.attackerBytes;
    console.log(
      `reflector, same NAT: ${f.connects} CONNECTs, attacker sent ${f.attackerBytes} B; ` +
        `honest sent ${f.toVictims.datagrams} datagrams / ${f.toVictims.bytes} B to the victims ` +
        `(${perByte.toFixed(2)} B per attacker byte)`,
    );
    const s = f.honest.stats.punch;
    // The first introduction's attempt (before the window) and 8 admitted in the attack minute
    // at most; 4 candidates x 3 probes of 133 bytes each.
    expect(s.attemptsLimited).toBeGreaterThanOrEqual(CONNECTS - 8);
    expect(f.toVictims.datagrams).toBeLessThanOrEqual(8 * 4 * 3);
    expect(f.toVictims.bytes).toBeLessThanOrEqual(8 * 4 * 3 * 133);
    expect(perByte).toBeLessThan(12);
    expect(s.probesCapped).toBeGreaterThan(0);
    expect(s.lanNotProbed).toBeGreaterThan(0); // victims 5-8: past the LAN cap
  });

  it('a PROBE_ACK is never larger than the PROBE it answers, on the wire', async () => {
    const w = new SimWorld(43);
    await w.start();
    const sent: { type: number; size: number }[] = [];
    /** A host's network whose sockets record the type and size of every datagram sent. */
    const tapped = (n: Network): Network => ({
      localAddresses: () => n.localAddresses(),
      createUdpSocket: () => {
        const sock = n.createUdpSocket();
        const send = sock.send.bind(sock);
        sock.send = (d, to) => {
          sent.push({ type: d[1]!, size: d.length });
          send(d, to);
        };
        return sock;
      },
    });
    const nodes = [];
    for (const name of ['a', 'b']) {
      const host = w.sim.addHost(name, { behind: w.nat(`n${name}`, { ...NAT_PRESETS.portRestrictedCone }) });
      const node = new PeerNode(
        { server: SERVER, name },
        { network: tapped(host.network), clock: w.sim.clock, identity: generateIdentity() },
      );
      await node.start();
      nodes.push(node);
    }
    const [a, b] = nodes as [PeerNode, PeerNode];
    let open = 0;
    b.on('connected', () => open++);
    await w.run(() => a.peerList().length === 1, 5000);
    void a.connect('b');
    expect(await w.run(() => open === 1, 5000)).toBe(true);
    const probes = sent.filter((d) => d.type === MsgType.PROBE);
    const acks = sent.filter((d) => d.type === MsgType.PROBE_ACK);
    expect(probes.length).toBeGreaterThan(0);
    expect(acks.length).toBeGreaterThan(0);
    expect(new Set(probes.map((d) => d.size))).toEqual(new Set([133]));
    expect(Math.max(...acks.map((d) => d.size))).toBeLessThanOrEqual(Math.min(...probes.map((d) => d.size)));
    expect(a.stats.punch.acksWithheld + b.stats.punch.acksWithheld).toBe(0);
    await a.close();
    await b.close();
    await w.close();
  });
});
