/**
 * Proves the real-NAT lab itself with plain node UDP scripts (fixtures/observer.mjs and
 * fixtures/puncher.mjs): the NAT kinds behave as docs/lab.md says, and teardown leaves nothing.
 */
import { fixture } from './fixture-path.js';
import { afterEach, expect, it } from 'vitest';
import {
  addNamespace,
  deleteNamespaceSync,
  endpoint,
  Lab,
  listNamespaces,
  sweepStaleNamespaces,
  type Endpoint,
  type Host,
  type JsonObject,
  type LabProcess,
} from '../../common/lab/index.js';
import { describeLab } from './describe-lab.js';

const OBSERVER = fixture('observer.mjs');
const PUNCHER = fixture('puncher.mjs');
const SERVER_IP = '203.0.113.10';
const PORT_1 = 3478;
const PORT_2 = 3479;
/** ICE's pacing, Ta = 50 ms (RFC 8445 §14), and the ~3 s bound the brief sets for one attempt. */
const PUNCH = { intervalMs: 50, durationMs: 3_000 };

interface PunchDone extends JsonObject {
  received: boolean;
  firstRxMs: number | null;
  sent: number;
  elapsedMs: number;
}

let lab: Lab | undefined;

afterEach(async () => {
  if (!lab) return;
  const { prefix } = lab;
  await lab.close();
  lab = undefined;
  expect(listNamespaces().filter((n) => n.startsWith(prefix))).toEqual([]);
});

async function newLab(): Promise<Lab> {
  lab = await Lab.create();
  return lab;
}

/** The observer on the internet host: UDP on two ports (two "destinations"), TCP on one. */
async function startServer(l: Lab): Promise<Host> {
  const server = await l.addHost('server', { on: l.internet, ip: SERVER_IP });
  const observer = server.node(OBSERVER, [
    '--host',
    SERVER_IP,
    '--udp',
    `${PORT_1},${PORT_2}`,
    '--tcp',
    `${PORT_1}`,
  ]);
  await observer.nextJson({ type: 'listening' }, 5_000);
  return server;
}

async function puncher(host: Host, name: string, port = 40_000): Promise<LabProcess> {
  const p = host.node(PUNCHER, ['--name', name, '--port', String(port)]);
  await p.nextJson({ type: 'ready' }, 5_000);
  return p;
}

/** Ask the observer which public endpoint it sees (bounded: 20 tries, 50 ms apart). */
async function observe(p: LabProcess, port = PORT_1): Promise<Endpoint | undefined> {
  const server = `${SERVER_IP}:${port}`;
  p.sendJson({ cmd: 'observe', server });
  const m = await p.nextJson(
    (m) => m.server === server && (m.type === 'observed' || m.type === 'observe-failed'),
    5_000,
  );
  return m.type === 'observed' ? { ip: String(m.ip), port: Number(m.port) } : undefined;
}

async function mustObserve(p: LabProcess, port = PORT_1): Promise<Endpoint> {
  const e = await observe(p, port);
  if (!e) throw p.failure(`got no answer from the observer on ${port}`);
  return e;
}

/** Both sides punch towards each other at the same moment; resolves with both reports. */
async function punchBoth(
  a: LabProcess,
  toB: Endpoint,
  b: LabProcess,
  toA: Endpoint,
  opts = PUNCH,
): Promise<[PunchDone, PunchDone]> {
  a.sendJson({ cmd: 'punch', target: endpoint(toB), ...opts });
  b.sendJson({ cmd: 'punch', target: endpoint(toA), ...opts });
  // The puncher ends itself after durationMs; the margin is for a loaded machine, not a measure.
  const bound = opts.durationMs + 5_000;
  return Promise.all([
    a.nextJson<PunchDone>({ type: 'punch-done' }, bound),
    b.nextJson<PunchDone>({ type: 'punch-done' }, bound),
  ]);
}

