/**
 * One side of a symmetric-NAT lab run (test/bench/nat.ts), inside a lab namespace. argv[2] is a
 * JSON object {role, ...}; the worker prints JSON lines on stdout and its debug log on stderr:
 *
 *   testnet:    a hyperdht testnet on `host` (the lab internet), BENCH_NAT_TESTNET nodes (10,
 *               hyperdht's default size; with 3 nodes every holepunch in this lab aborted within
 *               0.1 s, 4 of 4 runs: a puncher samples its NAT against up to 4 nodes); {"event":"ready",bootstrap}.
 *   pl-server:  a PeerNode registered with the rendezvous (UDP and the ws relay) whose NAT port
 *               behaviour is measured; {"event":"ready",nat}; then it holds.
 *   pl-client:  the same, then, once `peer` is present: the clock starts at connect(peer) and
 *               stops at the first 'path' (or 'connected') event naming path 'direct';
 *               {"event":"direct",ms,remote,relayMs} or {"event":"timeout",relayMs} after limitMs.
 *   dht-server: a hyperdht node bootstrapped on the testnet, a server listening on the fixed
 *               key pair; {"event":"ready"}; each connection {"event":"incoming",remote}.
 *   dht-client: a node bootstrapped (not counted); the clock starts at connect(publicKey) and stops
 *               at the encrypted stream's 'open'; {"event":"direct",ms,remote} with the UDX stream's
 *               remote address, or {"event":"timeout"} / {"event":"failed",message}.
 *
 * The worker exits when its stdin closes (the parent died) or on SIGTERM. Every wait is bounded.
 */
import { SystemClock } from '../../common/clock.js';
import { generateIdentity } from '../../common/identity/identity.js';
import { createLogger } from '../../common/log.js';
import { nodeNetwork } from '../../common/net/udp-node.js';
import { wsStreamNetwork } from '../../common/net/ws-node.js';
import { PeerNode } from '../../peer/peer-node.js';
import { createTestnet, DHT, dhtKeyPair, type DhtStream, until } from './transport-systems.js';

