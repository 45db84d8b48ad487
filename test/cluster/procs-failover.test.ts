/**
 * A node of the cluster killed (SIGKILL, no goodbye) under a running chat, with real processes:
 * three `punchline rendezvous --redis` nodes, two `punchline chat --json` peers on different
 * nodes writing to each other without pause. The peer held by the killed node moves to the next
 * node of its `--server` list (`server-changed`); a relayed chat goes on through that node, a
 * direct one untouched; every message arrives once, in order, on both sides.
 *
 * CLUSTER_FAILOVER_RUNS=5 repeats each case and prints the failover times (docs/performance.md,
 * "Cluster failover"); the suite runs each once. Nothing here is judged on the wall clock but the
 * bounded waits.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Json, Proc } from '../support/proc.js';
import { HAVE_REDIS, NO_REDIS_REASON } from '../support/redis.js';
import { Talk, metric, poll, presenceIs, rotated, summary, texts, useCluster } from './procs-support.js';
import type { NodeProc } from './procs-support.js';

const suite = HAVE_REDIS ? describe : describe.skip;
if (!HAVE_REDIS) console.warn(NO_REDIS_REASON);

const RUNS = Number(process.env.CLUSTER_FAILOVER_RUNS ?? 1);
const cluster = useCluster();

/** Failover times per case, ms from the SIGKILL: to `server-changed`, to the first message after. */
const figures: Record<string, { changed: number[]; message: number[] }> = {};
afterAll(() => {
  if (RUNS > 1)
    for (const [name, f] of Object.entries(figures))
      console.log(
        `cluster failover, ${name}: kill -> server-changed ${summary(f.changed)}; kill -> first message ${summary(f.message)}`,
      );
});

/** a on n1, b on n2 (each the first of its list); both see each other; the chat opened on `path`. */
async function pair(
  path: 'relay' | 'direct',
  extra: string[],
): Promise<{ nodes: NodeProc[]; a: Proc; b: Proc }> {
  const nodes = [await cluster.node('n1'), await cluster.node('n2'), await cluster.node('n3')];
  const a = cluster.chat('a', rotated(nodes, 0), ...extra);
  const b = cluster.chat('b', rotated(nodes, 1), ...extra);
  await presenceIs(a, ['b']);
  await presenceIs(b, ['a']);
  a.send({ cmd: 'send', peer: 'b', text: 'hello' });
  await a.event((e) => e.event === 'delivered', 20_000);
  if ((await a.event((e) => e.event === 'connected')).path !== path)
    await a.event((e) => e.event === 'path' && e.path === path, 20_000);
  await b.event((e) => e.event === 'message');
  return { nodes, a, b };
}

/**
 * Talk, kill n1 (a's node) after 10 receipts each way, go on until 10 more each way after a's
 * move and 10 more after the other nodes judged n1 dead, then stop and check every message once, in order, on both sides. Returns what a and b
 * said from the kill on.
 */
async function killUnderTalk(name: string, nodes: NodeProc[], a: Proc, b: Proc): Promise<Json[][]> {
  const talk = new Talk({ proc: a, name: 'a' }, { proc: b, name: 'b' });
  const before = { a: 1, b: 0 }; // a has its 'hello' receipt
  talk.start();
  await talk.delivered(10, before, 20_000);
  const at = talk.mark();
  const t0 = Date.now();
  nodes[0]!.proc.child.kill('SIGKILL');
  const [changed, message] = await Promise.all([
    a.event((e) => e.event === 'server-changed', 40_000, at.a).then((e) => ({ e, ms: Date.now() - t0 })),
    b.event((e) => e.event === 'message' && e.from === 'a', 40_000, at.b).then(() => Date.now() - t0),
  ]);
  expect(changed.e).toMatchObject({ server: nodes[1]!.addr, previous: nodes[0]!.addr });
  await talk.delivered(10, talk.mark(), 40_000);
  // Past the grace (10 s), n2 and n3 judge n1 dead and drop its members: a, held by n2 now, stays.
  for (const n of nodes.slice(1))
    await poll(async () => (await metric(n, 'punchline_cluster_nodes')) === 2, 30_000, `${n.id} dropping n1`);
  await talk.delivered(10, talk.mark(), 40_000);
  await talk.finish(40_000);
  (figures[name] ??= { changed: [], message: [] }).changed.push(changed.ms);
  figures[name].message.push(message);

  expect(texts(b, 'a')).toEqual(['hello', ...talk.sentBy(talk.a)]);
  expect(texts(a, 'b')).toEqual(talk.sentBy(talk.b));
  for (const p of [a, b]) {
    const ids = p.events((e) => e.event === 'delivered').map((e) => e.id);
    expect(new Set(ids).size, 'one receipt per message').toBe(ids.length);
  }
  // b was never told a left (a moved, keeping its name), and lists a now.
  for (const e of b.json.slice(at.b).filter((x) => x.event === 'presence'))
    expect((e.peers as { name: string }[]).map((x) => x.name)).toContain('a');
  await presenceIs(b, ['a']);
  return [a.json.slice(at.a), b.json.slice(at.b)];
}

suite('cluster of processes: a node killed under a chat', () => {
  for (let run = 0; run < RUNS; run++) {
    it(`the relaying node: the relayed chat goes on through another node, nothing lost or doubled (run ${run + 1})`, async () => {
      const { nodes, a, b } = await pair('relay', ['--relay-only']);
      const [afterA] = await killUnderTalk('relay-only chat, relaying node killed', nodes, a, b);
      // Still the same session, on the relay: no new session, no report of the peer gone.
      expect(afterA!.filter((e) => e.event === 'disconnected' || e.event === 'connected')).toEqual([]);
      // b stayed where it was; a registered again, at n2.
      expect(b.events((e) => e.event === 'server-changed')).toEqual([]);
      expect(afterA!.some((e) => e.event === 'registered' && e.transport === 'ws')).toBe(true);
    }, 120_000);

    it(`a node under a direct chat: the direct session goes on untouched (run ${run + 1})`, async () => {
      const { nodes, a, b } = await pair('direct', []);
      const after = await killUnderTalk("direct chat, a peer's node killed", nodes, a, b);
      // No move of the session, no new session, no report of the peer gone, on either side.
      for (const events of after)
        expect(events.filter((e) => ['path', 'connected', 'disconnected'].includes(String(e.event)))).toEqual(
          [],
        );
    }, 120_000);
  }
});
