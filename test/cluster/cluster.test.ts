import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { toHex } from '../../common/wire/bytes.js';
import { MsgType } from '../../common/wire/constants.js';
import type { Message } from '../../common/wire/messages.js';
import { StreamPeer } from '../relay/support/stream-peer.js';
import { wsPeer } from '../relay/support/ws-server.js';
import { IoRedisLink } from '../../rendezvous/cluster/redis-link.js';
import { parseRedisUrl } from '../../rendezvous/cluster/redis-url.js';
import { keys } from '../../rendezvous/cluster/shared.js';
import { HAVE_REDIS, NO_REDIS_REASON, RedisProcess } from '../support/redis.js';
import { GRACE_MS, member, mirrors, startNode, until } from './support.js';
import type { Node } from './support.js';

const suite = HAVE_REDIS ? describe : describe.skip;
if (!HAVE_REDIS) console.warn(NO_REDIS_REASON);

/** A delta or list told `peer` that `id` is in its room (joined), or left (gone). */
const told = (peer: StreamPeer, id: string, what: 'joined' | 'gone'): boolean =>
  peer.inbox.some(
    (m: Message) =>
      (what === 'joined' && m.type === MsgType.PRESENCE && m.members.some((x) => toHex(x.id) === id)) ||
      (m.type === MsgType.PRESENCE_DELTA &&
        m.entries.some((e) => toHex(e.id) === id && (e.name === undefined) === (what === 'gone'))),
  );

