/**
 * Helpers for the real-NAT lab scenarios (scenarios.test.ts): the real rendezvous on the lab
 * internet, `punchline chat --json` peers with their own data directories, bounded waits on
 * their events, exactly-once/in-order checks, and the one-line reports gathered into a summary.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI } from '../support/proc.js';
import {
  parseJsonObject,
  type Host,
  type JsonObject,
  type Lab,
  type LabProcess,
} from '../../common/lab/index.js';

export const SERVER_IP = '203.0.113.10';
export const SERVER_PORT = 7000;

/** Poll `find` every pollMs until it returns something; fail after timeoutMs (both bounded). */
export async function waitUntil<T>(
  find: () => T | undefined,
  timeoutMs: number,
  what: () => string,
  pollMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const maxPolls = Math.ceil(timeoutMs / pollMs) + 1;
  for (let i = 0; i <= maxPolls; i++) {
    const v = find();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) break;
    await sleep(pollMs);
  }
  throw new Error(`not within ${timeoutMs} ms: ${what()}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A JSON event and when it was read (performance.now()). */
export interface Stamped {
  t: number;
  e: JsonObject;
}

/** A `punchline chat --json` process, its events stamped with their arrival times. */
export class ChatPeer {
  readonly stamped: Stamped[] = [];

  constructor(
    readonly name: string,
    readonly host: Host,
    readonly proc: LabProcess,
  ) {
    // Stamp each stdout line as it arrives (the harness's reader keeps no times).
    const push = proc.out.push.bind(proc.out);
    proc.out.push = (line: string): void => {
      const e = parseJsonObject(line);
      if (e) this.stamped.push({ t: performance.now(), e });
      push(line);
    };
  }

  /** Every event printed so far (from index `from` on), optionally only those named `event`. */
  events(event?: string, from = 0): JsonObject[] {
    return this.stamped
      .slice(from)
      .map((s) => s.e)
      .filter((e) => event === undefined || e.event === event);
  }

  /** Number of events so far: a mark for "events after this point". */
  mark(): number {
    return this.stamped.length;
  }

  send(peer: string, text: string): void {
    this.proc.sendJson({ cmd: 'send', peer, text });
  }

  /** Messages received from `from`, in the order printed. */
  messagesFrom(from: string): JsonObject[] {
    return this.events('message').filter((m) => m.from === from);
  }

  /** Wait for an event matching pred at or after index `from` (bounded); resolves with it and its index. */
  async waitStamped(
    what: string,
    pred: (e: JsonObject) => boolean,
    timeoutMs: number,
    from = 0,
  ): Promise<Stamped & { index: number }> {
    return waitUntil(
      () => {
        if (!this.proc.running) throw this.proc.failure(`exited before printing ${what}`);
        const i = this.stamped.slice(from).findIndex((s) => pred(s.e));
        return i >= 0 ? { ...this.stamped[from + i]!, index: from + i } : undefined;
      },
      timeoutMs,
      () => this.proc.failure(`printed no ${what}`).message,
      20,
    );
  }

  async waitEvent(
    what: string,
    pred: (e: JsonObject) => boolean,
    timeoutMs: number,
    from = 0,
  ): Promise<JsonObject> {
    return (await this.waitStamped(what, pred, timeoutMs, from)).e;
  }

  /** Registered over UDP, and the room shows `other`. Resolves with the UDP registration. */
  async ready(other: string, timeoutMs = 15_000): Promise<JsonObject> {
    const reg = await this.waitEvent(
      'registered over udp',
      (e) => e.event === 'registered' && (e.transport ?? 'udp') === 'udp',
      timeoutMs,
    );
    await this.waitEvent('presence with ' + other, (e) => isPresenceWith(e, other), timeoutMs);
    return reg;
  }

  /** The first `connected` or `path` event that puts the session on a direct path. */
  direct(timeoutMs: number, from = 0): Promise<Stamped & { index: number }> {
    return this.waitStamped('direct path', isDirect, timeoutMs, from);
  }

  /** The session's paths as printed: "relay -> direct 1.2.3.4:5 -> direct 1.2.3.4:6". */
  pathStory(): string {
    return this.events()
      .filter((e) => e.event === 'connected' || e.event === 'path')
      .map(pathOf)
      .join(' -> ');
  }

  /** `path` events that left a direct path for the relay, after index `from`. */
  fallbacks(from = 0): JsonObject[] {
    return this.events('path', from).filter((e) => e.path !== 'direct');
  }

  /** The session figures for `peer` ({"cmd":"stats"}). */
  async stats(peer: string, timeoutMs = 5_000): Promise<JsonObject> {
    const from = this.mark();
    this.proc.sendJson({ cmd: 'stats', peer });
    return this.waitEvent('stats', (e) => e.event === 'stats' && e.peer === peer, timeoutMs, from);
  }
}

export function isPresenceWith(e: JsonObject, other: string): boolean {
  return (
    e.event === 'presence' &&
    Array.isArray(e.peers) &&
    (e.peers as JsonObject[]).some((p) => p.name === other)
  );
}

export function isDirect(e: JsonObject): boolean {
  return (e.event === 'connected' || e.event === 'path') && e.path === 'direct';
}

/** A lab with the rendezvous on it, and chat peers whose data directories live in one temp dir. */
export class ScenarioWorld {
  readonly dataRoot = mkdtempSync(path.join(os.tmpdir(), 'punchline-scn-'));
  serverHost: Host | undefined;
  server: LabProcess | undefined;
  private serverArgs: string[] = [];

  constructor(readonly lab: Lab) {}

  /** Start (or restart) `punchline rendezvous` on 203.0.113.10:7000; resolves when it listens. */
  async rendezvous(extra: string[] = this.serverArgs): Promise<LabProcess> {
    this.serverArgs = extra;
    this.serverHost ??= await this.lab.addHost('server', { on: this.lab.internet, ip: SERVER_IP });
    const p = this.serverHost.node(CLI, [
      'rendezvous',
      '--host',
      SERVER_IP,
      '--port',
      String(SERVER_PORT),
      ...extra,
    ]);
    await p.waitForLine(/listening on udp/, 10_000);
    this.server = p;
    return p;
  }

  chat(host: Host, name: string, extra: string[] = []): ChatPeer {
    const proc = host.node(
      CLI,
      [
        'chat',
        '--server',
        `${SERVER_IP}:${SERVER_PORT}`,
        '--name',
        name,
        '--json',
        '--data-dir',
        path.join(this.dataRoot, name),
        ...extra,
        ...(process.env.PUNCHLINE_SCENARIO_DEBUG === '1' ? ['--log-level', 'debug'] : []),
      ],
      { label: `${name}@${host.name}` },
    );
    return new ChatPeer(name, host, proc);
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
 * Send the first message from `from` to `to` (the peers are registered and see each other, not
 * yet connected: the send connects first) and measure until it is printed on the other side.
 */
export async function firstMessage(
  from: ChatPeer,
  to: ChatPeer,
  text: string,
  timeoutMs = 15_000,
): Promise<{ t0: number; ms: number }> {
  const t0 = performance.now();
  from.send(to.name, text);
  const got = await to.waitStamped(
    `message "${text}"`,
    (e) => e.event === 'message' && e.text === text,
    timeoutMs,
  );
  return { t0, ms: Math.round(got.t - t0) };
}

/** How `receiver` saw the messages of `sender`: texts in order and how many ids came twice. */
export function received(
  receiver: ChatPeer,
  sender: string,
): { texts: string[]; ids: string[]; duplicated: number } {
  const msgs = receiver.messagesFrom(sender);
  const ids = msgs.map((m) => String(m.id));
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  let duplicated = 0;
  for (const n of counts.values()) if (n > 1) duplicated++;
  return { texts: msgs.map((m) => String(m.text)), ids, duplicated };
}

/** The ids of `sent` events for `peer`, and of `delivered` events for `peer`. */
export function sentAndDelivered(sender: ChatPeer, peer: string): { sent: string[]; delivered: string[] } {
  const ids = (ev: string): string[] =>
    sender
      .events(ev)
      .filter((e) => e.peer === peer)
      .map((e) => String(e.id));
  return { sent: ids('sent'), delivered: ids('delivered') };
}

export interface ScenarioRow {
  scenario: string;
  /** From the first send to its message event on the other side (includes punching: not yet connected). */
  firstMessageMs: number | undefined;
  /** The connected event: path + remote, as A saw it (and B). */
  path: string;
  sent: number;
  received: number;
  duplicated: number;
  /** Session figures ({"cmd":"stats"}) where they matter: loss scenarios. */
  stats?: string;
  note?: string;
}

const rows: ScenarioRow[] = [];

/** Print one line now and keep the row for the summary. */
export function report(row: ScenarioRow): void {
  rows.push(row);
  console.log(`lab scenario: ${formatRow(row)}`);
}

function formatRow(r: ScenarioRow): string {
  return [
    r.scenario,
    `first message ${r.firstMessageMs ?? '-'} ms`,
    `path ${r.path}`,
    `sent ${r.sent} received ${r.received} duplicated ${r.duplicated}`,
    r.stats ? `stats ${r.stats}` : '',
    r.note ?? '',
  ]
    .filter(Boolean)
    .join(' | ');
}

/** The summary table of every scenario reported in this file (markdown, for docs/lab.md). */
export function summary(): string {
  const head = '| scenario | first message | path | sent / received / duplicated | session stats | note |';
  const lines = rows.map(
    (r) =>
      `| ${r.scenario} | ${r.firstMessageMs ?? '-'} ms | ${r.path} | ${r.sent} / ${r.received} / ${r.duplicated} | ${r.stats ?? ''} | ${r.note ?? ''} |`,
  );
  return [head, '| --- | --- | --- | --- | --- | --- |', ...lines].join('\n');
}

/** "direct 10.1.0.3:4242" or "relay" from a connected or path event. */
export function pathOf(c: JsonObject): string {
  return c.path === 'direct' ? `direct ${String(c.remote)}` : String(c.path);
}

/** "rtt 1.2 ms, loss 0.31, retransmits 12 of 40 packets" from a stats event. */
export function statsOf(s: JsonObject): string {
  return (
    `rtt ${String(s.rtt_ms)} ms, loss ${String(s.loss)}, ` +
    `retransmits ${String(s.retransmits)} of ${String(s.packets_sent)} packets`
  );
}
