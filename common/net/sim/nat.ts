import { endpointKey, type Endpoint } from '../types.js';
import type { SimContext } from './context.js';
import type { Link } from './link.js';
import { allocatePort, checkNatPolicy, filterKey, mappingKey, type NatPolicy } from './nat-rules.js';
import type { Packet } from './packet.js';
import type { Rng } from './random.js';
import { Segment, type Attachment, type Gateway, type SimNode } from './segment.js';
import type { StreamNat } from './stream-path.js';

/** A live mapping, as tests see it. */
export interface NatMapping {
  readonly internal: Endpoint;
  readonly external: Endpoint;
  readonly expiresAt: number;
  /** What the filter remembers of the remotes this mapping sent to (see nat-rules.ts filterKey). */
  readonly permits: readonly string[];
}

export interface NatStats {
  mappingsCreated: number;
  /** Counted when the NAT notices (on lookup, allocation or mappings()); expiry itself is exact. */
  mappingsExpired: number;
  mappingsFlushed: number;
  translatedOut: number;
  translatedIn: number;
  hairpinned: number;
}

interface Mapping {
  readonly key: string;
  readonly internal: Endpoint;
  readonly port: number;
  readonly permits: Set<string>;
  expiresAt: number;
}

/**
 * A NAT box: a LAN segment on the inside, one address on its upstream segment (the internet or
 * an outer NAT's LAN) on the outside. Behaviour after RFC 4787; the decisions are nat-rules.ts.
 *
 * Home-router rule (docs/nat-traversal.md): nothing is created by inbound traffic. An unsolicited packet is
 * dropped ('no-mapping') without leaving state behind, so it cannot steer later port choices.
 * Mappings expire lazily against the virtual clock, so they hold no timers.
 */
export class SimNat implements SimNode, Gateway, StreamNat {
  readonly lan: Segment;
  readonly stats: NatStats = {
    mappingsCreated: 0,
    mappingsExpired: 0,
    mappingsFlushed: 0,
    translatedOut: 0,
    translatedIn: 0,
    hairpinned: 0,
  };
  /** Drop all UDP crossing this NAT, both ways (a network that only lets TCP out). LAN traffic still flows. */
  blockUdp: boolean;
  private policyNow: NatPolicy;
  private outside: Attachment | undefined;
  private readonly byKey = new Map<string, Mapping>();
  private readonly byPort = new Map<number, Mapping>();
  /**
   * TCP mappings of simulated streams (stream.ts), external port -> internal endpoint. A separate
   * port space from UDP, as in conntrack; they live as long as their connection (no idle timer:
   * established TCP lasts days in Linux conntrack), and flushMappings drops them too.
   */
  private readonly tcpByPort = new Map<number, Endpoint>();
  private tcpCursor: number;
  private cursor: number;
  private readonly rng: Rng;

  constructor(
    readonly name: string,
    private readonly ctx: SimContext,
    readonly link: Link,
    policy: NatPolicy,
    lanPrefix: string,
    blockUdp: boolean,
  ) {
    this.policyNow = checkNatPolicy(policy);
    this.cursor = policy.portRange[0];
    this.tcpCursor = policy.portRange[0];
    this.rng = ctx.rng(`nat:${name}`);
    this.blockUdp = blockUdp;
    this.lan = new Segment(`${name}-lan`, ctx, {
      gateway: this,
      gatewayAddress: `${lanPrefix}1`,
      prefix: lanPrefix,
    });
  }

  get policy(): NatPolicy {
    return this.policyNow;
  }

  /** The NAT's address on its upstream segment: its public IP, or its address in an outer NAT's LAN. */
  get externalAddress(): string {
    if (!this.outside) throw new Error(`NAT ${this.name} is not attached`);
    return this.outside.address;
  }

  /** The NAT's own address on its LAN (the default gateway; nothing listens there). */
  get lanAddress(): string {
    return `${this.lan.prefix}1`;
  }

  /** @internal The segment the NAT's outside sits on (stream routing). */
  get upstream(): Segment | undefined {
    return this.outside?.segment;
  }

  /** @internal The simulator places the NAT's outside interface. */
  attachOutside(at: Attachment): void {
    this.outside = at;
  }

  /**
   * Change the policy mid-run. Changing mapping, filtering or port allocation flushes the mappings
   * (like reconfiguring and rebooting a router); hairpin and timeouts apply to existing mappings.
   */
  configure(changes: Partial<NatPolicy>): void {
    const next = checkNatPolicy({ ...this.policyNow, ...changes });
    const reshape =
      next.mapping !== this.policyNow.mapping ||
      next.filtering !== this.policyNow.filtering ||
      next.portAllocation !== this.policyNow.portAllocation ||
      next.portRange !== this.policyNow.portRange;
    this.policyNow = next;
    if (reshape) this.flushMappings();
  }

  /** Drop every mapping (conntrack -F), UDP and TCP. Returns how many UDP mappings were live. */
  flushMappings(): number {
    const n = this.mappings().length;
    this.byKey.clear();
    this.byPort.clear();
    this.tcpByPort.clear();
    this.stats.mappingsFlushed += n;
    return n;
  }

  /** The live mappings, oldest first. */
  mappings(): NatMapping[] {
    const out: NatMapping[] = [];
    for (const m of [...this.byKey.values()]) {
      if (this.expired(m)) continue;
      out.push({
        internal: { ...m.internal },
        external: { address: this.externalAddress, port: m.port },
        expiresAt: m.expiresAt,
        permits: [...m.permits],
      });
    }
    return out;
  }