export interface NatWorkerArgs {
  role: 'testnet' | 'pl-server' | 'pl-client' | 'dht-server' | 'dht-client';
  /** The rendezvous (punchline) or the testnet's host (hyperdht). */
  host: string;
  port?: number;
  name?: string;
  peer?: string;
  bootstrap?: { host: string; port: number }[];
  limitMs?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as NatWorkerArgs;
const limitMs = args.limitMs ?? 20_000;
const out = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
const hold = (): Promise<void> => new Promise(() => {});

/** A PeerNode on the rendezvous and its relay, registered on both, its NAT measured. */
async function peerNode(): Promise<PeerNode> {
  const node = new PeerNode(
    {
      server: { address: args.host, port: args.port! },
      name: args.name!,
      room: 'natbench',
      relayUrl: `ws://${args.host}:${args.port}/`,
    },
    {
      network: nodeNetwork,
      streams: wsStreamNetwork,
      clock: new SystemClock(),
      identity: generateIdentity(),
      logger: createLogger('debug', { name: args.name }),
    },
  );
  const registered = new Set<string>();
  node.on('registered', (e) => registered.add(e.transport));
  await node.start();
  await until(() => registered.has('udp') && registered.has('ws'), 10_000, 'registered on udp and ws');
  await until(() => node.natBehaviour.kind !== 'unknown', 5_000, 'NAT port behaviour measured');
  return node;
}

async function plServer(): Promise<void> {
  const node = await peerNode();
  node.on('path', (e) => out({ event: 'path', path: e.path, remote: e.remote }));
  out({ event: 'ready', nat: node.natBehaviour });
  await hold();
}

async function plClient(): Promise<void> {
  const node = await peerNode();
  await until(() => node.peerList().some((p) => p.name === args.peer), 15_000, `${args.peer} present`);
  // The server peer told the rendezvous its NAT before it said ready; give the NAT_INFO a
  // moment to be recorded before the introduction that carries it.
  await new Promise((r) => setTimeout(r, 200));
  out({ event: 'ready', nat: node.natBehaviour });
  let relayMs: number | undefined;
  let direct: { ms: number; remote: string } | undefined;
  const t0 = performance.now();
  const seen = (path: string, remote: string): void => {
    const ms = performance.now() - t0;
    if (path === 'relay') relayMs ??= ms;
    else if (path === 'direct') direct ??= { ms, remote };
  };
  node.on('connected', (e) => seen(e.path, e.remote));
  node.on('path', (e) => seen(e.path, e.remote));
  node.connect(args.peer!).catch(() => {});
  await until(() => direct !== undefined, limitMs, 'direct path').catch(() => {});
  out(direct ? { event: 'direct', ...direct, relayMs } : { event: 'timeout', relayMs });
  await hold();
}

async function dhtServer(): Promise<void> {
  const node = new DHT({ bootstrap: args.bootstrap });
  await node.fullyBootstrapped();
  const server = node.createServer((s: DhtStream) => {
    s.on('error', () => {});
    out({ event: 'incoming', remote: udxRemote(s), ...dhtInfo(node) });
  });
  await server.listen(dhtKeyPair());
  out({ event: 'ready', ...dhtInfo(node) });
  await hold();
}

/** What the node learnt of its NAT (public address as sampled, port 0 = randomized) and its punch counts. */
function dhtInfo(node: unknown): Record<string, unknown> {
  const n = node as {
    firewalled?: boolean;
    randomized?: boolean;
    port?: number;
    host?: string;
    stats?: { punches?: unknown };
  };
  const pub = `${n.host}:${n.port}`;
  return { firewalled: n.firewalled, randomized: n.randomized, public: pub, punches: n.stats?.punches };
}

/** hyperdht's holepunch requests through the relay node, and how each ended (its abort error hides the first). */
function traceHolepunch(node: unknown): string[] {
  const trace: string[] = [];
  const router = (node as { _router: { peerHolepunch: (...a: unknown[]) => Promise<unknown> } })._router;
  const orig = router.peerHolepunch.bind(router);
  const t0 = performance.now();
  const at = (): string => `${Math.round(performance.now() - t0)} ms`;
  router.peerHolepunch = async (...a: unknown[]) => {
    const peer = (a[1] as { peerAddress?: { host: string; port: number } }).peerAddress;
    const relay = a[2] as { host: string; port: number } | undefined;
    trace.push(`${at()} holepunch via ${relay?.host}:${relay?.port} to ${peer?.host}:${peer?.port}`);
    try {
      return await orig(...a);
    } catch (e) {
      trace.push(`${at()} holepunch failed: ${String((e as Error).message)}`);
      throw e;
    }
  };
  return trace;
}

/** The address the UDX stream under an encrypted hyperdht stream talks to. */
function udxRemote(s: DhtStream): string {
  const raw = s.rawStream as { remoteHost?: string; remotePort?: number } | undefined | null;
  return raw ? `${raw.remoteHost}:${raw.remotePort}` : 'none';
}

async function dhtClient(): Promise<void> {
  const node = new DHT({ bootstrap: args.bootstrap });
  await node.fullyBootstrapped();
  out({ event: 'ready' });
  const trace = traceHolepunch(node);
  let result: Record<string, unknown> | undefined;
  const t0 = performance.now();
  const s = node.connect(dhtKeyPair().publicKey);
  s.on(
    'error',
    (e: Error) =>
      (result ??= { event: 'failed', message: e.message, stack: e.stack, ms: performance.now() - t0 }),
  );
  s.once('open', () => (result ??= { event: 'direct', ms: performance.now() - t0, remote: udxRemote(s) }));
  await until(() => result !== undefined, limitMs, 'open').catch(() => {});
  out({ ...(result ?? { event: 'timeout' }), ...dhtInfo(node), trace });
  await hold();
}

async function testnet(): Promise<void> {
  const tn = await createTestnet(Number(process.env.BENCH_NAT_TESTNET ?? 10), { host: args.host });
  out({ event: 'ready', bootstrap: tn.bootstrap });
  await hold();
}

const roles: Record<NatWorkerArgs['role'], () => Promise<void>> = {
  testnet,
  'pl-server': plServer,
  'pl-client': plClient,
  'dht-server': dhtServer,
  'dht-client': dhtClient,
};

process.once('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
roles[args.role]().catch((e: unknown) => {
  out({ event: 'error', message: String((e as Error).stack ?? e) });
  process.exit(1);
});
