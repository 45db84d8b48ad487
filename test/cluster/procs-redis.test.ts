/**
 * Redis killed and started again (empty, on the same socket) under a running cluster of real
 * processes: the nodes go on serving their own members (a relayed chat between two members of one
 * node goes on), /healthz says degraded, and when Redis is back the nodes write their members
 * again and read the others': presence and names are cluster-wide again with nothing restarted
 * (docs/architecture.md, Cluster; docs/self-hosting.md, a cluster of nodes).
 */
import { describe, expect, it } from 'vitest';
import { HAVE_REDIS, NO_REDIS_REASON } from '../support/redis.js';
import { Talk, healthz, metric, poll, presenceIs, texts, useCluster } from './procs-support.js';

const suite = HAVE_REDIS ? describe : describe.skip;
if (!HAVE_REDIS) console.warn(NO_REDIS_REASON);

const cluster = useCluster();

suite('cluster of processes: redis-server stopped and started again', () => {
  it('a chat within a node goes on, /healthz degraded, then presence and names across nodes recover', async () => {
    const n1 = await cluster.node('n1');
    const n2 = await cluster.node('n2');
    // alice and frank on n1, talking through n1's relay; bob on n2.
    const alice = cluster.chat('alice', [n1, n2], '--relay-only');
    const frank = cluster.chat('frank', [n1, n2], '--relay-only');
    const bob = cluster.chat('bob', [n2, n1]);
    await presenceIs(alice, ['bob', 'frank']);
    await presenceIs(frank, ['alice', 'bob']);
    await presenceIs(bob, ['alice', 'frank']);
    const talk = new Talk({ proc: alice, name: 'alice' }, { proc: frank, name: 'frank' });
    talk.start();
    await talk.delivered(10, { a: 0, b: 0 }, 20_000);
    const at = { alice: alice.json.length, frank: frank.json.length, bob: bob.json.length };

    const redis = cluster.redis();
    redis.stop();
    for (const n of [n1, n2])
      await poll(async () => (await healthz(n)).status === 'degraded', 15_000, `${n.id} degraded`);
    expect(String((await healthz(n1)).reason)).toMatch(/^redis: /);
    expect(await metric(n1, 'punchline_cluster_redis_up')).toBe(0);
    // The chat on n1 goes on while Redis is away.
    await talk.delivered(20, talk.mark(), 30_000);
    expect((await healthz(n1)).status).toBe('degraded');

    await redis.start(); // the same socket, empty (no persistence)
    for (const n of [n1, n2])
      await poll(async () => (await healthz(n)).status === 'ok', 30_000, `${n.id} ok again`);
    await talk.delivered(10, talk.mark(), 30_000);
    await talk.finish(30_000);
    expect(texts(frank, 'alice')).toEqual(talk.sentBy(talk.a));
    expect(texts(alice, 'frank')).toEqual(talk.sentBy(talk.b));

    // Each node holds its own members and mirrors the other's again.
    await poll(
      async () =>
        (await metric(n1, 'punchline_cluster_members{held="mirrored"}')) === 1 &&
        (await metric(n2, 'punchline_cluster_members{held="mirrored"}')) === 2,
      30_000,
      'members mirrored again',
    );
    // Presence across nodes: a newcomer on n2 is seen on n1, and n1's members on n2.
    const carol = cluster.chat('carol', [n2, n1]);
    await presenceIs(carol, ['alice', 'bob', 'frank']);
    await presenceIs(alice, ['bob', 'carol', 'frank']);
    await presenceIs(bob, ['alice', 'carol', 'frank']);
    // Names are cluster-wide again: alice's name (held on n1) is refused at n2.
    const thief = cluster.chat('alice', [n2, n1]);
    expect(await thief.event((e) => e.event === 'error')).toMatchObject({ code: 'NAME_TAKEN' });

    // Nothing moved and nobody was told anyone left, all along.
    for (const [p, from] of [
      [alice, at.alice],
      [frank, at.frank],
      [bob, at.bob],
    ] as const) {
      expect(p.json.slice(from).filter((e) => e.event === 'server-changed')).toEqual([]);
      const lists = p.json.slice(from).filter((e) => e.event === 'presence');
      // A leave and a join again of members of the other node would show as a shorter list.
      for (const e of lists)
        expect(
          (e.peers as { name: string }[]).map((x) => x.name).length,
          JSON.stringify(lists),
        ).toBeGreaterThanOrEqual(2);
    }
    expect(alice.json.slice(at.alice).filter((e) => e.event === 'disconnected')).toEqual([]);
  }, 120_000);
});
