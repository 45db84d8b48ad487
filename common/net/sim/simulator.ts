import { isIPv4 } from 'node:net';
import { VirtualClock } from '../../clock.js';
import { badArgument } from '../../errors.js';
import { endpointKey } from '../types.js';
import type { SimContext } from './context.js';
import { DEFAULT_EPHEMERAL_PORTS, SimHost } from './host.js';
import { Link, linkFate, type LinkConditions, type LinkDirection } from './link.js';
import { DEFAULT_NAT_POLICY, type NatPolicy } from './nat-rules.js';
import { SimNat } from './nat.js';
import type { Packet } from './packet.js';
import { Rng } from './random.js';
import { Segment, type Attachment } from './segment.js';
import {
  newStats,
  newStreamStats,
  type DropReason,
  type SimEvent,
  type SimStats,
  type SimStreamStats,
} from './stats.js';

export interface SimulatorOptions {
  /** Seeds every random choice (loss, jitter, ports). Default 1. */
  seed?: number;
  /** Share a clock with other components under test; default a fresh VirtualClock at t = 0. */
  clock?: VirtualClock;
}

/** Where a host or NAT sits: directly on the internet, or behind a NAT. */
export interface Placement {
  /** Behind this NAT, on its LAN. */
  behind?: SimNat;
  /** Address on the NAT's LAN; default the next free one in its subnet. */
  lanAddress?: string;
  /** Address on the internet (only without `behind`); default the next free one in 203.0.113.0/24. */
  internetAddress?: string;
}

export interface HostOptions extends Placement {
  /** Host firewall: all UDP except loopback is dropped ('blocked'). */
  blockUdp?: boolean;
  link?: Partial<LinkConditions>;
  ephemeralPorts?: readonly [number, number];
}

export interface NatOptions extends Partial<NatPolicy> {
  /** Public address on the internet (only without `behind`); alias of internetAddress. */
  publicAddress?: string;
  /** Double NAT: this NAT's outside sits on `behind`'s LAN. */
  behind?: SimNat;
  lanAddress?: string;
  /** The /24 of this NAT's LAN, as "a.b.c.0/24"; default 10.<n>.0.0/24 for the n-th NAT. */
  lanSubnet?: string;
  /** Drop all UDP crossing the NAT both ways: a network where only TCP gets out. */
  blockUdp?: boolean;
  link?: Partial<LinkConditions>;
}

export type SimNodeRef = SimHost | SimNat;

/**
 * The simulated network: hosts, NAT boxes and access links around one "internet" segment, on a
 * virtual clock with a seeded RNG. Every host's `network` is the same Network seam the real
 * peer and rendezvous code use (common/net/types.ts), and the StreamNetwork seam
 * (common/net/stream.ts; simulated TCP, see stream.ts), so they run on it unchanged.
 *
 * ```ts
 * const sim = new Simulator({ seed: 1 });
 * const rdv = sim.addHost('rdv', { internetAddress: '203.0.113.10' });
 * const natA = sim.addNat('natA', { publicAddress: '203.0.113.20', ...NAT_PRESETS.portRestrictedCone });
 * const a = sim.addHost('a', { behind: natA });
 * sim.setLink(a, { delayMs: 20, jitterMs: 5, loss: 0.01 });
 * const sock = a.network.createUdpSocket();
 * await sim.clock.runUntil(() => done, 10_000);
 * ```
 */
export class Simulator implements SimContext {
  readonly clock: VirtualClock;
  readonly seed: number;
  readonly stats: SimStats = newStats();
  /** Simulated TCP streams (host.network.connectStream / listenStream): connects, refusals, traffic. */
  readonly streams: SimStreamStats = newStreamStats();
  /** The public segment (TEST-NET-3, 203.0.113.0/24, by default). */
  readonly internet: Segment;
  private readonly root: Rng;
  private readonly nodes = new Map<string, SimNodeRef>();
  private readonly where = new Map<SimNodeRef, Attachment>();
  private readonly listeners = new Set<(e: SimEvent) => void>();
  private packetIds = 0;
  private natCount = 0;

  constructor(opts: SimulatorOptions = {}) {
    this.seed = opts.seed ?? 1;
    this.clock = opts.clock ?? new VirtualClock();
    this.root = new Rng(this.seed);
    this.internet = new Segment('internet', this, { prefix: '203.0.113.' });
  }

  addHost(name: string, opts: HostOptions = {}): SimHost {
    this.checkName(name);
    const host = new SimHost(name, this, new Link(name, this.rng(`link:${name}`), opts.link), {
      blockUdp: opts.blockUdp ?? false,
      ephemeralPorts: opts.ephemeralPorts ?? DEFAULT_EPHEMERAL_PORTS,
    });
    host.attach(this.place(host, opts));
    this.nodes.set(name, host);
    return host;
  }

