import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SystemClock } from '../../common/clock.js';
import { generateIdentity } from '../../common/identity/identity.js';
import { nodeNetwork } from '../../common/net/udp-node.js';
import { MsgType } from '../../common/wire/constants.js';
import { decode } from '../../common/wire/messages.js';
import type { Cookie } from '../../common/wire/messages.js';
import { RendezvousServer } from '../../rendezvous/server.js';
import type { ReplyContext } from '../../rendezvous/reply.js';
import { rawRegister } from '../support/raw-register.js';

/**
 * Registrations per GiB of one node (docs/self-hosting.md "Capacity"): N members registered over
 * UDP through the server's own dispatch (RendezvousServer.handle: HELLO, COOKIE, a signed
 * REGISTER, the registry, the node-local binding with its auth channel, the room's presence),
 * without sockets, so what grows is the server's state per member and nothing of a load client's.
 * Rooms of 100. RSS and heap are read after a forced GC, before and after. A WebSocket member
 * costs its connection on top (the relay figures in docs/performance.md).
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const ROOM_SIZE = 100;

function settle(): { rss: number; heap: number } {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

export async function registrationsBench(
  n = Number(process.env.BENCH_REGISTRATIONS ?? 20_000),
): Promise<void> {
  const server = new RendezvousServer(
    { maxIdsPerIp: 1_000_000, registerRate: 1_000_000, registerBurst: 1_000_000 },
    { network: nodeNetwork, clock: new SystemClock() },
  );
  const before = settle();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    // Loopback addresses, one per member (nothing is sent: the replies go nowhere).
    const from = { address: `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 40_000 };
    let answer: Uint8Array | undefined;
    const ctx: ReplyContext = { from, transport: 'udp', reply: (b) => void (answer = b) };
    const txid = new Uint8Array(8).fill(i & 255);
    server.handle({ type: MsgType.HELLO, txid }, ctx, new Uint8Array(0));
    const cookie = decode(answer!) as Cookie;
    const reg = rawRegister(generateIdentity(), cookie, txid, {
      room: `room-${Math.floor(i / ROOM_SIZE)}`,
      name: `m${i % ROOM_SIZE}`,
    });
    const register = decode(reg.bytes);
    server.handle(register, { ...ctx, reply: () => undefined }, reg.bytes);
  }
  const ms = performance.now() - t0;
  const after = settle();
  const members = server.registry.size;
  const perRss = (after.rss - before.rss) / members;
  const perHeap = (after.heap - before.heap) / members;
  const GiB = 1024 ** 3;
  console.log(
    JSON.stringify({
      bench: 'registrations',
      members,
      seconds: +(ms / 1000).toFixed(1),
      rssBytesPerMember: Math.round(perRss),
      heapBytesPerMember: Math.round(perHeap),
      membersPerGiBRss: Math.round(GiB / perRss),
      membersPerGiBHeap: Math.round(GiB / perHeap),
    }),
  );
  await server.close();
}

if (import.meta.url === `file://${process.argv[1]}`)
  void registrationsBench(Number(process.argv[2] ?? 20_000));
