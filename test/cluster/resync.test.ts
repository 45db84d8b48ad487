import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../common/wire/bytes.js';
import { MsgType } from '../../common/wire/constants.js';
import type { StreamPeer } from '../relay/support/stream-peer.js';
import { HAVE_REDIS, NO_REDIS_REASON, RedisProcess } from '../support/redis.js';
import { member, mirrors, startNode, until } from './support.js';
import type { Node } from './support.js';

const suite = HAVE_REDIS ? describe : describe.skip;
if (!HAVE_REDIS) console.warn(NO_REDIS_REASON);

/** Times `peer` was told `id` left its room. */
const leaves = (peer: StreamPeer, id: string): number =>
  peer.inbox.filter(
    (m) =>
      m.type === MsgType.PRESENCE_DELTA && m.entries.some((e) => toHex(e.id) === id && e.name === undefined),
  ).length;

suite('rendezvous cluster: the reload after a Redis restart', () => {
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

  it('drops a member that left during the outage, and no other, once its node had time to announce its own', async () => {
    await redis.start();
    const a = await startNode(redis, 'a');
    nodes.push(a);
    const b = await startNode(redis, 'b');
    nodes.push(b);
    const alice = await member(a, 'r', 'alice', peers);
    const bob = await member(b, 'r', 'bob', peers);
    const carol = await member(b, 'r', 'carol', peers);
    await until(() => mirrors(a, bob) && mirrors(a, carol) && mirrors(b, alice), 10_000, 'mirrors');

    redis.stop();
    await until(() => !a.server.clusterNode!.health().up, 10_000, 'a noticing redis is gone');
    bob.close(); // b cannot tell anyone: Redis is away
    await until(() => b.server.registry.get(bob.idHex) === undefined, 10_000, 'b dropping bob');
    expect(mirrors(a, bob)).toBe(true);

    await redis.start(); // empty
    // a drops bob, whom b never announces again; carol, announced again by b, was never dropped.
    await until(() => a.server.registry.get(bob.idHex) === undefined, 10_000, 'a dropping bob');
    await until(() => leaves(alice, bob.idHex) === 1, 10_000, 'alice told bob left');
    expect(mirrors(a, carol)).toBe(true);
    expect(leaves(alice, carol.idHex)).toBe(0);
  });
});