  addNat(name: string, opts: NatOptions = {}): SimNat {
    this.checkName(name);
    const n = ++this.natCount;
    const { behind, lanAddress, publicAddress, lanSubnet, blockUdp, link, ...policy } = opts;
    const nat = new SimNat(
      name,
      this,
      new Link(name, this.rng(`link:${name}`), link),
      { ...DEFAULT_NAT_POLICY, ...policy },
      parseSubnet(lanSubnet ?? `10.${n}.0.0/24`),
      blockUdp ?? false,
    );
    nat.attachOutside(this.place(nat, { behind, lanAddress, internetAddress: publicAddress }));
    this.nodes.set(name, nat);
    return nat;
  }

  /** Change the impairments of a node's access link (merged into what it has now). */
  setLink(
    node: SimNodeRef,
    changes: Partial<LinkConditions>,
    direction: LinkDirection | 'both' = 'both',
  ): void {
    node.link.set(changes, direction);
  }

  /**
   * Move a host to another network (a laptop changing Wi-Fi): its sockets keep their ports, its
   * address changes, and packets in flight to the old address are lost.
   */
  moveHost(host: SimHost, to: Placement): void {
    const old = this.where.get(host);
    const placed = this.place(host, to);
    if (old) old.segment.detach(old.address);
    host.attach(placed);
  }

  get(name: string): SimNodeRef | undefined {
    return this.nodes.get(name);
  }

  /** Listen to the packet trace; returns an unsubscribe function. */
  observe(listener: (e: SimEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Shorthands for sim.clock.advanceAsync / runUntil. */
  run(ms: number): Promise<void> {
    return this.clock.advanceAsync(ms);
  }
  runUntil(done: () => boolean, maxMs: number): Promise<boolean> {
    return this.clock.runUntil(done, maxMs);
  }

  // ---- SimContext: what hosts, NATs and segments call back into ----

  rng(label: string): Rng {
    return this.root.fork(label);
  }

  newPacketId(): number {
    return ++this.packetIds;
  }

  transmit(link: Link, direction: LinkDirection, p: Packet, arrive: (p: Packet) => void): void {
    const c = link[direction];
    // The bottleneck comes first (no random draw, so a link without one keeps its trace); what
    // the wire then does to the packet is linkFate's, after it has been serialised.
    const queued = link.queue[direction].admit(c, p.data.byteLength, this.clock.now());
    if (queued === undefined) return this.drop(p, 'queue', link.name);
    const delays = linkFate(c, link.rng);
    if (delays.length === 0) return this.drop(p, 'loss', link.name);
    this.stats.duplicated += delays.length - 1;
    for (const d of delays) this.clock.setTimeout(() => arrive(p), queued + d);
  }

  sent(p: Packet, node: string): void {
    this.stats.sent++;
    this.emit('send', p, node);
  }

  delivered(p: Packet, node: string): void {
    this.stats.delivered++;
    this.emit('deliver', p, node);
  }

  drop(p: Packet, reason: DropReason, node: string): void {
    this.stats.dropped[reason]++;
    this.emit('drop', p, node, reason);
  }

  mapped(p: Packet, node: string, external: string): void {
    if (this.listeners.size === 0) return;
    const e: SimEvent = {
      t: this.clock.now(),
      kind: 'map',
      node,
      id: p.id,
      src: endpointKey(p.src),
      dst: external,
      size: p.data.byteLength,
    };
    for (const l of this.listeners) l(e);
  }

  // ---- internals ----

  private place(node: SimNodeRef, at: Placement): Attachment {
    let segment: Segment;
    let address: string | undefined;
    if (at.behind) {
      if (at.internetAddress !== undefined)
        throw badArgument(`${node.name}: give either behind or an internet address, not both`);
      if (at.behind === node) throw badArgument(`${node.name} cannot sit behind itself`);
      segment = at.behind.lan;
      address = at.lanAddress;
    } else {
      if (at.lanAddress !== undefined) throw badArgument(`${node.name}: lanAddress needs behind`);
      segment = this.internet;
      address = at.internetAddress;
    }
    if (address !== undefined && !isIPv4(address))
      throw badArgument(`${node.name}: bad IPv4 address ${address}`);
    const placed = { segment, address: segment.attach(node, address) };
    this.where.set(node, placed);
    return placed;
  }

  private checkName(name: string): void {
    if (this.nodes.has(name)) throw badArgument(`a host or NAT named ${name} already exists`);
  }

  private emit(kind: SimEvent['kind'], p: Packet, node: string, reason?: DropReason): void {
    if (this.listeners.size === 0) return;
    const e: SimEvent = {
      t: this.clock.now(),
      kind,
      node,
      id: p.id,
      src: endpointKey(p.src),
      dst: endpointKey(p.dst),
      size: p.data.byteLength,
      ...(reason ? { reason } : {}),
    };
    for (const l of this.listeners) l(e);
  }
}

/** "a.b.c.0/24" → "a.b.c." (only /24 LANs are modelled). */
function parseSubnet(cidr: string): string {
  const m = /^(\d{1,3}\.\d{1,3}\.\d{1,3})\.0\/24$/.exec(cidr);
  if (!m || !isIPv4(`${m[1]}.0`)) throw badArgument(`lanSubnet must look like 10.1.2.0/24, got ${cidr}`);
  return `${m[1]}.`;
}
