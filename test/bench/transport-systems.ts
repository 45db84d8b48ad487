/**
 * The three transports the transport benchmark compares, behind one small interface: a
 * connection that writes bytes (false: wait for drain) and hands over what arrives.
 *
 *  - punchline: the Session (common/session/session.ts) over real UDP (common/net/udp-node.ts),
 *    one socket per side with sessions routed by connection id, as a peer owns them
 *    (test/session/sim-harness.ts SocketOwner). Keys are fixed (orderedKeys): the benchmark
 *    measures the transport, not the introduction.
 *  - tcp: node:net on loopback, Nagle off (a chat line goes out at once, as on the other two).
 *  - hyperdht: a server announced on a local testnet (hyperdht/testnet.js), one DHT node per side.
 *
 * Used only by the benchmark workers (test/bench/transport-worker.ts).
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { SystemClock } from '../../common/clock.js';
import { NodeUdpSocket } from '../../common/net/udp-node.js';
import { Session } from '../../common/session/session.js';
import { orderedKeys } from '../session/helpers.js';
import { SocketOwner } from '../session/sim-harness.js';

export type System = 'punchline' | 'tcp' | 'hyperdht';
export const SYSTEMS: readonly System[] = ['punchline', 'tcp', 'hyperdht'];

export interface Conn {
  /**
   * Queue bytes. 'sent': queued; 'full': queued, but wait for onDrain before more (a stream's
   * write() returning false); 'refused': not queued, wait for onDrain and write it again (a
   * session's full send buffer).
   */
  write(b: Uint8Array): 'sent' | 'full' | 'refused';
  onData(f: (b: Uint8Array) => void): void;
  onDrain(f: () => void): void;
}

/** Where a listener can be reached: a port (punchline, tcp) or a public key (hyperdht). */
export interface Reach {
  port?: number;
  /** The address to dial (punchline; default 127.0.0.1): the lab's file bench dials through NATs. */
  host?: string;
  publicKey?: string;
  bootstrap?: { host: string; port: number }[];
}

/** What a worker (test/bench/transport-worker.ts) is told to do: argv[2], as JSON. */
export interface WorkerArgs {
  role: 'testnet' | 'chat' | 'bulk-recv' | 'bulk-send' | 'idle-server' | 'idle-client' | 'connect';
  system: System;
  reach?: Reach;
  bootstrap?: Reach['bootstrap'];
  bytes?: number;
  rate?: number;
  size?: number;
  seconds?: number;
  count?: number;
  trials?: number;
  rendezvousPort?: number;
  limitMs?: number;
  /** Where a punchline listener binds (default 127.0.0.1, any port). */
  bind?: { host: string; port: number };
}

export interface Side {
  /** Resolves with `n` open connections. */
  conns: Promise<Conn[]>;
  close(): Promise<void>;
}

// ---- hyperdht, typed as far as the benchmark uses it (a CommonJS package without types) ----

export interface DhtStream extends Duplex {
  rawStream?: unknown;
}
interface DhtServer {
  listen(keyPair: DhtKeyPair): Promise<void>;
  close(): Promise<void>;
}
interface DhtKeyPair {
  publicKey: Buffer;
  secretKey: Buffer;
}
export interface Dht {
  createServer(onConnection: (s: DhtStream) => void): DhtServer;
  connect(publicKey: Buffer): DhtStream;
  fullyBootstrapped(): Promise<void>;
  destroy(): Promise<void>;
}
interface DhtCtor {
  new (opts: { bootstrap: Reach['bootstrap']; host?: string; firewalled?: boolean }): Dht;
  keyPair(seed?: Buffer): DhtKeyPair;
}
const require = createRequire(import.meta.url);
export const DHT = require('hyperdht') as DhtCtor;
export const createTestnet = require('hyperdht/testnet.js') as (
  size: number,
  opts: { host: string },
) => Promise<{ bootstrap: { host: string; port: number }[]; destroy(): Promise<void> }>;

/**
 * A DHT node on the testnet, bootstrapped (not counted in any figure). A server's node says it is
 * not firewalled (on loopback it is reachable, as a server with an open port is): without that
 * the client holepunches between two processes on 127.0.0.1, which aborts (HOLEPUNCH_ABORTED)
 * in about one run of two.
 */
export async function dhtNode(bootstrap: Reach['bootstrap'], server = false): Promise<Dht> {
  const d = new DHT({ bootstrap, host: '127.0.0.1', ...(server ? { firewalled: false } : {}) });
  await d.fullyBootstrapped();
  return d;
}

/** The same key pair in every process, from a fixed seed. */
export const dhtKeyPair = (): DhtKeyPair => DHT.keyPair(Buffer.alloc(32, 7));

function streamConn(s: Duplex): Conn {
  s.on('error', () => {}); // ECONNRESET on teardown is expected
  return {
    write: (b) => (s.write(b) ? 'sent' : 'full'),
    onData: (f) => s.on('data', f),
    onDrain: (f) => s.on('drain', f),
  };
}

function sessionConn(s: Session): Conn {
  return {
    write: (b) => (s.send(b) !== false ? 'sent' : 'refused'),
    onData: (f) => s.on('message', (m) => f(m.data)),
    onDrain: (f) => s.on('writable', f),
  };
}

