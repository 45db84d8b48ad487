/**
 * Benchmark clients, run in their own process (child_process) so the server's numbers are its
 * own. Modes (argv[2] is a JSON object, see run.ts):
 *   idle:  connect `peers` WebSockets (and register each, for the relay) and hold them.
 *   load:  `pairs` peer pairs keep `window` small frames each in flight: every frame received is
 *          answered with one more (relay: RELAY to the partner; echo: the same bytes back).
 * Reports JSON lines on stdout: {"event":"ready",...}, {"event":"window",...}, {"event":"error",...}.
 * Connections come from many 127/8 source addresses (`perIp` each), so the relay's per-IP limit
 * stays at its default.
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { WsMessageStream } from '../../common/net/ws-stream.js';
import { MsgType } from '../../common/wire/constants.js';
import { encodeRelayFrame } from '../../common/wire/messages.js';
import { StreamPeer } from '../relay/support/stream-peer.js';

interface Args {
  mode: 'idle' | 'load';
  target: 'relay' | 'echo';
  url: string;
  peers?: number;
  pairs?: number;
  window?: number;
  payload?: number;
  warmupMs?: number;
  windowMs?: number;
  perIp?: number;
  concurrency?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const perIp = args.perIp ?? 10;
const out = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
const sourceIp = (i: number): string => {
  const k = Math.floor(i / perIp);
  return `127.2.${Math.floor(k / 254)}.${(k % 254) + 1}`;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A client WebSocket. Masking key all zeros (RFC 6455 lets the client pick any key; it only
 * matters against caching proxies), so ws skips the XOR and the load generator spends its CPU on
 * sending and receiving, not masking. The same for the baseline and the relay.
 */
function rawWs(i: number): Promise<{ ws: WebSocket; socket: Duplex }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(args.url, {
      perMessageDeflate: false,
      localAddress: sourceIp(i),
      generateMask: () => {},
    });
    let socket: Duplex | undefined;
    ws.once('upgrade', (res) => (socket = res.socket));
    ws.once('open', () => resolve({ ws, socket: socket! }));
    ws.once('error', reject);
  });
}

/** The same write coalescing the server's streams do (WsMessageStream): one write per tick. */
function corkingSender(ws: WebSocket, socket: Duplex): (data: Uint8Array) => void {
  let corked = false;
  return (data) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(() => {
        corked = false;
        socket.uncork();
      });
    }
    ws.send(data);
  };
}

async function relayPeer(i: number, room: string): Promise<StreamPeer> {
  const u = new URL(args.url);
  const { ws, socket } = await rawWs(i);
  const s = new WsMessageStream(ws, { address: u.hostname, port: Number(u.port) }, { socket });
  const p = new StreamPeer(s, undefined, undefined, false);
  await p.register(room, `p${i}`, 30_000);
  return p;
}

/** Run `make(i)` for i < n with at most `c` in flight. */
async function waves<T>(n: number, c: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const outv: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(c, n) }, async () => {
      while (next < n) {
        const i = next++;
        outv[i] = await make(i);
      }
    }),
  );
  return outv;
}

async function idle(): Promise<void> {
  const n = args.peers ?? 10_000;
  const t0 = Date.now();
  const held =
    args.target === 'echo'
      ? await waves(n, args.concurrency ?? 256, (i) => rawWs(i))
      : await waves(n, args.concurrency ?? 256, (i) => relayPeer(i, `room${i >> 1}`));
  out({ event: 'ready', peers: held.length, ms: Date.now() - t0, rss: process.memoryUsage.rss() });
  // Hold them until the parent ends us.
  await new Promise(() => {});
}

async function load(): Promise<void> {
  const pairs = args.pairs ?? 100;
  const n = pairs * 2;
  const windowFrames = args.window ?? 32;
  const size = args.payload ?? 64;
  let received = 0;
  let sends: (() => void)[];
  let stopped = false;
  const stopAll = [(): void => void (stopped = true)];
  if (args.target === 'echo') {
    // The same bytes on the wire as a RELAY frame of `size` payload.
    const msg = new Uint8Array(size + 20);
    const conns = await waves(n, 64, (i) => rawWs(i));
    sends = conns.map(({ ws, socket }) => {
      const send = corkingSender(ws, socket);
      ws.on('message', (data) => {
        received++;
        if (!stopped) send(data as Buffer);
      });
      return () => send(msg);
    });
  } else {
    const ps = await waves(n, 64, (i) => relayPeer(i, `room${i >> 1}`));
    await Promise.all(ps.filter((_, i) => i % 2 === 0).map((p, k) => p.connect(ps[2 * k + 1]!.id, 30_000)));
    const payload = new Uint8Array(size);
    for (let i = 0; i < n; i++) {
      const p = ps[i]!;
      const partner = ps[i ^ 1]!.id;
      p.onRelayed = () => {
        received++;
        if (!stopped) p.send(encodeRelayFrame(MsgType.RELAY, partner, payload));
      };
    }
    sends = ps.map((p, i) => () => p.send(encodeRelayFrame(MsgType.RELAY, ps[i ^ 1]!.id, payload)));
  }
  out({ event: 'ready', peers: n });
  for (let k = 0; k < windowFrames; k++) for (const s of sends) s();
  await sleep(args.warmupMs ?? 1500);
  const start = received;
  const t0 = performance.now();
  out({ event: 'window-start' });
  await sleep(args.windowMs ?? 5000);
  const frames = received - start;
  const ms = performance.now() - t0;
  // Stop generating, report, and idle until the parent has read the server's counters and ends us.
  for (const s of stopAll) s();
  out({ event: 'window-end', frames, ms, perSec: (frames * 1000) / ms });
  await new Promise(() => {});
}

(args.mode === 'idle' ? idle() : load()).catch((e: unknown) => {
  out({ event: 'error', message: String((e as Error).stack ?? e) });
  process.exit(1);
});