suite('rendezvous cluster: nodes sharing one redis-server', () => {
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

  async function node(id: string, options = {}, clock?: VirtualClock): Promise<Node> {
    const n = await startNode(redis, id, options, clock);
    nodes.push(n);
    return n;
  }

  it('presence crosses nodes, a name is held cluster-wide, CONNECT introduces both sides across nodes', async () => {
    await redis.start();
    const a = await node('a');
    const b = await node('b');
    const alice = await member(a, 'r', 'alice', peers);
    await until(() => mirrors(b, alice), 10_000, 'b mirroring alice');
    const bob = await member(b, 'r', 'bob', peers);
    // bob's full list names alice (mirrored on b); alice hears of bob by delta from a.
    await until(() => told(bob, alice.idHex, 'joined'), 10_000, 'bob told of alice');
    await until(() => told(alice, bob.idHex, 'joined'), 10_000, 'alice told of bob');
    expect(a.server.registry.get(bob.idHex)?.node).toBe('b');

    // The same name on either node, by another key: NAME_TAKEN (by the Redis key on a, and on b).
    await expect(member(a, 'r', 'alice', peers)).rejects.toThrow(/taken/);
    await expect(member(b, 'r', 'bob', peers)).rejects.toThrow(/taken/);
    expect(a.server.stats.refused.name_taken + b.server.stats.refused.name_taken).toBe(2);

    // CONNECT on a for bob (held by b): alice gets her INTRODUCE from a, bob his from b.
    const intro = await alice.connect(bob.id);
    expect(toHex(intro.id)).toBe(bob.idHex);
    await until(
      () => bob.inbox.some((m) => m.type === MsgType.INTRODUCE && toHex(m.id) === alice.idHex),
      10_000,
      'bob introduced to alice by b',
    );
    const toBob = bob.inbox.find((m) => m.type === MsgType.INTRODUCE)!;
    expect(toBob.type === MsgType.INTRODUCE && toHex(toBob.introId)).toBe(toHex(intro.introId));
    expect(b.server.stats.introductions).toBe(0); // a made it; b only delivered its half
    expect(a.server.stats.introductions).toBe(1);
  });

  it('a name held only in Redis (in no registry of a node) is refused: the claim is the cluster-wide check', async () => {
    await redis.start();
    const a = await node('a');
    // Another member holds "zed" in room r through its key alone, as a node whose 'up' is still on its way.
    const other = new IoRedisLink(parseRedisUrl(redis.url));
    try {
      other.subscribe(['pl:test']);
      await until(() => other.up, 10_000, 'test link');
      expect(await other.claim([keys.name('r', 'zed')], 'cd'.repeat(16), 60_000)).toBe(true);
    } finally {
      await other.close();
    }
    await expect(member(a, 'r', 'zed', peers)).rejects.toThrow(/taken/);
    expect(a.server.registry.size).toBe(0);
    // Another room is another name.
    await member(a, 'r2', 'zed', peers);
  });

  it('a member registering on another node moves there; leaving there reaches the first node', async () => {
    await redis.start();
    const a = await node('a');
    const b = await node('b');
    const alice = await member(a, 'r', 'alice', peers);
    const frank = await member(a, 'r', 'frank', peers);
    await until(() => mirrors(b, alice), 10_000, 'b mirroring alice');
    // The same identity registers on b (its client failed over): b holds it now, a mirrors it.
    const moved = new StreamPeer((await wsPeer(b.url)).stream, alice.identity);
    peers.push(moved);
    await moved.register('r', 'alice');
    await until(() => a.server.registry.get(alice.idHex)?.node === 'b', 10_000, 'a mirroring alice from b');
    expect(b.server.registry.get(alice.idHex)?.node).toBeUndefined();
    expect(told(frank, alice.idHex, 'gone')).toBe(false); // she never left the room
    // Her name stayed hers across the move: another key still cannot take it on a.
    await expect(member(a, 'r', 'alice', peers)).rejects.toThrow(/taken/);
    // She leaves from b (her stream closes): a drops her and frank is told.
    moved.close();
    await until(() => a.server.registry.get(alice.idHex) === undefined, 10_000, 'a dropping alice');
    await until(() => told(frank, alice.idHex, 'gone'), 10_000, 'frank told alice left');
    // And the name is free again, cluster-wide.
    await member(a, 'r', 'alice', peers);
  });

  it('relay frames cross nodes both ways; drops are counted by reason on the node that drops', async () => {
    await redis.start();
    const a = await node('a');
    // b takes smaller frames: a forwards a 600-byte payload, b drops it (too_big) and counts it.
    const b = await node('b', { relayMaxFrame: 512 });
    const alice = await member(a, 'r', 'alice', peers);
    const bob = await member(b, 'r', 'bob', peers);
    const carol = await member(b, 'r', 'carol', peers);
    await until(() => mirrors(a, bob) && mirrors(a, carol) && mirrors(b, alice), 10_000, 'mirrors');
    await alice.connect(bob.id);
    // b remembers the pair before it sends bob his half of the introduction.
    await until(() => bob.inbox.some((m) => m.type === MsgType.INTRODUCE), 10_000, 'bob introduced on b');

    for (let i = 0; i < 20; i++) alice.relay(bob.id, new Uint8Array(100).fill(i));
    await until(() => bob.relayedIn === 20, 10_000, 'bob receiving 20 frames from a');
    for (let i = 0; i < 10; i++) bob.relay(alice.id, new Uint8Array(100).fill(i));
    await until(() => alice.relayedIn === 10, 10_000, 'alice receiving 10 frames from b');
    expect(a.server.clusterNode!.stats.framesForwarded).toBe(20);
    expect(b.server.clusterNode!.stats.framesFromNodes).toBe(20);
    expect(b.server.relayStats.framesRelayed).toBe(20);

    // Not introduced: a drops it before it leaves (sender's rule).
    alice.relay(carol.id, new Uint8Array(10));
    // Too big for b: a forwards it (its limit is 1400), b drops it (receiver's rule).
    alice.relay(bob.id, new Uint8Array(600));
    await until(() => b.server.relayStats.dropped.too_big === 1, 10_000, 'b dropping too_big');
    expect(a.server.relayStats.dropped.not_introduced).toBe(1);
    expect(a.server.clusterNode!.stats.framesForwarded).toBe(21);
    expect(carol.relayedIn).toBe(0);
    const metrics = await (await fetch(`${b.http}/metrics`)).text();
    expect(metrics).toContain('punchline_cluster_relay_frames_total{direction="in"} 21');
    expect(metrics).toContain('punchline_relay_dropped_total{reason="too_big"} 1');
    expect(metrics).toContain('punchline_cluster_nodes 2');
  });

  it('a node that stops beating is dead after the grace: its members leave presence on the others', async () => {
    await redis.start();
    const a = await node('a');
    // c's clock never moves after start: it beats once (when it reaches Redis), never again.
    const c = await node('c', {}, new VirtualClock());
    const alice = await member(a, 'r', 'alice', peers);
    const erin = await member(c, 'r', 'erin', peers);
    await until(() => mirrors(a, erin), 10_000, 'a mirroring erin');
    await until(() => told(alice, erin.idHex, 'joined'), 10_000, 'alice told of erin');
    const at = Date.now();
    await until(() => a.server.registry.get(erin.idHex) === undefined, 10_000, 'a dropping erin');
    expect(Date.now() - at).toBeGreaterThanOrEqual(GRACE_MS / 2); // not dropped before the grace
    await until(() => told(alice, erin.idHex, 'gone'), 10_000, 'alice told erin left');
    expect(a.logs.some((l) => l.msg === 'cluster node silent, its members dropped' && l.node === 'c')).toBe(
      true,
    );
  });

  it('redis stopped and restarted: local members keep working, /healthz degraded, then recovery with no restart', async () => {
    await redis.start();
    const a = await node('a');
    const b = await node('b');
    const alice = await member(a, 'r', 'alice', peers);
    const frank = await member(a, 'r', 'frank', peers);
    const bob = await member(b, 'r', 'bob', peers);
    await until(() => mirrors(b, alice) && mirrors(a, bob), 10_000, 'mirrors');
    await alice.connect(bob.id);

    redis.stop();
    await until(() => !a.server.clusterNode!.health().up, 10_000, 'a noticing redis is gone');
    const res = await fetch(`${a.http}/healthz`);
    expect(res.status).toBe(200); // degraded, still serving
    const health = (await res.json()) as Record<string, unknown>;
    expect(health.status).toBe('degraded');
    expect(String(health.reason)).toMatch(/^redis: /);
    // Local members still work: an introduction between two members of a.
    const intro = await frank.connect(alice.id);
    expect(toHex(intro.id)).toBe(alice.idHex);
    // A registration goes on, its name checked against a's own view; claimed when Redis returns.
    const gina = await member(a, 'r', 'gina', peers);
    // Mirrored members stay while a cannot hear (nobody is judged dead by a deaf node).
    expect(mirrors(a, bob)).toBe(true);
    // A frame for bob cannot leave: dropped (no_route) and counted as a Redis error, not queued.
    const errors = a.server.clusterNode!.stats.redisErrors;
    alice.relay(bob.id, new Uint8Array(10));
    await until(() => a.server.relayStats.dropped.no_route === 1, 10_000, 'a dropping the frame');
    // Counted as a Redis error (a heartbeat failing meanwhile may count one more).
    expect(a.server.clusterNode!.stats.redisErrors).toBeGreaterThanOrEqual(errors + 1);
    expect(a.server.clusterNode!.stats.framesForwarded).toBe(0);

    await redis.start(); // empty: --save '' and no AOF
    await until(
      () => a.server.clusterNode!.health().up && b.server.clusterNode!.health().up,
      15_000,
      'reconnect',
    );
    // Each node wrote its members again and reloaded the others'.
    await until(() => mirrors(b, alice) && mirrors(b, frank) && mirrors(a, bob), 10_000, 'mirrors again');
    const after = (await (await fetch(`${a.http}/healthz`)).json()) as Record<string, unknown>;
    expect(after.status).toBe('ok');
    expect(a.logs.filter((l) => l.msg === 'redis unavailable')).toHaveLength(1);
    expect(a.logs.filter((l) => l.msg === 'redis available')).toHaveLength(2);
    // gina's name, taken during the outage, is claimed in Redis now: another key cannot have it.
    const probe = new IoRedisLink(parseRedisUrl(redis.url));
    try {
      probe.subscribe(['pl:test']);
      await until(() => probe.up, 10_000, 'test link');
      await until(() => mirrors(b, gina), 10_000, 'b mirroring gina');
      expect(await probe.claim([keys.name('r', 'gina')], 'cd'.repeat(16), 60_000)).toBe(false);
    } finally {
      await probe.close();
    }
    // Names are held in Redis again: bob's name on a, by another key, is refused.
    await expect(member(a, 'r', 'bob', peers)).rejects.toThrow(/taken/);
  });
});
