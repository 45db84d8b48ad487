import { isIPv4 } from 'node:net';
import type { TimerHandle } from '../../clock.js';
import { badArgument, PunchlineError, timeout } from '../../errors.js';
import { connectAttempt, type ConnectAttempt } from '../connect-attempt.js';
import type { MessageStream, StreamConnectOptions } from '../stream.js';
import type { Endpoint } from '../types.js';
import type { SimContext } from './context.js';
import { SimStream } from './stream.js';
import { Path, route, type Hop, type StreamHost, type StreamNat } from './stream-path.js';

/** A connection attempt to an unreachable address gives up after this (TCP SYN retries). */
export const SIM_CONNECT_TIMEOUT_MS = 10_000;

function parseUrl(url: string): Endpoint {
  const m = /^wss?:\/\/([^/:]+|\[[^\]]+\]):(\d+)(\/.*)?$/.exec(url);
  if (!m || !isIPv4(m[1]!)) throw badArgument(`the simulated network needs ws://IPv4:PORT/..., got ${url}`);
  return { address: m[1]!, port: Number(m[2]) };
}

/** What one connection attempt has set up so far, and how to undo it. */
interface Attempt {
  readonly ctx: SimContext;
  readonly host: StreamHost;
  readonly url: string;
  readonly dst: Endpoint;
  readonly a: ConnectAttempt<MessageStream>;
  /** Run `fn` after `ms` of virtual time, unless the attempt has settled by then. */
  readonly later: (ms: number, fn: () => void) => void;
  /** Undo the port and NAT mappings, until a connection owns them. */
  readonly cleanup: (() => void)[];
  client?: SimStream;
}

/**
 * Open a connection from `host` to `url` (stream.ts has the model). Resolves after two round trips
 * (TCP handshake, then the WebSocket upgrade); the server's onStream runs after 1.5.
 */
export function simConnect(
  ctx: SimContext,
  host: StreamHost,
  url: string,
  opts: StreamConnectOptions,
): Promise<MessageStream> {
  let dst: Endpoint;
  try {
    dst = parseUrl(url);
  } catch (e) {
    return Promise.reject(e as Error);
  }
  return connectAttempt<MessageStream>(opts.signal, (a) => {
    const timers: TimerHandle[] = [];
    a.onSettled(() => {
      for (const t of timers) ctx.clock.clearTimeout(t);
    });
    const later = (ms: number, fn: () => void): void => void timers.push(ctx.clock.setTimeout(fn, ms));
    const at: Attempt = { ctx, host, url, dst, a, later, cleanup: [] };
    a.onFail((e) => {
      // Once the server has its end, a reset tears both down (and releases the path).
      if (at.client) at.client.terminate(e.message);
      else for (const c of at.cleanup) c();
    });
    const r = route(host, dst.address);
    if (!r.ok && r.why === 'no-route') {
      later(SIM_CONNECT_TIMEOUT_MS, () => {
        ctx.streams.timeouts++;
        a.fail(timeout(`connect ${url}: no route (gave up after ${SIM_CONNECT_TIMEOUT_MS} ms)`));
      });
      return;
    }
    const opened = openPath(at, r.ok ? r : undefined);
    if (!opened) return;
    later(opened.path.baseRtt() * 1.5, () => reachListener(at, opened, r.ok ? r.target : undefined, opts));
  });
}

/** The connection's path and its source as the server sees it, once the NATs on the way have mapped it. */
interface OpenedPath {
  readonly path: Path;
  readonly up: Hop[];
  readonly down: Hop[];
  /** The outermost NAT's mapping (or the client itself): the server's view of the client. */
  readonly seen: Endpoint;
  readonly localPort: number;
}

/** Take a local port and a TCP mapping in each NAT on the route; undefined when that failed (the attempt too). */
function openPath(
  at: Attempt,
  r: { target: StreamHost; up: Hop[]; nats: StreamNat[] } | undefined,
): OpenedPath | undefined {
  const { host, dst, url, a } = at;
  const clientAddress = host.currentAddress ?? '127.0.0.1';
  const localPort = host.allocateTcpPort();
  if (localPort === undefined) {
    a.fail(new PunchlineError('IO', `no ephemeral TCP port left on ${host.name}`));
    return undefined;
  }
  at.cleanup.push(() => host.releaseTcpPort(localPort));
  const local: Endpoint = {
    address: dst.address.startsWith('127.') ? '127.0.0.1' : clientAddress,
    port: localPort,
  };
  // Outbound through each NAT: a TCP mapping for the connection's life.
  let seen: Endpoint = local;
  const checks: (() => boolean)[] = [];
  const startAddress = host.currentAddress;
  checks.push(() => host.currentAddress === startAddress);
  if (r) {
    for (const nat of r.nats) {
      const inside = seen;
      const ext = nat.openStreamMapping(inside, dst);
      if (!ext) {
        a.fail(new PunchlineError('IO', `connect ${url}: NAT ${nat.name} is out of ports`));
        return undefined;
      }
      at.cleanup.push(() => nat.closeStreamMapping(ext.port, inside));
      const natAddress = nat.externalAddress;
      checks.push(() => nat.hasStreamMapping(ext.port) && nat.externalAddress === natAddress);
      seen = ext;
    }
    const target = r.target;
    const targetAddress = target.currentAddress;
    if (target !== host) checks.push(() => target.currentAddress === targetAddress);
  }
  const up = r ? r.up : [];
  const down = [...up].reverse().map((h) => ({ link: h.link, dir: h.dir === 'up' ? 'down' : 'up' }) as Hop);
  return { path: new Path(up, down, checks), up, down, seen, localPort };
}

/**
 * The SYN reaches the server's host (1.5 round trips in: the TCP handshake and the upgrade
 * request): refused, turned away by admission, or accepted, and the client's end opens half a
 * round trip later.
 */
function reachListener(
  at: Attempt,
  p: OpenedPath,
  target: StreamHost | undefined,
  opts: StreamConnectOptions,
): void {
  const { ctx, host, url, dst, a, later } = at;
  const rtt = p.path.baseRtt();
  const listener = target?.tcpListener(dst.address, dst.port);
  if (!listener) {
    ctx.streams.refused++;
    // The RST travels back: refused after one round trip in all (this runs at 1.5).
    return later(0, () => a.fail(new PunchlineError('IO', `connect ${url}: ECONNREFUSED`)));
  }
  if (listener.opts.admit && !listener.opts.admit(p.seen)) {
    ctx.streams.refused++;
    return later(rtt / 2, () => a.fail(new PunchlineError('IO', `${url}: server answered HTTP 429`)));
  }
  const rngC = ctx.rng(`stream:${host.name}:${p.localPort}:c`);
  const rngS = ctx.rng(`stream:${host.name}:${p.localPort}:s`);
  const c = new SimStream(dst, ctx, p.path, rngC, 'client');
  at.client = c;
  const server = new SimStream(p.seen, ctx, p.path, rngS, 'server');
  c.other = server;
  server.other = c;
  c.hops = p.up;
  server.hops = p.down;
  server.maxMessageBytes = listener.opts.maxMessageBytes ?? Infinity;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    listener.accepted.delete(server);
    for (const c of at.cleanup) c();
  };
  c.onRelease = release;
  server.onRelease = release;
  listener.accepted.add(server);
  ctx.streams.connects++;
  if (listener.opts.pingIntervalMs) server.startPing(listener.opts.pingIntervalMs);
  listener.onStream(server);
  later(rtt / 2, () => {
    if (a.settled) return;
    if (opts.idleTimeoutMs) c.startIdleCheck(opts.idleTimeoutMs);
    a.open(c);
  });
}
