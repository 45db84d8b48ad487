/**
 * Helpers for the real-NAT relay scenarios (relay-paths.test.ts, relay-upgrade.test.ts): the real
 * `punchline rendezvous` (UDP and its WebSocket relay on the same port) on the lab internet, real
 * `punchline chat --json` peers behind iptables routers with their own data directories (one temp
 * dir, removed afterwards), bounded waits on their events, the exactly-once check, and the
 * one-line reports (`lab relay:`) gathered into a markdown summary.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { CLI } from '../support/proc.js';
import {
  Lab,
  parseJsonObject,
  type Host,
  type JsonObject,
  type LabProcess,
  type Router,
} from '../../common/lab/index.js';

const SERVER_IP = '203.0.113.10';
const PORT = 7000;
/** A wait wakes on each stdout line or every 250 ms; this caps its rounds whatever the output. */
const MAX_WAIT_ROUNDS = 100_000;

/** A JSON event and when it was read (performance.now()). */
export interface Stamped {
  t: number;
  e: JsonObject;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A `punchline chat --json` process whose events are kept with their arrival times. */
export class Peer {
  readonly events: Stamped[] = [];
  /** Messages this peer sent only to prove the other side's receive path caught up (expectExactlyOnce). */
  syncs = 0;
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
    for (let round = 0; round < MAX_WAIT_ROUNDS; round++) {
      const hit = this.events.slice(from).find((s) => pred(s.e));
      if (hit) return hit;
      const left = deadline - performance.now();
      if (left <= 0 || !this.proc.running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    throw this.proc.failure(`printed no event ${what} within ${timeoutMs} ms`);
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
export class World {
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
      await w.close();
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

  async close(): Promise<void> {
    try {
      await this.lab.close();
    } finally {
      rmSync(this.dataRoot, { recursive: true, force: true });
    }
  }
}

/**
 * Send `n` messages each way, alternating a->b and b->a every `gapMs`, tagged with `tag`.
 * Returns the texts each side sent.
 */
export async function exchange(
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
    // Pacing, not waiting for anything: the scenario is a conversation spread over time.
    if (gapMs > 0) await sleep(gapMs / 2);
    ba.push(`${tag} b->a ${i}`);
    b.send(a.name, ba[i]!);
    if (gapMs > 0) await sleep(gapMs / 2);
  }
  return [ab, ba];
}

let syncRound = 0;

/**
 * Every message each side sent is delivered, and printed on the other side once, in order.
 * A late duplicate would be a retransmission sent before its receipt came back, so it travels
 * ahead of anything sent after the `delivered` events: one more message each way (`sync`), once
 * printed, proves the receive paths caught up with everything before it. The sync messages are
 * the last ones printed and are left out of the report's counts.
 */
export async function expectExactlyOnce(a: Peer, b: Peer, ab: string[], ba: string[]): Promise<void> {
  await a.allDelivered(b.name);
  await b.allDelivered(a.name);
  const n = syncRound++;
  const [syncAb, syncBa] = [`sync a->b ${n}`, `sync b->a ${n}`];
  a.send(b.name, syncAb);
  b.send(a.name, syncBa);
  a.syncs++;
  b.syncs++;
  const printed = (text: string) => (e: JsonObject) => e.event === 'message' && e.text === text;
  await b.wait(`message "${syncAb}"`, printed(syncAb), 10_000);
  await a.wait(`message "${syncBa}"`, printed(syncBa), 10_000);
  expect(b.texts(a.name)).toEqual([...ab, syncAb]);
  expect(a.texts(b.name)).toEqual([...ba, syncBa]);
  expect(b.duplicated(a.name) + a.duplicated(b.name)).toBe(0);
}

/** Whether a `message` event is one of expectExactlyOnce's sync messages. */
export const isSync = (e: JsonObject): boolean => String(e.text).startsWith('sync ');

/** Time from `t0` to the first `message` with `text` on `to` (ms). */
export async function firstMessage(from: Peer, to: Peer, text: string, timeoutMs = 10_000): Promise<number> {
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

/** Print one line now and keep the row for relaySummary(); counts leave the sync messages out. */
export function report(a: Peer, b: Peer, row: Omit<Row, 'sent' | 'received' | 'duplicated'>): void {
  const chatted = (p: Peer): number => p.all('message').filter((e) => !isSync(e)).length;
  const r: Row = {
    ...row,
    sent: a.all('sent').length + b.all('sent').length - a.syncs - b.syncs,
    received: chatted(a) + chatted(b),
    duplicated: a.duplicated(b.name) + b.duplicated(a.name),
  };
  rows.push(r);
  console.log(
    `lab relay: ${r.scenario} | first message ${r.firstMessageMs ?? '-'} ms | connect ${r.connect} | ` +
      `final ${r.final} | sent ${r.sent} received ${r.received} duplicated ${r.duplicated} | ${r.note}`,
  );
}

/** The markdown table of every row reported in this file, or undefined if none. */
export function relaySummary(): string | undefined {
  if (rows.length === 0) return undefined;
  const lines = rows.map(
    (r) =>
      `| ${r.scenario} | ${r.topology} | ${r.firstMessageMs ?? '-'} ms | ${r.connect} | ${r.final} | ` +
      `${r.sent} / ${r.received} / ${r.duplicated} | ${r.note} |`,
  );
  return [
    '| scenario | topology | first message | path at connect (A / B) | final path | sent / received / duplicated | note |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...lines,
  ].join('\n');
}

/** "relay" / "direct 203.0.113.102:4242" of a connected, path or stats event. */
export const pathOf = (e: JsonObject | undefined): string =>
  e === undefined ? '-' : e.path === 'relay' ? 'relay' : `${String(e.path)} ${String(e.remote)}`;

export const isError = (e: JsonObject): boolean => e.event === 'error';
