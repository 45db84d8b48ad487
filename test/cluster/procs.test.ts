/**
 * The cluster as shipped: three real `punchline rendezvous --redis unix://... --node-id nK`
 * processes sharing one redis-server, and real `punchline chat --json` peers, each listing the
 * nodes in another order so that they register on different nodes (docs/architecture.md,
 * Cluster; docs/cli.md, Several servers). Loopback only; runs dist/ (`npm run build` first).
 */
import { describe, expect, it } from 'vitest';
import { HAVE_REDIS, NO_REDIS_REASON } from '../support/redis.js';
import { metric, presenceIs, rotated, useCluster } from './procs-support.js';

const suite = HAVE_REDIS ? describe : describe.skip;
if (!HAVE_REDIS) console.warn(NO_REDIS_REASON);

const cluster = useCluster();

suite('cluster of three rendezvous processes', () => {
  it('presence across nodes, a direct and a relayed chat across nodes, NAME_TAKEN across nodes', async () => {
    const nodes = [await cluster.node('n1'), await cluster.node('n2'), await cluster.node('n3')];
    const names = ['p1', 'p2', 'p3'];
    const peers = names.map((name, i) => cluster.chat(name, rotated(nodes, i)));
    // Each peer is held by the first node of its list: one local member on each node.
    for (const [i, p] of peers.entries())
      await presenceIs(
        p,
        names.filter((_, k) => k !== i),
      );
    for (const n of nodes) {
      expect(await metric(n, 'punchline_cluster_members{held="local"}'), n.id).toBe(1);
      expect(await metric(n, 'punchline_cluster_members{held="mirrored"}'), n.id).toBe(2);
    }

    // p1 (on n1) and p2 (on n2): the session ends up on the punched path, loopback to loopback.
    const [p1, p2] = peers as [(typeof peers)[0], (typeof peers)[0]];
    p1.send({ cmd: 'send', peer: 'p2', text: 'across nodes, direct' });
    expect(await p2.event((e) => e.event === 'message')).toMatchObject({
      from: 'p1',
      text: 'across nodes, direct',
    });
    await p1.event((e) => e.event === 'delivered');
    const c1 = await p1.event((e) => e.event === 'connected');
    if (c1.path !== 'direct') await p1.event((e) => e.event === 'path' && e.path === 'direct');
    p2.send({ cmd: 'send', peer: 'p1', text: 'and back' });
    expect(await p1.event((e) => e.event === 'message')).toMatchObject({ from: 'p2', text: 'and back' });
    p1.send({ cmd: 'stats', peer: 'p2' });
    expect(await p1.event((e) => e.event === 'stats')).toMatchObject({ path: 'direct' });

    // Two relay-only peers in another room, on n3 and n1: the frames cross nodes over Redis.
    const r3 = cluster.chat('r3', rotated(nodes, 2), '--relay-only', '--room', 'relayed');
    const r1 = cluster.chat('r1', rotated(nodes, 0), '--relay-only', '--room', 'relayed');
    await presenceIs(r3, ['r1']);
    await presenceIs(r1, ['r3']);
    r3.send({ cmd: 'send', peer: 'r1', text: 'through the relay of two nodes' });
    expect(await r1.event((e) => e.event === 'message')).toMatchObject({
      from: 'r3',
      text: 'through the relay of two nodes',
    });
    await r3.event((e) => e.event === 'delivered');
    expect(await r3.event((e) => e.event === 'connected')).toMatchObject({ path: 'relay', remote: 'relay' });
    r1.send({ cmd: 'send', peer: 'r3', text: 'reply' });
    expect(await r3.event((e) => e.event === 'message')).toMatchObject({ from: 'r1', text: 'reply' });
    expect(r3.events((e) => e.event === 'path')).toEqual([]);
    // n3 handed r3's frames to n1 (and n1 r1's to n3): each forwarded some, each received some.
    for (const n of [nodes[0]!, nodes[2]!]) {
      expect(await metric(n, 'punchline_cluster_relay_frames_total{direction="out"}'), n.id).toBeGreaterThan(
        0,
      );
      expect(await metric(n, 'punchline_cluster_relay_frames_total{direction="in"}'), n.id).toBeGreaterThan(
        0,
      );
    }

    // A second key taking p2's name (held on n2) at n3 and at n1: refused, both times.
    for (const i of [2, 0]) {
      const thief = cluster.chat('p2', rotated(nodes, i));
      expect(await thief.event((e) => e.event === 'error')).toMatchObject({ code: 'NAME_TAKEN' });
      expect(thief.events((e) => e.event === 'registered')).toEqual([]);
    }
    // p2 still holds it: the others still list p2, once.
    await presenceIs(p1, ['p2', 'p3']);
  }, 90_000);
});