describeLab('real-NAT lab harness', () => {
  it('cone/cone: both learn their public endpoint, then punch through at the same time', async () => {
    const t0 = performance.now();
    const l = await newLab();
    const natA = await l.addRouter('natA', { nat: 'cone' });
    const natB = await l.addRouter('natB', { nat: 'cone' });
    const a = await l.addHost('a', { on: natA });
    const b = await l.addHost('b', { on: natB });
    const t1 = performance.now();
    await startServer(l);
    const pa = await puncher(a, 'A');
    const pb = await puncher(b, 'B');
    const t2 = performance.now();
    console.log(
      `[lab] built ${l.namespaces().length} namespaces in ${Math.round(t1 - t0)} ms; ` +
        `server, observer and 2 punchers up in ${Math.round(t2 - t1)} ms`,
    );

    const ea = await mustObserve(pa);
    const eb = await mustObserve(pb);
    // MASQUERADE keeps the source port when it is free.
    expect(ea).toEqual({ ip: natA.wanIp, port: 40_000 });
    expect(eb).toEqual({ ip: natB.wanIp, port: 40_000 });

    const [da, db] = await punchBoth(pa, eb, pb, ea);
    console.log(
      `[lab] cone/cone punch: A heard B after ${da.firstRxMs} ms, B heard A after ${db.firstRxMs} ms ` +
        `(A sent ${da.sent}, B sent ${db.sent} probes)`,
    );
    expect(da.received).toBe(true);
    expect(db.received).toBe(true);
    expect(await pa.nextJson({ type: 'punch-received', from: endpoint(eb), name: 'B' }, 0)).toBeTruthy();
    expect(await pb.nextJson({ type: 'punch-received', from: endpoint(ea), name: 'A' }, 0)).toBeTruthy();
  });

  it('symmetric/symmetric: punching fails within the bound; the port towards the peer is not the observed one', async () => {
    const l = await newLab();
    await startServer(l);
    const natA = await l.addRouter('natA', { nat: 'symmetric' });
    const natB = await l.addRouter('natB', { nat: 'symmetric' });
    const pa = await puncher(await l.addHost('a', { on: natA }), 'A');
    const pb = await puncher(await l.addHost('b', { on: natB }), 'B');
    const ea = await mustObserve(pa);
    const eb = await mustObserve(pb);
    expect(ea.ip).toBe(natA.wanIp);

    const t0 = performance.now();
    const [da, db] = await punchBoth(pa, eb, pb, ea);
    const took = Math.round(performance.now() - t0);
    console.log(
      `[lab] symmetric/symmetric punch: no packet through, gave up after ${took} ms (${da.sent} probes each way)`,
    );
    expect(da.received).toBe(false);
    expect(db.received).toBe(false);
    // Within the bound, counted: each side stopped on its own budget of one probe per interval
    // (fixtures/puncher.mjs), and both reports came inside punchBoth's bounded wait.
    const budget = Math.ceil(PUNCH.durationMs / PUNCH.intervalMs) + 1;
    expect(da.sent).toBeLessThanOrEqual(budget);
    expect(db.sent).toBeLessThanOrEqual(budget);

    // natA's mapping for A -> B's observed endpoint uses another public port than A -> observer.
    const toPeer = (await natA.conntrack()).find((e) => e.orig.dst === eb.ip && e.orig.dport === eb.port);
    expect(toPeer, 'conntrack entry for A -> B').toBeDefined();
    console.log(
      `[lab] symmetric natA: port towards observer ${ea.port}, towards peer ${toPeer!.reply.dport}`,
    );
    expect(toPeer!.reply.dport).not.toBe(ea.port);
  });

  it('mapping: cone shows one public port to two destinations, symmetric a different one each', async () => {
    const l = await newLab();
    await startServer(l);
    const cone = await l.addRouter('cone', { nat: 'cone' });
    const sym = await l.addRouter('sym', { nat: 'symmetric' });
    const pc = await puncher(await l.addHost('c', { on: cone }), 'C');
    const ps = await puncher(await l.addHost('s', { on: sym }), 'S');

    const [c1, c2] = [await mustObserve(pc, PORT_1), await mustObserve(pc, PORT_2)];
    const [s1, s2] = [await mustObserve(ps, PORT_1), await mustObserve(ps, PORT_2)];
    console.log(`[lab] mapping: cone ${c1.port}/${c2.port}, symmetric ${s1.port}/${s2.port}`);
    expect(c2).toEqual(c1);
    expect(s1.ip).toBe(s2.ip);
    expect(s2.port).not.toBe(s1.port);
  });

  it('udpBlocked: UDP to the observer gets nothing back, TCP to the same host works', async () => {
    const l = await newLab();
    await startServer(l);
    const nat = await l.addRouter('nat', { nat: 'cone', udpBlocked: true });
    const p = await puncher(await l.addHost('a', { on: nat }), 'A');

    const t0 = performance.now();
    expect(await observe(p)).toBeUndefined();
    const udpMs = Math.round(performance.now() - t0);
    p.sendJson({ cmd: 'tcp', server: `${SERVER_IP}:${PORT_1}`, text: 'hello' });
    const tcp = await p.nextJson((m) => m.type === 'tcp-ok' || m.type === 'tcp-failed', 5_000);
    console.log(`[lab] udpBlocked: UDP unanswered after ${udpMs} ms; TCP ${JSON.stringify(tcp)}`);
    expect(tcp).toMatchObject({ type: 'tcp-ok', observed: { ip: nat.wanIp }, echo: 'hello' });
  });

  it('one NAT, no hairpin: the neighbour is unreachable at its public endpoint, reachable on the LAN', async () => {
    const l = await newLab();
    await startServer(l);
    const nat = await l.addRouter('nat', { nat: 'cone' });
    const a = await l.addHost('a', { on: nat });
    const b = await l.addHost('b', { on: nat });
    const pa = await puncher(a, 'A');
    const pb = await puncher(b, 'B');
    const ea = await mustObserve(pa);
    const eb = await mustObserve(pb);
    expect(ea.ip).toBe(nat.wanIp);
    expect(eb.ip).toBe(nat.wanIp);
    expect(eb.port).not.toBe(ea.port); // both bound 40000: the second mapping had to move

    const pub = await punchBoth(pa, eb, pb, ea, { intervalMs: 50, durationMs: 1_000 });
    expect(pub.map((d) => d.received)).toEqual([false, false]);
    const lan = await punchBoth(pa, { ip: b.ip, port: 40_000 }, pb, { ip: a.ip, port: 40_000 });
    console.log(
      `[lab] no hairpin: public endpoints silent for ${pub[0].elapsedMs} ms; LAN punch in ${lan[0].firstRxMs}/${lan[1].firstRxMs} ms`,
    );
    expect(lan.map((d) => d.received)).toEqual([true, true]);
  });

  it('double NAT: a host behind two cone NATs is seen at the outer address and punches a cone peer', async () => {
    const l = await newLab();
    await startServer(l);
    const outer = await l.addRouter('outer', { nat: 'cone' });
    const inner = await l.addRouter('inner', { nat: 'cone', upstream: outer.lan });
    const natB = await l.addRouter('natB', { nat: 'cone' });
    expect(inner.wanIp).toMatch(/^10\.1\.0\./);
    const pa = await puncher(await l.addHost('a', { on: inner }), 'A');
    const pb = await puncher(await l.addHost('b', { on: natB }), 'B');
    const ea = await mustObserve(pa);
    const eb = await mustObserve(pb);
    expect(ea).toEqual({ ip: outer.wanIp, port: 40_000 });

    const [da, db] = await punchBoth(pa, eb, pb, ea);
    console.log(`[lab] double NAT punch: ${da.firstRxMs}/${db.firstRxMs} ms`);
    expect([da.received, db.received]).toEqual([true, true]);
  });

  it('conntrackFlush: a symmetric NAT rebinds to a new port, a cone NAT keeps its port', async () => {
    const l = await newLab();
    await startServer(l);
    const sym = await l.addRouter('sym', { nat: 'symmetric' });
    const cone = await l.addRouter('cone', { nat: 'cone' });
    const ps = await puncher(await l.addHost('s', { on: sym }), 'S');
    const pc = await puncher(await l.addHost('c', { on: cone }), 'C');
    const s1 = await mustObserve(ps);
    const c1 = await mustObserve(pc);
    expect(await mustObserve(ps)).toEqual(s1); // same mapping while it lives

    await sym.conntrackFlush();
    await l.conntrackFlush(cone);
    const s2 = await mustObserve(ps);
    const c2 = await mustObserve(pc);
    console.log(`[lab] rebinding: symmetric ${s1.port} -> ${s2.port}, cone ${c1.port} -> ${c2.port}`);
    expect(s2.port).not.toBe(s1.port);
    expect(c2).toEqual(c1);
  });

  it('mappingTimeoutSec: an idle mapping expires; a symmetric NAT then picks a new port', async () => {
    const l = await newLab();
    await startServer(l);
    const sym = await l.addRouter('sym', { nat: 'symmetric', mappingTimeoutSec: 1 });
    const ps = await puncher(await l.addHost('s', { on: sym }), 'S');
    const s1 = await mustObserve(ps);
    expect((await sym.conntrack()).length).toBe(1);
    // The physics under test: 1.5 s of idleness against the router's 1 s mapping timeout.
    await new Promise((r) => setTimeout(r, 1_500));
    const s2 = await mustObserve(ps);
    console.log(`[lab] mapping timeout 1 s: after 1.5 s idle ${s1.port} -> ${s2.port}`);
    expect(s2.port).not.toBe(s1.port);
  });

  it('home-router rule: without it an early probe steals the port of the late side, and punching fails', async () => {
    const l = await newLab();
    await startServer(l);
    const pairs = [];
    for (const dropUnsolicited of [true, false]) {
      const tag = dropUnsolicited ? 'home' : 'bare';
      const natA = await l.addRouter(`${tag}A`, { nat: 'cone', dropUnsolicited });
      const natB = await l.addRouter(`${tag}B`, { nat: 'cone', dropUnsolicited });
      const pa = await puncher(await l.addHost(`${tag}a`, { on: natA }), 'A');
      const pb = await puncher(await l.addHost(`${tag}b`, { on: natB }), 'B');
      pairs.push({ dropUnsolicited, pa, pb, ea: await mustObserve(pa), eb: await mustObserve(pb) });
    }
    const outcomes: Record<string, [boolean, boolean]> = {};
    for (const { dropUnsolicited, pa, pb, ea, eb } of pairs) {
      // A starts 300 ms before B (the physics under test, not a wait for anything): its probes
      // reach B's router before B has sent anything.
      pa.sendJson({ cmd: 'punch', target: endpoint(eb), intervalMs: 50, durationMs: 1_500 });
      await new Promise((r) => setTimeout(r, 300));
      pb.sendJson({ cmd: 'punch', target: endpoint(ea), intervalMs: 50, durationMs: 1_500 });
      const da = await pa.nextJson<PunchDone>({ type: 'punch-done' }, 4_000);
      const db = await pb.nextJson<PunchDone>({ type: 'punch-done' }, 4_000);
      outcomes[dropUnsolicited ? 'with rule' : 'without rule'] = [da.received, db.received];
    }
    console.log(`[lab] early probe, [A heard B, B heard A]: ${JSON.stringify(outcomes)}`);
    expect(outcomes['with rule']).toEqual([true, true]);
    expect(outcomes['without rule']).toEqual([false, false]);
  });

  it('loss: with p = 0.3 each way, about (1 - p)^2 of the probes come back', async () => {
    const l = await newLab();
    await startServer(l);
    const nat = await l.addRouter('nat', { nat: 'cone', loss: 0.3 });
    const p = await puncher(await l.addHost('a', { on: nat }), 'A');
    p.sendJson({ cmd: 'burst', server: `${SERVER_IP}:${PORT_1}`, count: 200, intervalMs: 2 });
    // burst-done comes once a later probe came back (fixtures/puncher.mjs), not after a fixed settle.
    const done = await p.nextJson<{ sent: number; received: number; synced: boolean }>(
      { type: 'burst-done' },
      15_000,
    );
    expect(done.synced, 'a probe after the burst came back').toBe(true);
    console.log(
      `[lab] loss 0.3: ${done.received}/${done.sent} answered (expected ~${Math.round(done.sent * 0.49)})`,
    );
    expect(done.received / done.sent).toBeGreaterThan(0.3);
    expect(done.received / done.sent).toBeLessThan(0.7);
  });

  it('process helpers: reads take the first unread match and keep the rest; waits are bounded', async () => {
    const l = await newLab();
    const server = await startServer(l);
    await server.waitForPort('udp', PORT_1, 2_000);
    await server.waitForPort('tcp', PORT_1, 2_000);
    await expect(server.waitForPort('udp', 9, 300)).rejects.toThrow(/nothing listens on udp\/9/);

    // Echoes stdin lines as {"echo":...} on stdout, says hello on stdout and stderr, exits on "bye".
    const script = `
      const rl = require('node:readline').createInterface({ input: process.stdin });
      console.log('plain text');
      console.log(JSON.stringify({ event: 'hello', n: 1 }));
      console.log(JSON.stringify({ event: 'hello', n: 2 }));
      console.error(JSON.stringify({ level: 'info', msg: 'listening' }));
      rl.on('line', (l) => (l === 'bye' ? process.exit(3) : console.log(JSON.stringify({ echo: JSON.parse(l) }))));`;
    const p = l.spawn(server, process.execPath, ['-e', script], { label: 'echo' });
    expect(await p.nextJson({ event: 'hello', n: 2 })).toEqual({ event: 'hello', n: 2 });
    expect(await p.nextJson({ event: 'hello' })).toEqual({ event: 'hello', n: 1 }); // left unread above
    expect((await p.waitForLine(/^plain (\w+)$/))[1]).toBe('text');
    expect(await p.err.nextJson({ msg: 'listening' })).toMatchObject({ level: 'info' });
    p.sendJson({ x: 1 });
    expect(await p.nextJson((m) => typeof m.echo === 'object')).toEqual({ echo: { x: 1 } });
    // The 200 ms timeout is honoured: the read fails with its own message well inside a generous
    // deadline (whose message would not match), however loaded the machine.
    const t0 = performance.now();
    await expect(withDeadline(p.nextJson({ event: 'never' }, 200), 5_000)).rejects.toThrow(
      /no stdout line .* within 200 ms[\s\S]*plain text/,
    );
    console.log(`[lab] a 200 ms read timed out after ${Math.round(performance.now() - t0)} ms`);
    const pending = p.nextJson({ event: 'never' }, 5_000);
    p.write('bye');
    await expect(pending).rejects.toThrow(/exited \(3\)/);
    expect(await p.waitForExit(1_000)).toEqual({ code: 3, signal: null });
  });

  it('teardown stops every process and deletes every namespace of the run; the sweep removes dead runs', async () => {
    const l = await newLab();
    const server = await startServer(l);
    const nat = await l.addRouter('nat', { nat: 'cone' });
    const p = await puncher(await l.addHost('a', { on: nat }), 'A');
    const sleeper = server.spawn('sleep', ['30']); // something that would outlive a careless teardown
    expect(l.namespaces()).toHaveLength(4);

    await l.close();
    expect(l.namespaces()).toEqual([]);
    expect(listNamespaces().filter((n) => n.startsWith(l.prefix))).toEqual([]);
    for (const proc of [p, sleeper]) {
      expect(proc.running).toBe(false);
      expect(() => process.kill(proc.pid, 0)).toThrow();
    }
    await l.close(); // idempotent

    // A namespace left by a run whose process is gone is swept; one of a live process is not.
    let dead = 4_194_000;
    while (dead > 1_000 && pidExists(dead)) dead--;
    const stale = `pl-${dead}-abcdef-x`;
    const live = `pl-${process.pid}-abcdef-x`;
    try {
      await addNamespace(stale);
      await addNamespace(live);
      expect(sweepStaleNamespaces()).toContain(stale);
      expect(listNamespaces()).not.toContain(stale);
      expect(listNamespaces()).toContain(live);
    } finally {
      // The live one is ours: remove it by hand (its prefix belongs to no Lab).
      deleteNamespaceSync(stale);
      deleteNamespaceSync(live);
    }
  });
});

/** `p`, or a rejection saying it was still pending after `ms`. */
async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
