import { generateIdentity } from '../../../common/identity/identity.js';
import type { Identity } from '../../../common/identity/identity.js';
import type { SimHost } from '../../../common/net/sim/host.js';
import type { SimNat } from '../../../common/net/sim/nat.js';
import { Simulator } from '../../../common/net/sim/simulator.js';
import type { MessageStream, StreamConnectOptions } from '../../../common/net/stream.js';
import { RendezvousServer } from '../../../rendezvous/server.js';
import type { RendezvousOptions } from '../../../rendezvous/server.js';
import { StreamPeer } from './stream-peer.js';

export const RDV = { address: '203.0.113.10', port: 7000 };
export const RDV_URL = `ws://${RDV.address}:${RDV.port}/`;

/** The real RendezvousServer on a simulated internet host, listening on UDP and (simulated) TCP. */
export class RelayWorld {
  readonly sim: Simulator;
  readonly host: SimHost;
  readonly server: RendezvousServer;
  private natCount = 0;

  constructor(options: RendezvousOptions = {}, seed = 1) {
    this.sim = new Simulator({ seed });
    this.host = this.sim.addHost('rendezvous', { internetAddress: RDV.address });
    this.server = new RendezvousServer(
      { host: RDV.address, port: RDV.port, ...options },
      { network: this.host.network, streamNetwork: this.host.network, clock: this.sim.clock },
    );
  }

  start(): Promise<unknown> {
    return this.server.start();
  }

  readonly run = (done: () => boolean, maxMs: number): Promise<boolean> => this.sim.runUntil(done, maxMs);

  /** A host behind its own NAT (UDP blocked there unless `udp`), or on the internet. */
  host_(name: string, where: { udp?: boolean; behind?: SimNat; internet?: string } = {}): SimHost {
    if (where.internet) return this.sim.addHost(name, { internetAddress: where.internet });
    const nat =
      where.behind ??
      this.sim.addNat(`nat-${name}`, {
        publicAddress: `203.0.113.${100 + ++this.natCount}`,
        blockUdp: !where.udp,
      });
    return this.sim.addHost(name, { behind: nat });
  }

  async connect(host: SimHost, opts: StreamConnectOptions = {}): Promise<MessageStream> {
    let s: MessageStream | undefined;
    let err: unknown;
    host.network.connectStream(RDV_URL, opts).then(
      (x) => (s = x),
      (e: unknown) => (err = e),
    );
    await this.run(() => s !== undefined || err !== undefined, 30_000);
    if (err) throw err;
    if (!s) throw new Error('connect did not finish');
    return s;
  }

  /** Connect a StreamPeer from `host` (a fresh identity unless given). */
  async peer(host: SimHost, identity: Identity = generateIdentity()): Promise<StreamPeer> {
    return new StreamPeer(await this.connect(host), identity, this.run);
  }

  /** Connect and register in `room` as `name`. */
  async registered(
    name: string,
    room = 'lobby',
    where: Parameters<RelayWorld['host_']>[1] = {},
  ): Promise<StreamPeer> {
    const p = await this.peer(this.host_(name, where));
    await p.register(room, name);
    return p;
  }
}
