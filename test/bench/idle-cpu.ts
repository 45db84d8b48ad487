/**
 * Idle CPU of a chat client with N open sessions, on loopback (docs/performance.md, "Idle
 * client"). The parent runs the rendezvous (UDP and relay); one child process holds N peers, a
 * second child (the hub) connects to each of them, sends one message, lets the sessions settle
 * and then measures its own CPU time (process.cpuUsage) over an idle window. Only the hub's
 * process is measured, so the figure is one client's cost for N idle sessions.
 *
 *   node dist/test/bench/idle-cpu.js [sessions=20] [windowMs=60000]
 *
 * Prints one JSON line: {"sessions", "windowMs", "cpuPct"} (percent of one core), "rssMib" (the
 * hub's resident memory at the end of the window), and from the
 * connections made one at a time before: `connectMs` (from the hub's first message to a peer to
 * its arrival there, wall clock, which includes the introduction), its median, and the path
 * each session opened on (`opened`).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SystemClock } from '../../common/clock.js';
import { generateIdentity } from '../../common/identity/identity.js';
import { nodeNetwork } from '../../common/net/udp-node.js';
import { wsStreamNetwork } from '../../common/net/ws-node.js';
import { PeerNode } from '../../peer/peer-node.js';
import { RendezvousServer } from '../../rendezvous/server.js';

const SETTLE_MS = 15_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const say = (o: Record<string, unknown>): void => void process.send?.(o);

async function node(name: string, port: number): Promise<PeerNode> {
  const n = new PeerNode(
    { server: { address: '127.0.0.1', port }, name, room: 'idle', relayUrl: `ws://127.0.0.1:${port}/` },
    {
      network: nodeNetwork,
      streams: wsStreamNetwork,
      clock: new SystemClock(),
      identity: generateIdentity(),
    },
  );
  await n.start();
  return n;
}

/** Wall-clock ms comparable across the processes of one machine, sub-millisecond. */
const stamp = (): number => performance.timeOrigin + performance.now();

/** Child: `n` peers that answer and say when each first message arrived; they run until ended. */
async function peers(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const p = await node(`p${i}`, port);
    p.on('message', () => say({ event: 'arrived', peer: `p${i}`, at: stamp() }));
  }
  say({ event: 'ready' });
}

/** Child: the hub connects to every peer, then measures its own CPU while idle. */
async function hub(port: number, n: number, windowMs: number): Promise<void> {
  const h = await node('hub', port);
  const names = Array.from({ length: n }, (_, i) => `p${i}`);
  while (h.peerList().length < n) await sleep(100);
  let delivered = 0;
  h.on('delivered', () => void delivered++);
  const opened: string[] = [];
  h.on('connected', (c) => void opened.push(c.path));
  // One connection at a time (connect to first message, measured at the peer), then idle.
  for (const p of names) {
    say({ event: 'sent', peer: p, at: stamp() });
    h.sendMessage(p, 'hi');
    const want = delivered + 1;
    while (delivered < want) await sleep(5);
    await sleep(100);
  }
  await sleep(SETTLE_MS);
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  await sleep(windowMs);
  const d = process.cpuUsage(t0);
  const ms = performance.now() - w0;
  const paths = h.peerList().map((p) => p.state);
  const rssMib = Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;
  say({ event: 'done', cpuPct: ((d.user + d.system) / 1000 / ms) * 100, rssMib, paths, opened });
  await h.close();
  process.exit(0);
}

function child(args: string[]): {
  next: (event: string) => Promise<Record<string, unknown>>;
  kill: () => void;
} {
  const c = fork(fileURLToPath(import.meta.url), args, { stdio: 'inherit' });
  const queue: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  c.on('message', (m) => {
    queue.push(m as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  return {
    next: async (event) => {
      for (;;) {
        const i = queue.findIndex((m) => m.event === event);
        if (i >= 0) return queue.splice(i, 1)[0]!;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    kill: () => void c.kill(),
  };
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 20);
  const windowMs = Number(process.argv[3] ?? 60_000);
  const server = new RendezvousServer(
    { host: '127.0.0.1', port: 0, altPort: 0, maxConnsPerIp: 4 * n, maxIdsPerIp: 4 * n, connectBurst: 4 * n },
    { network: nodeNetwork, streamNetwork: wsStreamNetwork, clock: new SystemClock() },
  );
  const { port } = await server.start();
  const p = child(['peers', String(port), String(n)]);
  await p.next('ready');
  const h = child(['hub', String(port), String(n), String(windowMs)]);
  const done = await h.next('done');
  const connectMs: number[] = [];
  for (let i = 0; i < n; i++) {
    const sent = await h.next('sent');
    const arrived = await p.next('arrived');
    if (sent.peer === arrived.peer)
      connectMs.push(Math.round(((arrived.at as number) - (sent.at as number)) * 10) / 10);
  }
  connectMs.sort((x, y) => x - y);
  p.kill();
  await server.close();
  const median = connectMs[Math.floor(connectMs.length / 2)];
  process.stdout.write(
    JSON.stringify({ sessions: n, windowMs, ...done, event: undefined, median, connectMs }) + '\n',
  );
}

const role = process.argv[2];
if (role === 'peers') void peers(Number(process.argv[3]), Number(process.argv[4]));
else if (role === 'hub') void hub(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
else
  main().catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  });
