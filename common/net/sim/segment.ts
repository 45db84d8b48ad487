import { badArgument } from '../../errors.js';
import type { SimContext } from './context.js';
import type { Link } from './link.js';
import type { Packet } from './packet.js';

/** Something attached to a segment by an access link: a host, or a NAT's outside interface. */
export interface SimNode {
  readonly name: string;
  readonly link: Link;
  /** A packet addressed to this node arrived over its access link. */
  receiveFromUplink(p: Packet): void;
}

/** A NAT's inside interface: where a LAN sends what is not for one of its own members. */
export interface Gateway {
  readonly name: string;
  receiveFromInside(p: Packet): void;
}

export interface SegmentOptions {
  /** The NAT this LAN hangs off; the internet has none. */
  gateway?: Gateway;
  /** The gateway's own address on this LAN (nothing listens there). */
  gatewayAddress?: string;
  /**
   * "a.b.c." of the /24 used for automatic addresses. On a LAN it is also the on-link prefix: a
   * packet for an unused address in it is lost on the LAN instead of going to the gateway.
   */
  prefix: string;
}

/**
 * One broadcast domain: the internet, or the LAN behind a NAT. Members are found by exact
 * address; on a LAN anything off-link goes to the gateway. Packets cross the sender's access link
 * on the way in ("up") and the receiver's on the way out ("down").
 */
export class Segment {
  private readonly members = new Map<string, SimNode>();
  private nextHost = 1;

  constructor(
    readonly name: string,
    private readonly ctx: SimContext,
    private readonly opts: SegmentOptions,
  ) {
    if (opts.gatewayAddress !== undefined) this.nextHost = 2;
  }

  get prefix(): string {
    return this.opts.prefix;
  }

  /** The node attached at `address`, if any. */
  member(address: string): SimNode | undefined {
    return this.members.get(address);
  }

  /** The NAT this LAN hangs off (undefined for the internet). */
  get gateway(): Gateway | undefined {
    return this.opts.gateway;
  }

  has(address: string): boolean {
    return this.members.has(address) || address === this.opts.gatewayAddress;
  }

  /** Attach `node` at `address` (or the next free address in the prefix). Returns the address. */
  attach(node: SimNode, address?: string): string {
    const a = address ?? this.freeAddress();
    if (this.has(a)) throw badArgument(`address ${a} is already in use on ${this.name}`);
    this.members.set(a, node);
    return a;
  }

  detach(address: string): void {
    this.members.delete(address);
  }

  /** Route a packet that is now on this segment. `from` is whoever put it there. */
  route(p: Packet, from: SimNode | Gateway): void {
    const dst = p.dst.address;
    const target = this.members.get(dst);
    if (target && target !== from) {
      this.ctx.transmit(target.link, 'down', p, (q) => target.receiveFromUplink(q));
      return;
    }
    const { gateway, gatewayAddress, prefix } = this.opts;
    if (dst === gatewayAddress) return this.ctx.drop(p, 'no-listener', this.name);
    if (gateway && from !== gateway && !target && !dst.startsWith(prefix)) {
      gateway.receiveFromInside(p);
      return;
    }
    this.ctx.drop(p, 'no-route', this.name);
  }

  private freeAddress(): string {
    for (; this.nextHost <= 254; this.nextHost++) {
      const a = `${this.opts.prefix}${this.nextHost}`;
      if (!this.has(a)) return a;
    }
    throw badArgument(`no free address left on ${this.name}`);
  }
}

/** Where a node sits: its segment and its address there. */
export interface Attachment {
  readonly segment: Segment;
  readonly address: string;
}