  /** The external endpoint an outbound packet from `internal` to `remote` would use now, if mapped. */
  mappingFor(internal: Endpoint, remote: Endpoint): Endpoint | undefined {
    const m = this.byKey.get(mappingKey(this.policyNow.mapping, 'udp', internal, remote));
    return m && !this.expired(m) ? { address: this.externalAddress, port: m.port } : undefined;
  }

  /** @internal A TCP mapping for one simulated stream, allocated by the NAT's port policy. */
  openStreamMapping(internal: Endpoint, _remote: Endpoint): Endpoint | undefined {
    const port = allocatePort({
      allocation: this.policyNow.portAllocation,
      preferred: internal.port,
      range: this.policyNow.portRange,
      cursor: this.tcpCursor,
      inUse: (q) => this.tcpByPort.has(q),
      rng: this.rng,
    });
    if (port === undefined) return undefined;
    this.tcpCursor = port + 1;
    this.tcpByPort.set(port, { ...internal });
    return { address: this.externalAddress, port };
  }

  /** @internal */
  hasStreamMapping(port: number): boolean {
    return this.tcpByPort.has(port);
  }

  /** @internal The connection from `internal` closed (a flush may have given its port to another). */
  closeStreamMapping(port: number, internal: Endpoint): void {
    const held = this.tcpByPort.get(port);
    if (held && held.address === internal.address && held.port === internal.port) this.tcpByPort.delete(port);
  }

  /** Live TCP mappings (simulated streams through this NAT). */
  get streamMappings(): number {
    return this.tcpByPort.size;
  }

  /** A packet from the LAN that is not for a LAN member: translate it and send it up (or hairpin it). */
  receiveFromInside(p: Packet): void {
    if (this.blockUdp) return this.ctx.drop(p, 'blocked', this.name);
    if (p.ttl <= 1) return this.ctx.drop(p, 'ttl', this.name);
    const hairpin = p.dst.address === this.externalAddress;
    // Without hairpin support the packet is for the router itself, which has no listener; it never
    // reaches the NAT table (Linux: it goes to INPUT, not through SNAT).
    if (hairpin && !this.policyNow.hairpin) return this.ctx.drop(p, 'hairpin-disabled', this.name);
    const m = this.outbound(p);
    if (!m) return this.ctx.drop(p, 'port-exhausted', this.name);
    this.stats.translatedOut++;
    const out: Packet = { ...p, src: { address: this.externalAddress, port: m.port }, ttl: p.ttl - 1 };
    if (hairpin) {
      // RFC 4787 REQ-9: the hairpinned packet carries the sender's external endpoint as source and
      // goes through the same inbound filtering as if it had come from outside.
      this.stats.hairpinned++;
      this.inbound(out);
      return;
    }
    const up = this.outside!;
    this.ctx.transmit(this.link, 'up', out, (q) => up.segment.route(q, this));
  }

  /** A packet for our external address arrived from upstream. */
  receiveFromUplink(p: Packet): void {
    if (!this.outside || p.dst.address !== this.outside.address)
      return this.ctx.drop(p, 'no-route', this.name);
    if (this.blockUdp) return this.ctx.drop(p, 'blocked', this.name);
    this.inbound(p);
  }

  private inbound(p: Packet): void {
    if (p.ttl <= 1) return this.ctx.drop(p, 'ttl', this.name);
    const m = this.byPort.get(p.dst.port);
    if (!m || this.expired(m)) return this.ctx.drop(p, 'no-mapping', this.name);
    if (!m.permits.has(filterKey(this.policyNow.filtering, p.src)))
      return this.ctx.drop(p, 'filtered', this.name);
    if (this.policyNow.inboundRefresh) m.expiresAt = this.ctx.clock.now() + this.policyNow.mappingTimeoutMs;
    this.stats.translatedIn++;
    this.lan.route({ ...p, dst: { ...m.internal }, ttl: p.ttl - 1 }, this);
  }

  /** Find or create the mapping for an outbound packet, refresh it and remember the remote. */
  private outbound(p: Packet): Mapping | undefined {
    const { mapping, filtering, mappingTimeoutMs, portAllocation, portRange } = this.policyNow;
    const key = mappingKey(mapping, p.proto, p.src, p.dst);
    let m = this.byKey.get(key);
    if (m && this.expired(m)) m = undefined;
    if (!m) {
      const port = allocatePort({
        allocation: portAllocation,
        preferred: p.src.port,
        range: portRange,
        cursor: this.cursor,
        inUse: (q) => {
          const held = this.byPort.get(q);
          return !!held && !this.expired(held);
        },
        rng: this.rng,
      });
      if (port === undefined) return undefined;
      this.cursor = port + 1;
      m = { key, internal: { ...p.src }, port, permits: new Set(), expiresAt: 0 };
      this.byKey.set(key, m);
      this.byPort.set(port, m);
      this.stats.mappingsCreated++;
      this.ctx.mapped(p, this.name, endpointKey({ address: this.externalAddress, port }));
    }
    m.expiresAt = this.ctx.clock.now() + mappingTimeoutMs;
    m.permits.add(filterKey(filtering, p.dst));
    return m;
  }

  /** True (and forgets it) when `m` has timed out. */
  private expired(m: Mapping): boolean {
    if (this.ctx.clock.now() < m.expiresAt) return false;
    if (this.byKey.get(m.key) === m) {
      this.byKey.delete(m.key);
      this.byPort.delete(m.port);
      this.stats.mappingsExpired++;
    }
    return true;
  }
}
