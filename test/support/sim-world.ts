import type { Clock } from '../../common/clock.js';
import { identityFromSeed } from '../../common/identity/identity.js';
import type { Identity } from '../../common/identity/identity.js';
import type { Endpoint, Network } from '../../common/net/types.js';
import type { StreamNetwork } from '../../common/net/stream.js';
import type { NatOptions } from '../../common/net/sim/simulator.js';
import { Simulator } from '../../common/net/sim/simulator.js';
import type { SimHost } from '../../common/net/sim/host.js';
import type { SimNat } from '../../common/net/sim/nat.js';
import { PeerNode } from '../../peer/peer-node.js';
import type { PeerEvents, PeerOptions } from '../../peer/peer-node.js';
import { RendezvousServer } from '../../rendezvous/server.js';
import type { RendezvousOptions } from '../../rendezvous/server.js';

export const SERVER = { address: '203.0.113.10', port: 7000 };
export const RELAY_URL = `ws://${SERVER.address}:${SERVER.port}/`;

type Recorded = { [K in keyof PeerEvents]: PeerEvents[K][] };

/** A PeerNode on a simulated host, with every event it emitted recorded for assertions. */
export interface SimPeer {
  name: string;
  node: PeerNode;
  host: SimHost;
  events: Recorded;
}

/** A rendezvous on the simulated internet and helpers to put peers behind NATs. */
export class SimWorld {
  readonly sim: Simulator;
  readonly server: RendezvousServer;
  /** The first server's host (a partition: `sim.setLink(serverHost, { loss: 1 })`). */
  readonly serverHost: SimHost;
  readonly peers: SimPeer[] = [];
  private readonly extraServers: RendezvousServer[] = [];

  /** With `relay`, the server also listens on (simulated) TCP and peers keep a relay stream. */
  constructor(
    seed = 1,
    readonly relay = false,
    serverOptions: RendezvousOptions = {},
  ) {
    this.sim = new Simulator({ seed });
    this.serverHost = this.sim.addHost('rendezvous', { internetAddress: SERVER.address });
    this.server = this.makeServer(this.serverHost, SERVER.address, 'rendezvous', serverOptions);
  }

  private makeServer(host: SimHost, address: string, label: string, o: RendezvousOptions): RendezvousServer {
    return new RendezvousServer(
      { ...o, host: address, port: SERVER.port },
      {
        network: host.network,
        clock: this.sim.clock,
        randomBytes: this.randomSource(label),
        ...(this.relay ? { streamNetwork: host.network } : {}),
      },
    );
  }

  /** Another, independent rendezvous (its own key and registry) at `address`, port 7000, started. */
  async addServer(
    address: string,
    o: RendezvousOptions = {},
  ): Promise<{ server: RendezvousServer; host: SimHost }> {
    const host = this.sim.addHost(`rendezvous-${address}`, { internetAddress: address });
    const server = this.makeServer(host, address, `rendezvous-${address}`, o);
    await server.start();
    this.extraServers.push(server);
    return { server, host };
  }

  private made = 0;

  /**
   * Random bytes drawn from the world's seed, one stream per label: with identities made from
   * it too (seededIdentity), one seed gives one trace, run after run.
   */
  randomSource(label: string): (n: number) => Uint8Array {
    const rng = this.sim.rng(`bytes:${label}`);
    return (n) => rng.fill(new Uint8Array(n));
  }

  /** An identity from the world's seed; each call gives the next one. */
  seededIdentity(): Identity {
    return identityFromSeed(this.randomSource(`identity:${this.made++}`)(64));
  }

  async start(): Promise<void> {
    await this.server.start();
  }

  nat(name: string, opts: NatOptions): SimNat {
    return this.sim.addNat(name, opts);
  }

  async peer(
    name: string,
    where: {
      behind?: SimNat;
      internetAddress?: string;
      /** Datagrams this peer sends are dropped when this says false (a firewall rule, a lost packet). */
      udpOut?: (data: Uint8Array, to: Endpoint) => boolean;
      /** The peer's clock instead of the simulator's own (one that counts, driven by it). */
      clock?: Clock;
      /** Wrap the peer's streams (to the relay): what it sees of the server's messages. */
      streams?: (n: StreamNetwork) => StreamNetwork;
    },
    opts: Partial<PeerOptions> = {},
    /** Keep an identity across a restart (a new node for the same peer). */
    identity: Identity = this.seededIdentity(),
  ): Promise<SimPeer> {
    const { udpOut, clock, streams, ...placement } = where;
    const host = this.sim.addHost(name, placement);
    const node = new PeerNode(
      { server: SERVER, name, ...(this.relay ? { relayUrl: RELAY_URL } : {}), ...opts },
      {
        network: udpOut ? filtered(host.network, udpOut) : host.network,
        clock: clock ?? this.sim.clock,
        identity,
        randomBytes: this.randomSource(`peer:${name}:${this.made++}`),
        ...(this.relay ? { streams: streams?.(host.network) ?? host.network } : {}),
      },
    );
    const events = {
      registered: [],
      'server-key': [],
      presence: [],
      connected: [],
      message: [],
      sent: [],
      delivered: [],
      disconnected: [],
      error: [],
      server: [],
      'server-closed': [],
      'server-changed': [],
      trace: [],
      path: [],
    } as Recorded;
    for (const k of Object.keys(events) as (keyof PeerEvents)[])
      node.on(k, (e) => (events[k] as unknown[]).push(e));
    await node.start();
    const p = { name, node, host, events };
    this.peers.push(p);
    return p;
  }

  /** Run virtual time until `done` or `maxMs` pass; returns done(). */
  run(done: () => boolean, maxMs: number): Promise<boolean> {
    return this.sim.runUntil(done, maxMs);
  }

  async close(): Promise<void> {
    for (const p of this.peers) await p.node.close();
    await this.server.close();
    for (const s of this.extraServers) await s.close();
  }
}

/** A network whose UDP sockets drop what `keep` refuses on the way out. */
function filtered(network: Network, keep: (data: Uint8Array, to: Endpoint) => boolean): Network {
  return {
    localAddresses: () => network.localAddresses(),
    createUdpSocket: () => {
      const s = network.createUdpSocket();
      const send = s.send.bind(s);
      s.send = (data, to) => {
        if (keep(data, to)) send(data, to);
      };
      return s;
    },
  };
}
