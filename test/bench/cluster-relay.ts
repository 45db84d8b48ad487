/**
 * Relay frames per second within one node and between two nodes of a cluster (Redis pub/sub),
 * in the same run, alternating (docs/performance.md, "Cluster relay"). Needs redis-server.
 * Run: npm run build && node dist/test/bench/cluster-relay.js [frames] [payload bytes]
 */
import { performance } from 'node:perf_hooks';
import { StreamPeer } from '../relay/support/stream-peer.js';
import { MsgType } from '../../common/wire/constants.js';
import { member, mirrors, startNode, until } from '../cluster/support.js';
import type { Node } from '../cluster/support.js';
import { HAVE_REDIS, NO_REDIS_REASON, RedisProcess } from '../support/redis.js';

const FRAMES = Number(process.argv[2] ?? 20_000);
const PAYLOAD = Number(process.argv[3] ?? 512);
/** Frames in flight at most: the receiver's queue never drops one (slow_consumer would skew it). */
const WINDOW = 256;

/** Limits out of the way: this measures the forwarding path, not the per-peer buckets. */
const OPEN = {
  relayRateFrames: 10_000_000,
  relayBurstFrames: 10_000_000,
  relayRateBytes: 1_073_741_824,
  relayBurstBytes: 1_073_741_824,
  relayQueueBytes: 1_073_741_824,
};

async function run(from: StreamPeer, to: StreamPeer): Promise<number> {
  const start = to.relayedIn;
  const payload = new Uint8Array(PAYLOAD).fill(1);
  const t0 = performance.now();
  let sent = 0;
  while (to.relayedIn - start < FRAMES) {
    while (sent < FRAMES && sent - (to.relayedIn - start) < WINDOW) {
      from.relay(to.id, payload);
      sent++;
    }
    await to.waitFor(() => to.relayedIn - start >= Math.min(FRAMES, sent), 30_000);
  }
  return FRAMES / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  if (!HAVE_REDIS) {
    console.log(NO_REDIS_REASON);
    return;
  }
  const redis = new RedisProcess();
  const nodes: Node[] = [];
  const peers: StreamPeer[] = [];
  try {
    await redis.start();
    nodes.push(await startNode(redis, 'a', OPEN), await startNode(redis, 'b', OPEN));
    const [a, b] = nodes as [Node, Node];
    const alice = await member(a, 'r', 'alice', peers);
    const carol = await member(a, 'r', 'carol', peers);
    const bob = await member(b, 'r', 'bob', peers);
    await until(() => mirrors(a, bob), 10_000, 'a mirroring bob');
    await alice.connect(carol.id);
    await alice.connect(bob.id);
    // b remembers the pair before it hands bob his INTRODUCE.
    await until(() => bob.inbox.some((m) => m.type === MsgType.INTRODUCE), 10_000, 'bob introduced');
    for (let round = 1; round <= 3; round++) {
      const local = await run(alice, carol);
      const cross = await run(alice, bob);
      console.log(
        `round ${round}: ${PAYLOAD}-byte frames/s  one node ${local.toFixed(0)}  across two nodes ${cross.toFixed(0)}  (${(cross / local).toFixed(2)}x)`,
      );
    }
  } finally {
    for (const p of peers) p.close();
    await Promise.all(nodes.map((n) => n.server.close()));
    redis.close();
  }
}

await main();
