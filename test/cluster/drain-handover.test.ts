/**
 * A member leaving a draining cluster node (rendezvous/handover.ts): one that registers at another
 * node is never reported gone to the room there, and the drain ends as soon as that node announced
 * it; one that goes nowhere is reported gone after HANDOVER_MS, and the drain waits for that (so
 * the node does not leave the cluster, dropping the member's record, while it may still arrive).
 * In-process nodes on one redis-server; bounded waits only.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../common/wire/bytes.js';
import { MsgType } from '../../common/wire/constants.js';
import type { Message } from '../../common/wire/messages.js';
import { HANDOVER_MS } from '../../rendezvous/handover.js';
import { StreamPeer } from '../relay/support/stream-peer.js';
import { wsPeer } from '../relay/support/ws-server.js';
import { HAVE_REDIS, NO_REDIS_REASON, RedisProcess } from '../support/redis.js';
import { member, mirrors, startNode, until } from './support.js';
import type { Node } from './support.js';

const suite = HAVE_REDIS ? describe : describe.skip;
if (!HAVE_REDIS) console.warn(NO_REDIS_REASON);

/** Whether `peer` was told `id` left its room (a PRESENCE_DELTA without a name). */
const toldGone = (peer: StreamPeer, id: string): boolean =>
  peer.inbox.some(
    (m: Message) =>
      m.type === MsgType.PRESENCE_DELTA && m.entries.some((e) => toHex(e.id) === id && e.name === undefined),
  );

suite('rendezvous cluster: members leaving a draining node', () => {
  let redis: RedisProcess;
  const nodes: Node[] = [];
  const peers: StreamPeer[] = [];
  beforeAll(() => {
    redis = new RedisProcess();
  });
  afterAll(() => redis?.close());
  afterEach(async () => {
    for (const p of peers.splice(0)) p.stream.close();
    await Promise.all(nodes.splice(0).map((n) => n.server.close()));
    redis.stop();
  });
  async function twoNodes(): Promise<Node[]> {
    await redis.start();
    for (const id of ['a', 'b']) nodes.push(await startNode(redis, id));
    return nodes;
  }

  it('one that moves to another node: never gone for the room there; the drain ends once it arrived', async () => {
    const [a, b] = await twoNodes();
    const alice = await member(a!, 'r', 'alice', peers);
    const frank = await member(b!, 'r', 'frank', peers);
    await until(() => mirrors(b!, alice), 10_000, 'b mirroring alice');
    const drained = a!.server.drain(60_000);
    alice.close(); // her stream closes (as a client told GOING_AWAY does), then she registers at b
    const moved = new StreamPeer((await wsPeer(b!.url)).stream, alice.identity);
    peers.push(moved);
    await moved.register('r', 'alice');
    const r = await drained;
    expect(r.left).toBe(0);
    // Ended by her arrival at b, not by the hold running out.
    expect(a!.server.handovers.counts).toEqual({ arrived: 1, expired: 0 });
    expect(b!.server.registry.get(alice.idHex)?.node).toBeUndefined(); // b holds her
    expect(toldGone(frank, alice.idHex)).toBe(false);
  });

  it('one that goes nowhere: gone for the room after HANDOVER_MS, and the drain waited for it', async () => {
    const [a, b] = await twoNodes();
    const alice = await member(a!, 'r', 'alice', peers);
    const frank = await member(b!, 'r', 'frank', peers);
    await until(() => mirrors(b!, alice), 10_000, 'b mirroring alice');
    const drained = a!.server.drain(60_000);
    alice.close();
    const r = await drained;
    expect(r.left).toBe(0);
    expect(r.waitedMs).toBeGreaterThanOrEqual(HANDOVER_MS);
    expect(a!.server.handovers.counts).toEqual({ arrived: 0, expired: 1 });
    await until(() => toldGone(frank, alice.idHex), 10_000, 'frank told alice left');
    expect(b!.server.registry.get(alice.idHex)).toBeUndefined();
  }, 30_000);
});
