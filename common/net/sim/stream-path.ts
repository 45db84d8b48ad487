import type { MessageStream, StreamListenOptions } from '../stream.js';
import type { Endpoint } from '../types.js';
import type { Link, LinkDirection } from './link.js';
import type { Rng } from './random.js';
import type { Segment } from './segment.js';

/*
 * Where a simulated TCP connection runs (stream.ts has the model): the hops it crosses, the NATs
 * and hosts on its way as the stream layer sees them, and the route between two hosts.
 */

/** One access link crossed in one direction. */
export interface Hop {
  readonly link: Link;
  readonly dir: LinkDirection;
}

/** A NAT as the stream layer needs it (nat.ts). */
export interface StreamNat {
  readonly name: string;
  readonly link: Link;
  readonly lan: Segment;
  readonly upstream: Segment | undefined;
  readonly externalAddress: string;
  /** A TCP mapping for one connection: the external endpoint, or undefined when ports run out. */
  openStreamMapping(internal: Endpoint, remote: Endpoint): Endpoint | undefined;
  hasStreamMapping(port: number): boolean;
  closeStreamMapping(port: number, internal: Endpoint): void;
}

/** A host as the stream layer needs it (host.ts). */
export interface StreamHost {
  readonly name: string;
  readonly link: Link;
  readonly segment: Segment | undefined;
  /** The interface address, or undefined when detached. */
  readonly currentAddress: string | undefined;
  allocateTcpPort(): number | undefined;
  releaseTcpPort(port: number): void;
  tcpListener(address: string, port: number): SimStreamListener | undefined;
}

export interface SimStreamListener {
  readonly onStream: (s: MessageStream) => void;
  readonly opts: StreamListenOptions;
  /** The server ends it accepted and has not seen close (closed when the listener closes). */
  readonly accepted: Set<MessageStream>;
}

/** The path of one connection, and whether everything it relies on still holds. */
export class Path {
  dead = false;
  constructor(
    readonly up: Hop[],
    readonly down: Hop[],
    private readonly checks: (() => boolean)[],
  ) {}
  alive(): boolean {
    if (!this.dead && !this.checks.every((c) => c())) this.dead = true;
    return !this.dead;
  }
  delay(hops: Hop[], rng: Rng): number {
    let d = 0;
    for (const h of hops) {
      const c = h.link[h.dir];
      d += c.delayMs + rng.next() * c.jitterMs;
    }
    return d;
  }
  baseRtt(): number {
    let d = 0;
    for (const h of [...this.up, ...this.down]) d += h.link[h.dir].delayMs;
    return d;
  }
}

const isNat = (n: unknown): n is StreamNat => typeof (n as StreamNat).openStreamMapping === 'function';
const isHost = (n: unknown): n is StreamHost => typeof (n as StreamHost).tcpListener === 'function';

/**
 * The route from `from` to `address`, found by walking up through the NATs until a segment holds
 * the address. Returns the connection's path pieces, or a reason it cannot be made.
 */
export function route(
  from: StreamHost,
  address: string,
):
  | { ok: true; target: StreamHost; up: Hop[]; nats: StreamNat[] }
  | { ok: false; why: 'no-route' | 'refused' } {
  if (address.startsWith('127.') || address === from.currentAddress)
    return { ok: true, target: from, up: [], nats: [] };
  let seg = from.segment;
  if (!seg) return { ok: false, why: 'no-route' };
  const up: Hop[] = [{ link: from.link, dir: 'up' }];
  const nats: StreamNat[] = [];
  for (let depth = 0; depth < 16; depth++) {
    const member = seg.member(address);
    if (member && isHost(member)) {
      up.push({ link: member.link, dir: 'down' });
      return { ok: true, target: member, up, nats };
    }
    if (member) return { ok: false, why: 'refused' }; // a NAT's own address: nothing listens there
    const gw: unknown = seg.gateway;
    if (!gw || !isNat(gw) || address.startsWith(seg.prefix) || !gw.upstream)
      return { ok: false, why: 'no-route' };
    nats.push(gw);
    up.push({ link: gw.link, dir: 'up' });
    seg = gw.upstream;
  }
  return { ok: false, why: 'no-route' };
}