const opened = (s: Session): Promise<Session> =>
  new Promise((resolve, reject) => {
    s.on('open', () => resolve(s));
    s.on('closed', (c) => reject(new Error(`session closed before open: ${c.reason}`)));
  });

/** One socket, `n` sessions; the dialling side (client) initiates and knows where to send. */
async function punchlineSide(
  n: number,
  to?: number,
  host = '127.0.0.1',
  bind: { host: string; port: number } = { host: '127.0.0.1', port: 0 },
): Promise<{ side: Side; port: number }> {
  const clock = new SystemClock();
  const [ka, kb] = orderedKeys(1);
  const sock = new NodeUdpSocket();
  const { port } = await sock.bind(
    to === undefined ? bind.port : 0,
    to === undefined ? bind.host : '0.0.0.0',
  );
  const owner = new SocketOwner(sock);
  const sessions = Array.from({ length: n }, (_, i) => {
    const [mine, theirs] = to === undefined ? [kb, ka] : [ka, kb];
    const s = new Session(
      {
        staticKey: mine,
        expectedRemoteStatic: theirs.publicKey,
        prologue: new Uint8Array([i >> 8, i & 255]),
      },
      { clock },
    );
    owner.add(s);
    if (to !== undefined) s.setPath(owner.pathTo({ address: host, port: to }));
    s.start();
    return s;
  });
  const conns = Promise.all(sessions.map(opened)).then((ss) => ss.map(sessionConn));
  conns.catch(() => {});
  const close = async (): Promise<void> => {
    for (const s of sessions) s.close();
    await sock.flush();
    sock.close();
  };
  return { side: { conns, close }, port };
}

async function tcpListen(n: number): Promise<{ side: Side; reach: Reach }> {
  const server = net.createServer();
  const got: net.Socket[] = [];
  const conns = new Promise<Conn[]>((resolve) =>
    server.on('connection', (s) => {
      s.setNoDelay(true);
      got.push(s);
      if (got.length === n) resolve(got.map(streamConn));
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const close = async (): Promise<void> => {
    for (const s of got) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return { side: { conns, close }, reach: { port } };
}

async function tcpDial(n: number, port: number): Promise<Side> {
  const socks = Array.from({ length: n }, () => net.connect(port, '127.0.0.1'));
  const conns = Promise.all(
    socks.map(
      (s) =>
        new Promise<Conn>((resolve, reject) => {
          s.setNoDelay(true);
          s.once('connect', () => resolve(streamConn(s)));
          s.once('error', reject);
        }),
    ),
  );
  conns.catch(() => {});
  return { conns, close: async () => void socks.forEach((s) => s.destroy()) };
}

async function dhtListen(n: number, bootstrap: Reach['bootstrap']): Promise<{ side: Side; reach: Reach }> {
  const node = await dhtNode(bootstrap, true);
  const got: DhtStream[] = [];
  const cs: Conn[] = [];
  let resolveAll: (c: Conn[]) => void = () => {};
  const conns = new Promise<Conn[]>((r) => (resolveAll = r));
  const server = node.createServer((s) => {
    got.push(s);
    cs.push(streamConn(s));
    if (cs.length === n) resolveAll(cs);
  });
  const kp = dhtKeyPair();
  await server.listen(kp);
  const close = async (): Promise<void> => {
    for (const s of got) s.destroy();
    await server.close();
    await node.destroy();
  };
  return { side: { conns, close }, reach: { publicKey: kp.publicKey.toString('hex'), bootstrap } };
}

async function dhtDial(n: number, reach: Reach): Promise<Side> {
  const node = await dhtNode(reach.bootstrap, true);
  const streams = Array.from({ length: n }, () => node.connect(Buffer.from(reach.publicKey!, 'hex')));
  const conns = Promise.all(
    streams.map(
      (s) =>
        new Promise<Conn>((resolve, reject) => {
          s.on('error', reject);
          s.once('open', () => resolve(streamConn(s)));
        }),
    ),
  );
  conns.catch(() => {});
  const close = async (): Promise<void> => {
    for (const s of streams) s.destroy();
    await node.destroy();
  };
  return { conns, close };
}

/** Listen for `n` connections; `reach` says how to dial in. */
export async function listen(
  system: System,
  n: number,
  bootstrap?: Reach['bootstrap'],
  bind?: WorkerArgs['bind'],
): Promise<{ side: Side; reach: Reach }> {
  if (system === 'tcp') return tcpListen(n);
  if (system === 'hyperdht') return dhtListen(n, bootstrap);
  const { side, port } = await punchlineSide(n, undefined, undefined, bind);
  return { side, reach: { port } };
}

/** Open `n` connections to a listener. */
export async function dial(system: System, n: number, reach: Reach): Promise<Side> {
  if (system === 'tcp') return tcpDial(n, reach.port!);
  if (system === 'hyperdht') return dhtDial(n, reach);
  return (await punchlineSide(n, reach.port!, reach.host)).side;
}

/**
 * Resolves when `check()` is true (polled every 5 ms; the times are stamped by the events, not by
 * this poll), rejects after `ms`: the bench workers' bounded wait.
 */
export function until(check: () => boolean, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const tick = setInterval(() => {
      if (check()) {
        clearInterval(tick);
        resolve();
      } else if (Date.now() > end) {
        clearInterval(tick);
        reject(new Error(`${what} not within ${ms} ms`));
      }
    }, 5);
  });
}
