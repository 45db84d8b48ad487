import { Simulator } from '../../common/net/sim/simulator.js';
import type { SimHost } from '../../common/net/sim/host.js';
import type { LinkConditions } from '../../common/net/sim/link.js';
import type { NatPolicy } from '../../common/net/sim/nat-rules.js';
import type { SimNat } from '../../common/net/sim/nat.js';
import { Rng } from '../../common/net/sim/random.js';
import { type DatagramSocket, type Endpoint, endpointKey } from '../../common/net/types.js';
import type { PathId } from '../../common/path/path-id.js';
import { connectionIdOf } from '../../common/session/packet.js';
import { Session, type SessionPath } from '../../common/session/session.js';
import type { SessionTuning } from '../../common/session/options.js';
import { orderedKeys, seededRandom } from './helpers.js';

/**
 * How a peer would own sessions: one UDP socket, datagrams routed to sessions by destination
 * connection id (never by source address), a path object per source endpoint.
 */
export class SocketOwner {
  readonly routes = new Map<string, Session>();
  /** Endpoints (endpointKey) that are a relay: their path is { kind: 'relay' }, not a direct one. */
  readonly relays = new Set<string>();
  unrouted = 0;
  constructor(readonly sock: DatagramSocket) {
    sock.onMessage((data, from) => {
      const cid = connectionIdOf(data);
      const s = cid === undefined ? undefined : this.routes.get(cid);
      if (!s) {
        this.unrouted++;
        return;
      }
      s.receive(data, this.pathTo(from));
    });
  }
  add(s: Session): void {
    for (const id of s.routingIds()) this.routes.set(id, s);
  }
  pathTo(to: Endpoint): SessionPath {
    const id: PathId = this.relays.has(endpointKey(to)) ? { kind: 'relay' } : { kind: 'direct', remote: to };
    return { id, send: (d) => this.sock.send(d, to) };
  }
}

export interface SimPair {
  sim: Simulator;
  natA: SimNat;
  hostA: SimHost;
  hostB: SimHost;
  a: Session;
  b: Session;
  ownerA: SocketOwner;
  ownerB: SocketOwner;
  bEndpoint: Endpoint;
  /** Largest UDP payload seen on the simulated network. */
  largest: () => number;
}

export interface SimPairOptions {
  seed: number;
  nat?: Partial<NatPolicy>;
  /** Impairments on A's access link, both directions: each direction of the conversation sees them once. */
  linkA?: Partial<LinkConditions>;
  tuning?: Partial<SessionTuning>;
}

/** A behind a NAT (the initiator), B on the internet; B learns A's address from the handshake. */
export async function simPair(o: SimPairOptions): Promise<SimPair> {
  const sim = new Simulator({ seed: o.seed });
  let largest = 0;
  sim.observe((e) => {
    if (e.kind === 'send') largest = Math.max(largest, e.size);
  });
  const natA = sim.addNat('natA', { publicAddress: '203.0.113.20', ...o.nat });
  const hostA = sim.addHost('a', { behind: natA, link: o.linkA });
  const hostB = sim.addHost('b', { internetAddress: '203.0.113.30' });
  const sockA = hostA.network.createUdpSocket();
  const sockB = hostB.network.createUdpSocket();
  await sockA.bind(4000);
  const bEndpoint = { address: hostB.address, port: (await sockB.bind(5000)).port };
  const ownerA = new SocketOwner(sockA);
  const ownerB = new SocketOwner(sockB);
  const [ka, kb] = orderedKeys(o.seed);
  const rng = new Rng(o.seed, 'sessions');
  const prologue = rng.fill(new Uint8Array(8)); // the introduction id
  const a = new Session(
    { staticKey: ka, expectedRemoteStatic: kb.publicKey, prologue, ...o.tuning },
    { clock: sim.clock, randomBytes: seededRandom(rng.fork('a')) },
  );
  const b = new Session(
    { staticKey: kb, expectedRemoteStatic: ka.publicKey, prologue, ...o.tuning },
    { clock: sim.clock, randomBytes: seededRandom(rng.fork('b')) },
  );
  ownerA.add(a);
  ownerB.add(b);
  a.setPath(ownerA.pathTo(bEndpoint));
  a.start();
  b.start();
  return { sim, natA, hostA, hostB, a, b, ownerA, ownerB, bEndpoint, largest: () => largest };
}

/** A message that checks itself: [u32 sequence][u32 length][pattern bytes]. */
export function makeMessage(seq: number, length: number, stream: string): Uint8Array {
  const n = Math.max(8, length);
  const m = new Rng(seq, stream).fill(new Uint8Array(n));
  const v = new DataView(m.buffer);
  v.setUint32(0, seq);
  v.setUint32(4, n);
  return m;
}

export function checkMessage(m: Uint8Array, stream: string): number {
  const v = new DataView(m.buffer, m.byteOffset, m.byteLength);
  const seq = v.getUint32(0);
  const expected = makeMessage(seq, v.getUint32(4), stream);
  if (Buffer.compare(expected, m) !== 0) throw new Error(`message ${seq} corrupted`);
  return seq;
}

/** Fire simulator timers until done() or maxMs of virtual time; bounded in steps too. */
export function drive(sim: Simulator, done: () => boolean, maxMs: number, maxSteps = 20_000_000): boolean {
  const end = sim.clock.now() + maxMs;
  for (let i = 0; i < maxSteps && !done(); i++) if (!sim.clock.step(end)) break;
  return done();
}

/**
 * A toy datagram relay on the simulated internet: each side registers with a one-byte datagram
 * ('A' or 'B'); everything else is forwarded, opaque, to the other side's registered endpoint.
 */
export async function relay(
  sim: Simulator,
  address: string,
): Promise<{ endpoint: Endpoint; forwarded: () => number }> {
  const host = sim.addHost('relay', { internetAddress: address });
  const sock = host.network.createUdpSocket();
  const endpoint = { address, port: (await sock.bind(7000)).port };
  const peers = new Map<string, Endpoint>();
  let forwarded = 0;
  sock.onMessage((data, from) => {
    if (data.length === 1) {
      peers.set(String.fromCharCode(data[0]!), from);
      return;
    }
    const side = [...peers.entries()].find(([, e]) => endpointKey(e) === endpointKey(from))?.[0];
    const to = side === 'A' ? peers.get('B') : side === 'B' ? peers.get('A') : undefined;
    if (to) {
      forwarded++;
      sock.send(data, to);
    }
  });
  return { endpoint, forwarded: () => forwarded };
}
