/**
 * Issue 4 ("Done when") through real Linux NAT: the real `punchline rendezvous` (UDP and its
 * WebSocket relay on the same port) on the lab internet, real `punchline chat --json` peers
 * behind iptables routers, each with its own data directory (one temp dir, removed afterwards).
 *
 * - symmetric/symmetric: punching cannot work, the session rides the relay, quietly;
 * - UDP blocked on one side: that peer registers over TCP only and chats over the relay;
 * - cone/cone: the session starts on the relay and moves to the punched direct path within 2 s,
 *   with messages in flight across the switch;
 * - --relay-only stays on the relay; --direct-only between symmetric NATs reports PUNCH_FAILED.
 *
 * Each scenario prints one line (`lab relay:`), and the file ends with a markdown summary.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { CLI } from '../support/proc.js';
import {
  Lab,
  parseJsonObject,
  type Host,
  type JsonObject,
  type LabProcess,
  type Router,
} from '../../common/lab/index.js';
import { describeLab } from './describe-lab.js';

const SERVER_IP = '203.0.113.10';
const PORT = 7000;

/** A JSON event and when it was read (performance.now()). */
interface Stamped {
  t: number;
  e: JsonObject;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A `punchline chat --json` process whose events are kept with their arrival times. */
class Peer {
  readonly events: Stamped[] = [];
  private waiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    readonly proc: LabProcess,
  ) {
    // Stamp each stdout line as it arrives (the reader itself keeps no times).
    const push = proc.out.push.bind(proc.out);
    proc.out.push = (line: string): void => {
      const e = parseJsonObject(line);
      if (e) this.events.push({ t: performance.now(), e });
      push(line);
      this.notify();
    };
    void proc.exited.then(() => this.notify());
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Events named `event` (all if undefined), from index `from` on. */
  all(event?: string, from = 0): JsonObject[] {
    return this.events
      .slice(from)
      .map((s) => s.e)
      .filter((e) => event === undefined || e.event === event);
  }

  /** The first event at or after index `from` accepted by pred; fails after timeoutMs or on exit. */
  async wait(what: string, pred: (e: JsonObject) => boolean, timeoutMs: number, from = 0): Promise<Stamped> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.events.slice(from).find((s) => pred(s.e));
      if (hit) return hit;
      const left = deadline - performance.now();
      if (left <= 0 || !this.proc.running)
        throw this.proc.failure(`printed no event ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  send(peer: string, text: string): void {
    this.proc.sendJson({ cmd: 'send', peer, text });
  }

  /** Registered over each of `transports`, and the room lists `other`. */
  async ready(other: string, transports: ('udp' | 'ws')[], timeoutMs = 15_000): Promise<JsonObject[]> {
    const regs: JsonObject[] = [];
    for (const transport of transports)
      regs.push(
        (
          await this.wait(
            `registered over ${transport}`,
            (e) => e.event === 'registered' && e.transport === transport,
            timeoutMs,
          )
        ).e,
      );
    await this.wait(
      `presence with ${other}`,
      (e) =>
        e.event === 'presence' &&
        Array.isArray(e.peers) &&
        (e.peers as JsonObject[]).some((p) => p.name === other),
      timeoutMs,
    );
    return regs;
  }

  /** The session figures for `peer` ({"cmd":"stats"}). */
  async stats(peer: string): Promise<JsonObject> {
    const from = this.events.length;
    this.proc.sendJson({ cmd: 'stats', peer });
    return (await this.wait('stats', (e) => e.event === 'stats' && e.peer === peer, 5_000, from)).e;
  }

  texts(from: string): string[] {
    return this.all('message')
      .filter((m) => m.from === from)
      .map((m) => String(m.text));
  }

  /** Ids of messages from `from` that were printed more than once. */
  duplicated(from: string): number {
    const ids = this.all('message')
      .filter((m) => m.from === from)
      .map((m) => String(m.id));
    return ids.length - new Set(ids).size;
  }

  /** Wait until every message sent to `peer` has its `delivered` event. */
  async allDelivered(peer: string, timeoutMs = 10_000): Promise<void> {
    const sent = this.all('sent').filter((e) => e.peer === peer);
    const ids = new Set(sent.map((e) => String(e.id)));
    await this.wait(
      `delivered for all ${ids.size} messages to ${peer}`,
      () => {
        const got = new Set(
          this.all('delivered')
            .filter((e) => e.peer === peer)
            .map((e) => String(e.id)),
        );
        return [...ids].every((id) => got.has(id));
      },
      timeoutMs,
    );
  }
}

/** A lab with the rendezvous on 203.0.113.10:7000 (UDP and the ws relay), and chat peers. */
class World {
  readonly dataRoot = mkdtempSync(path.join(os.tmpdir(), 'punchline-relay-'));
  private constructor(readonly lab: Lab) {}

  static async create(): Promise<World> {
    const w = new World(await Lab.create());
    try {
      const server = await w.lab.addHost('server', { on: w.lab.internet, ip: SERVER_IP });
      const p = server.node(CLI, ['rendezvous', '--host', SERVER_IP, '--port', String(PORT)]);
      await p.waitForLine(/listening on udp/, 10_000);
      await p.waitForLine(/listening on tcp/, 10_000);
    } catch (e) {
      await w.teardown();
      throw e;
    }
    return w;
  }

  chat(host: Host, name: string, extra: string[] = []): Peer {
    const args = ['chat', '--server', `${SERVER_IP}:${PORT}`, '--name', name, '--json'];
    args.push('--data-dir', path.join(this.dataRoot, name), ...extra);
    return new Peer(name, host.node(CLI, args, { label: `${name}@${host.name}` }));
  }

  /** Two routers and one peer behind each: alice (A) and bob (B). */
  async pair(
    routerA: Parameters<Lab['addRouter']>[1],
    routerB: Parameters<Lab['addRouter']>[1],
    extraA: string[] = [],
    extraB: string[] = extraA,
  ): Promise<{ a: Peer; b: Peer; natA: Router; natB: Router; hostA: Host; hostB: Host }> {
    const natA = await this.lab.addRouter('natA', routerA);
    const natB = await this.lab.addRouter('natB', routerB);
    const hostA = await this.lab.addHost('a', { on: natA });
    const hostB = await this.lab.addHost('b', { on: natB });
    const a = this.chat(hostA, 'alice', extraA);
    const b = this.chat(hostB, 'bob', extraB);
    return { a, b, natA, natB, hostA, hostB };
  }

  async teardown(): Promise<void> {
    try {
      await this.lab.teardown();
    } finally {
      rmSync(this.dataRoot, { recursive: true, force: true });
    }
  }
}

/**
 * Send `n` messages each way, alternating a->b and b->a every `gapMs`, tagged with `tag`.
 * Returns the texts each side sent.
 */
async function exchange(
  a: Peer,
  b: Peer,
  tag: string,
  n: number,
  gapMs: number,
): Promise<[string[], string[]]> {
  const ab: string[] = [];
  const ba: string[] = [];
  for (let i = 0; i < n; i++) {
    ab.push(`${tag} a->b ${i}`);
    a.send(b.name, ab[i]!);
    if (gapMs > 0) await sleep(gapMs / 2);
    ba.push(`${tag} b->a ${i}`);
    b.send(a.name, ba[i]!);
    if (gapMs > 0) await sleep(gapMs / 2);
  }
  return [ab, ba];
}

/** Every message each side sent is delivered, and printed on the other side once, in order. */
async function expectExactlyOnce(a: Peer, b: Peer, ab: string[], ba: string[]): Promise<void> {
  await a.allDelivered(b.name);
  await b.allDelivered(a.name);
  await sleep(200); // a late duplicate would show up here
  expect(b.texts(a.name)).toEqual(ab);
  expect(a.texts(b.name)).toEqual(ba);
  expect(b.duplicated(a.name) + a.duplicated(b.name)).toBe(0);
}

/** Time from `t0` to the first `message` with `text` on `to` (ms). */
async function firstMessage(from: Peer, to: Peer, text: string, timeoutMs = 10_000): Promise<number> {
  const t0 = performance.now();
  from.send(to.name, text);
  const m = await to.wait(`message "${text}"`, (e) => e.event === 'message' && e.text === text, timeoutMs);
  return Math.round(m.t - t0);
}

interface Row {
  scenario: string;
  topology: string;
  firstMessageMs: number | undefined;
  connect: string;
  final: string;
  sent: number;
  received: number;
  duplicated: number;
  note: string;
}

const rows: Row[] = [];

function report(a: Peer, b: Peer, row: Omit<Row, 'sent' | 'received' | 'duplicated'>): void {
  const r: Row = {
    ...row,
    sent: a.all('sent').length + b.all('sent').length,
    received: a.all('message').length + b.all('message').length,
    duplicated: a.duplicated(b.name) + b.duplicated(a.name),
  };
  rows.push(r);
  console.log(
    `lab relay: ${r.scenario} | first message ${r.firstMessageMs ?? '-'} ms | connect ${r.connect} | ` +
      `final ${r.final} | sent ${r.sent} received ${r.received} duplicated ${r.duplicated} | ${r.note}`,
  );
}

/** "relay" / "direct 203.0.113.102:4242" of a connected, path or stats event. */
const pathOf = (e: JsonObject | undefined): string =>
  e === undefined ? '-' : e.path === 'relay' ? 'relay' : `${String(e.path)} ${String(e.remote)}`;

const isError = (e: JsonObject): boolean => e.event === 'error';

describeLab('real-NAT lab: the relay and the move to direct', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.teardown();
    world = undefined;
  });
  afterAll(() => {
    if (rows.length === 0) return;
    const lines = rows.map(
      (r) =>
        `| ${r.scenario} | ${r.topology} | ${r.firstMessageMs ?? '-'} ms | ${r.connect} | ${r.final} | ` +
        `${r.sent} / ${r.received} / ${r.duplicated} | ${r.note} |`,
    );
    console.log(
      [
        '| scenario | topology | first message | path at connect (A / B) | final path | sent / received / duplicated | note |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...lines,
      ].join('\n'),
    );
  });

  it('symmetric/symmetric: the session rides the relay, both ways, exactly once; punching fails quietly', async () => {
    world = await World.create();
    // A short punch deadline so the failure comes inside the test; info logs show it on stderr.
    const flags = ['--punch-timeout-ms', '2000', '--log-level', 'info'];
    const { a, b } = await world.pair({ nat: 'symmetric' }, { nat: 'symmetric' }, flags);
    await a.ready('bob', ['udp', 'ws']);
    await b.ready('alice', ['udp', 'ws']);

    const first = await firstMessage(a, b, 'sym first');
    const ca = (await a.wait('connected', (e) => e.event === 'connected', 5_000)).e;
    const cb = (await b.wait('connected', (e) => e.event === 'connected', 5_000)).e;
    expect(ca).toMatchObject({ peer: 'bob', path: 'relay', remote: 'relay' });
    expect(cb).toMatchObject({ peer: 'alice', path: 'relay', remote: 'relay' });

    const [ab, ba] = await exchange(a, b, 'sym', 10, 20);
    await expectExactlyOnce(a, b, ['sym first', ...ab], ba);

    // Both sides punched (the introduction reaches both) and gave up, saying so only in the log.
    for (const p of [a, b]) await p.proc.err.waitForLine(/no direct path yet; staying on the relay/, 6_000);
    expect(a.all().filter(isError)).toEqual([]);
    expect(b.all().filter(isError)).toEqual([]);
    expect([...a.all('path'), ...b.all('path')]).toEqual([]);
    const sa = await a.stats('bob');
    expect(sa).toMatchObject({ state: 'relay', path: 'relay', remote: 'relay', pending: 0 });

    report(a, b, {
      scenario: 'symmetric/symmetric',
      topology: 'A and B each behind `--random-fully` MASQUERADE',
      firstMessageMs: first,
      connect: `${pathOf(ca)} / ${pathOf(cb)}`,
      final: pathOf(sa),
      note: `connect ${String(ca.ms)} ms; punch failed on both sides in the log only, no error event`,
    });
  });

  it('UDP blocked on one side: that peer registers over TCP only, sees presence and chats over the relay', async () => {
    world = await World.create();
    const t0 = performance.now();
    const { a, b, natA } = await world.pair({ nat: 'cone', udpBlocked: true }, { nat: 'cone' });
    const [regA] = await a.ready('bob', ['ws']);
    // Over the relay stream `public` is the TCP source as the server saw it: natA's WAN address.
    expect(String(regA!.public)).toMatch(new RegExp(`^${natA.wanIp.replace(/\./g, '\\.')}:\\d+$`));
    await b.ready('alice', ['udp', 'ws']);

    const first = await firstMessage(a, b, 'blocked first');
    const ca = (await a.wait('connected', (e) => e.event === 'connected', 5_000)).e;
    const cb = (await b.wait('connected', (e) => e.event === 'connected', 5_000)).e;
    expect(ca).toMatchObject({ peer: 'bob', path: 'relay' });
    expect(cb).toMatchObject({ peer: 'alice', path: 'relay' });
    const [ab, ba] = await exchange(a, b, 'blocked', 10, 20);
    await expectExactlyOnce(a, b, ['blocked first', ...ab], ba);

    // The UDP registration gives up after 5 tries (~8 s): still no error event, no UDP registration.
    const quietUntil = t0 + 10_000;
    if (performance.now() < quietUntil) await sleep(quietUntil - performance.now());
    expect(a.all('registered').map((e) => e.transport)).toEqual(['ws']);
    expect(a.all().filter(isError)).toEqual([]);
    expect(b.all().filter(isError)).toEqual([]);
    const sa = await a.stats('bob');
    const sb = await b.stats('alice');
    expect(sa).toMatchObject({ path: 'relay', pending: 0 });
    expect(sb).toMatchObject({ path: 'relay', pending: 0 });

    report(a, b, {
      scenario: 'UDP blocked / cone',
      topology: 'A behind a cone router dropping all UDP in FORWARD; B behind a cone',
      firstMessageMs: first,
      connect: `${pathOf(ca)} / ${pathOf(cb)}`,
      final: `${pathOf(sa)} / ${pathOf(sb)}`,
      note: `A registered over the WebSocket only (${String(regA!.public)}); no error event in 10 s`,
    });
  });

  it('cone/cone: the session starts on the relay and is direct within 2 s, nothing lost or doubled', async () => {
    world = await World.create();
    const { a, b } = await world.pair({ nat: 'cone' }, { nat: 'cone' });
    const [regA] = await a.ready('bob', ['udp', 'ws']);
    const [regB] = await b.ready('alice', ['udp', 'ws']);

    // A's first send starts everything (introduction, the session on the relay, punching). A
    // sends one message every 50 ms for 1.5 s; B answers in kind once its session is open (were
    // B to send before that, its send would ask for a second, crossing introduction: the next
    // scenario). So messages are in flight both ways while the session moves.
    const t0 = performance.now();
    const isDirect = (e: JsonObject): boolean =>
      (e.event === 'connected' || e.event === 'path') && e.path === 'direct';
    const directA = a.wait('direct', isDirect, 5_000);
    const directB = b.wait('direct', isDirect, 5_000);
    directA.catch(() => undefined);
    directB.catch(() => undefined);
    const ab: string[] = [];
    const ba: string[] = [];
    for (let i = 0; i < 30; i++) {
      ab.push(`switch a->b ${i}`);
      a.send('bob', ab[i]!);
      if (b.all('connected').length > 0) {
        ba.push(`switch b->a ${ba.length}`);
        b.send('alice', ba[ba.length - 1]!);
      }
      await sleep(50);
    }
    const [da, db] = [await directA, await directB];
    const switchA = Math.round(da.t - t0);
    const switchB = Math.round(db.t - t0);
    await expectExactlyOnce(a, b, ab, ba);

    const ca = a.all('connected')[0];
    const cb = b.all('connected')[0];
    expect(a.all('connected')).toHaveLength(1);
    expect(b.all('connected')).toHaveLength(1);
    expect(ba.length).toBeGreaterThan(20);
    expect(da.e).toMatchObject({ path: 'direct', remote: regB!.public });
    expect(db.e).toMatchObject({ path: 'direct', remote: regA!.public });
    // Once direct, it stays direct (no fallback to the relay in this short run).
    expect([...a.all('path'), ...b.all('path')].filter((e) => e.path !== 'direct')).toEqual([]);
    expect(a.all().filter(isError)).toEqual([]);
    expect(b.all().filter(isError)).toEqual([]);
    const sa = await a.stats('bob');
    expect(sa).toMatchObject({ state: 'direct', path: 'direct', remote: regB!.public });
    expect(switchA).toBeLessThan(2_000);
    expect(switchB).toBeLessThan(2_000);
    const firstAt = b.events.find((s) => s.e.event === 'message')!.t;
    // Messages printed on each side before its session moved to direct, and after.
    const split = (p: Peer, d: Stamped): string => {
      const msgs = p.events.filter((s) => s.e.event === 'message');
      return `${msgs.filter((s) => s.t < d.t).length}+${msgs.filter((s) => s.t >= d.t).length}`;
    };

    report(a, b, {
      scenario: 'cone/cone upgrade',
      topology:
        'A and B each behind a port-restricted cone; A sends every 50 ms for 1.5 s, B answers once connected',
      firstMessageMs: Math.round(firstAt - t0),
      connect: `${pathOf(ca)} / ${pathOf(cb)}`,
      final: pathOf(sa),
      note:
        `direct ${switchA} ms (A) / ${switchB} ms (B) after the first send, via ${String(da.e.event)} / ` +
        `${String(db.e.event)}; messages received before+after the move: ${split(a, da)} (A) / ${split(b, db)} (B)`,
    });
  });

  it('cone/cone, both peers send their first message at the same moment (crossing introductions)', async () => {
    world = await World.create();
    const hostA = await world.lab.addHost('a', { on: await world.lab.addRouter('natA', { nat: 'cone' }) });
    const hostB = await world.lab.addHost('b', { on: await world.lab.addRouter('natB', { nat: 'cone' }) });
    // Fresh peers each round; B's first send follows A's by `offset` ms, so the second
    // introduction reaches the two sides around the moment the first handshake completes.
    const offsets = [15, 20, 25, 30, 35];
    const firsts: string[] = [];
    let last: [Peer, Peer] | undefined;
    for (const [round, offset] of offsets.entries()) {
      const pa = world.chat(hostA, `alice${round}`);
      const pb = world.chat(hostB, `bob${round}`);
      last = [pa, pb];
      await pa.ready(pb.name, ['udp', 'ws']);
      await pb.ready(pa.name, ['udp', 'ws']);
      const t0 = performance.now();
      pa.send(pb.name, `x a->b ${round}`);
      await sleep(offset);
      pb.send(pa.name, `x b->a ${round}`);
      const isMsg = (e: JsonObject): boolean => e.event === 'message';
      // Both ways well inside 3 s (normally ~0.1 s); a split session leaves both silent for ~30 s.
      let ma: Stamped, mb: Stamped;
      try {
        [ma, mb] = await Promise.all([pa.wait('message', isMsg, 3_000), pb.wait('message', isMsg, 3_000)]);
      } catch {
        // Show both sides: the split session of docs/lab.md "Relay scenarios" looks like this.
        const show = (p: Peer): string =>
          p.events
            .filter((s) => s.e.event !== 'sent')
            .map((s) => `    +${Math.round(s.t - t0)} ms ${JSON.stringify(s.e)}`)
            .join('\n');
        throw new Error(
          `round ${round} (B sent ${offset} ms after A): no message both ways within 3 s\n` +
            `  ${pa.name}:\n${show(pa)}\n  ${pb.name}:\n${show(pb)}`,
        );
      }
      firsts.push(`+${offset} ms: ${Math.round(mb.t - t0)}/${Math.round(ma.t - t0)}`);
      await expectExactlyOnce(pa, pb, [`x a->b ${round}`], [`x b->a ${round}`]);
      expect(pa.all('connected')).toHaveLength(1);
      expect(pb.all('connected')).toHaveLength(1);
      await pa.proc.close();
      await pb.proc.close();
    }
    report(last![0], last![1], {
      scenario: 'cone/cone crossing first sends',
      topology: `as cone/cone; ${offsets.length} fresh pairs, B sends ${offsets.join('/')} ms after A`,
      firstMessageMs: undefined,
      connect: '-',
      final: '-',
      note: `first message a->b/b->a per round: ${firsts.join(', ')} ms`,
    });
  });

  it('--relay-only between cone peers stays on the relay', async () => {
    world = await World.create();
    const { a, b } = await world.pair({ nat: 'cone' }, { nat: 'cone' }, ['--relay-only']);
    await a.ready('bob', ['udp', 'ws']);
    await b.ready('alice', ['udp', 'ws']);
    const first = await firstMessage(a, b, 'ro first');
    const [ab, ba] = await exchange(a, b, 'ro', 10, 100);
    await expectExactlyOnce(a, b, ['ro first', ...ab], ba);
    const ca = a.all('connected')[0];
    const cb = b.all('connected')[0];
    expect(ca).toMatchObject({ path: 'relay' });
    expect(cb).toMatchObject({ path: 'relay' });
    expect([...a.all('path'), ...b.all('path')]).toEqual([]);
    const sa = await a.stats('bob');
    expect(sa).toMatchObject({ path: 'relay' });
    expect(sa.punch).toBeUndefined();
    report(a, b, {
      scenario: '--relay-only cone/cone',
      topology: 'as cone/cone, both peers `--relay-only`',
      firstMessageMs: first,
      connect: `${pathOf(ca)} / ${pathOf(cb)}`,
      final: pathOf(sa),
      note: 'no `path` event and no punch result over ~1.2 s of chat',
    });
  });

  it('--direct-only between symmetric peers reports PUNCH_FAILED and keeps the message', async () => {
    world = await World.create();
    const flags = ['--direct-only', '--punch-timeout-ms', '2000'];
    const { a, b } = await world.pair({ nat: 'symmetric' }, { nat: 'symmetric' }, flags);
    await a.ready('bob', ['udp']);
    await b.ready('alice', ['udp']);
    const t0 = performance.now();
    a.send('bob', 'do first');
    const err = await a.wait('PUNCH_FAILED', (e) => isError(e) && e.code === 'PUNCH_FAILED', 8_000);
    expect(err.e).toMatchObject({ peer: 'bob' });
    expect(String(err.e.message)).toMatch(/1 message waiting/);
    expect([...a.all('connected'), ...b.all('connected'), ...b.all('message')]).toEqual([]);
    // No relay at all: not even a TCP registration.
    expect([...a.all('registered'), ...b.all('registered')].map((e) => e.transport)).not.toContain('ws');
    const sa = await a.stats('bob');
    expect(sa).toMatchObject({ pending: 1 });
    report(a, b, {
      scenario: '--direct-only symmetric/symmetric',
      topology: 'as symmetric/symmetric, both peers `--direct-only --punch-timeout-ms 2000`',
      firstMessageMs: undefined,
      connect: '- / -',
      final: `none (${String(sa.state)}, pending ${String(sa.pending)})`,
      note: `PUNCH_FAILED after ${Math.round(err.t - t0)} ms: "${String(err.e.message)}"`,
    });
  });
});
