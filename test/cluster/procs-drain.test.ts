/**
 * A node of the cluster drained (SIGTERM, rendezvous/drain.ts) under running chats, with real
 * processes: three `punchline rendezvous --redis` nodes, a relay-only chat (a on n1, b on n2) and
 * a direct one (c on n1, d on n3), each side writing every 100 ms. n1 is told to stop: it exits 0
 * once its members have moved, long before its --drain-ms; a and c move to n2 at once
 * (`server-changed`, reason `draining`, not the failover timeouts); the relayed chat goes on
 * through n2 with every message once, in order; the direct chat is untouched; b and d list a and
 * c throughout.
 *
 * CLUSTER_DRAIN_RUNS=5 repeats it and prints the times (docs/performance.md, "Cluster failover");
 * the suite runs it once. Nothing here is judged on the wall clock but the bounded waits.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Proc } from '../support/proc.js';
import { HAVE_REDIS, NO_REDIS_REASON } from '../support/redis.js';
import { Talk, presenceIs, rotated, summary, texts, useCluster } from './procs-support.js';

const suite = HAVE_REDIS ? describe : describe.skip;
if (!HAVE_REDIS) console.warn(NO_REDIS_REASON);

const RUNS = Number(process.env.CLUSTER_DRAIN_RUNS ?? 1);
const cluster = useCluster();

/** Far above how long the moves take: n1 exiting proves it did not wait for the bound. */
const DRAIN_MS = 60_000;

/** ms from the SIGTERM: to a's `server-changed`, to b's first message from a after it. */
const figures = { changed: [] as number[], message: [] as number[] };
afterAll(() => {
  if (RUNS > 1)
    console.log(
      `cluster drain, relay-only chat: SIGTERM -> server-changed ${summary(figures.changed)}; SIGTERM -> first message after the move ${summary(figures.message)}`,
    );
});

/** `x` says hello to `y` and waits until their session is on `path`. */
async function open(x: Proc, y: Proc, yName: string, path: 'relay' | 'direct'): Promise<void> {
  x.send({ cmd: 'send', peer: yName, text: 'hello' });
  await x.event((e) => e.event === 'delivered', 20_000);
  if ((await x.event((e) => e.event === 'connected')).path !== path)
    await x.event((e) => e.event === 'path' && e.path === path, 20_000);
  await y.event((e) => e.event === 'message');
}

/** Every message of `talk` once, in order, one receipt each, on both sides (after a 'hello' from a). */
function allOnce(talk: Talk): void {
  expect(texts(talk.b.proc, talk.a.name)).toEqual(['hello', ...talk.sentBy(talk.a)]);
  expect(texts(talk.a.proc, talk.b.name)).toEqual(talk.sentBy(talk.b));
  for (const p of [talk.a.proc, talk.b.proc]) {
    const ids = p.events((e) => e.event === 'delivered').map((e) => e.id);
    expect(new Set(ids).size, 'one receipt per message').toBe(ids.length);
  }
}

const SESSION_EVENTS = ['path', 'connected', 'disconnected'];

suite('cluster of processes: a node drained under chats', () => {
  for (let run = 0; run < RUNS; run++)
    it(`its members move at once, the relayed chat goes on, the direct one untouched (run ${run + 1})`, async () => {
      const nodes = [
        await cluster.node('n1', '--drain-ms', String(DRAIN_MS)),
        await cluster.node('n2'),
        await cluster.node('n3'),
      ];
      const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
      const a = cluster.chat('a', rotated(nodes, 0), '--relay-only');
      const b = cluster.chat('b', rotated(nodes, 1), '--relay-only');
      const c = cluster.chat('c', rotated(nodes, 0));
      const d = cluster.chat('d', rotated(nodes, 2));
      const all = { a, b, c, d };
      for (const [name, p] of Object.entries(all))
        await presenceIs(
          p,
          Object.keys(all).filter((x) => x !== name),
        );
      await open(a, b, 'b', 'relay');
      await open(c, d, 'd', 'direct');

      const relayed = new Talk({ proc: a, name: 'a' }, { proc: b, name: 'b' });
      const direct = new Talk({ proc: c, name: 'c' }, { proc: d, name: 'd' });
      relayed.start();
      direct.start();
      await relayed.delivered(10, { a: 1, b: 0 }, 20_000);
      await direct.delivered(10, { a: 1, b: 0 }, 20_000);
      const at = { a: a.json.length, b: b.json.length, c: c.json.length, d: d.json.length };
      const t0 = Date.now();
      n1.proc.child.kill('SIGTERM');

      const changedA = await a.event((e) => e.event === 'server-changed', 20_000, at.a);
      const changedMs = Date.now() - t0;
      const afterMove = b.json.length;
      await b.event((e) => e.event === 'message' && e.from === 'a', 20_000, afterMove);
      const messageMs = Date.now() - t0;
      const changedC = await c.event((e) => e.event === 'server-changed', 20_000, at.c);
      for (const e of [changedA, changedC])
        expect(e).toMatchObject({ server: n2.addr, previous: n1.addr, reason: 'draining' });

      // n1 exits by itself, 0, with nobody left: long before DRAIN_MS.
      const code = await Promise.race([
        n1.proc.exited,
        new Promise<'still running'>((r) => setTimeout(() => r('still running'), DRAIN_MS / 2)),
      ]);
      expect(code).toBe(0);
      expect(n1.proc.stderr).toMatch(/"msg":"drained".*"left":0/);

      await relayed.delivered(10, relayed.mark(), 40_000);
      await direct.delivered(10, direct.mark(), 40_000);
      await relayed.finish(40_000);
      await direct.finish(40_000);
      figures.changed.push(changedMs);
      figures.message.push(messageMs);

      allOnce(relayed);
      allOnce(direct);
      // Same sessions throughout: no new one, no move of a path, no peer reported gone.
      for (const [name, p] of Object.entries(all))
        expect(
          p.json.slice(at[name as keyof typeof at]).filter((e) => SESSION_EVENTS.includes(String(e.event))),
          `${name}'s session events`,
        ).toEqual([]);
      // Only the members of n1 moved, and only once each.
      for (const [p, from] of [
        [a, at.a],
        [c, at.c],
      ] as const)
        expect(p.json.slice(from).filter((e) => e.event === 'server-changed').length).toBe(1);
      for (const p of [b, d]) expect(p.events((e) => e.event === 'server-changed')).toEqual([]);
      // b and d were never told a or c left (each moved, keeping its name).
      for (const [name, p] of [
        ['b', b],
        ['d', d],
      ] as const)
        for (const e of p.json.slice(at[name]).filter((x) => x.event === 'presence'))
          expect(
            (e.peers as { name: string }[]).map((x) => x.name),
            `${name}'s presence`,
          ).toEqual(expect.arrayContaining(['a', 'c']));
      await presenceIs(b, ['a', 'c', 'd']);
      await presenceIs(d, ['a', 'b', 'c']);
    }, 150_000);
});
