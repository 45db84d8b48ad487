/**
 * Helpers for symmetric.test.ts: one chat run from the relay to a direct path between a
 * port-restricted cone and a symmetric NAT (the port search of peer/port-search.ts), timed from
 * the event stamps of relay-kit.ts, and the per-direction figures (rate, median, range).
 */
import { expect } from 'vitest';
import { parseJsonObject, type JsonObject, type NatKind, type Router } from '../../common/lab/index.js';
import {
  expectExactlyOnce,
  pathOf,
  report,
  sleep,
  type Peer,
  type Stamped,
  type World,
} from './relay-kit.js';

/** Runs per direction; LAB_SYMMETRIC_RUNS may lower it for local iteration. */
export const RUNS = Math.max(1, Math.min(10, Number(process.env.LAB_SYMMETRIC_RUNS ?? 10) || 10));
/** The cadence of the chat while waiting for the direct path (each side, ms). */
const SEND_GAP_MS = 100;
/** The wait for the direct path: at most this long, and at most this many sends from A. */
const DIRECT_WAIT_MS = 15_000;
const MAX_WAIT_SENDS = DIRECT_WAIT_MS / SEND_GAP_MS;
/** Messages each way once direct, so some cross the new path before the exactly-once check. */
const AFTER_DIRECT = 5;

/** Peer flags: debug logs (`port search`, `punch step`) kept on stderr for the failure report. */
export const PEER_FLAGS = ['--log-level', 'debug'];

export const isDirect = (e: JsonObject): boolean =>
  (e.event === 'connected' || e.event === 'path') && e.path === 'direct';

/** What one run measured. */
export interface DirectRun {
  /** From A's first send to A's first direct event (ms); undefined: still on the relay. */
  directMs: number | undefined;
  /** UDP conntrack entries in natA / natB at the end of the run. */
  conntrack: [number, number];
}

/** UDP conntrack entries a router holds now. */
export async function udpEntries(r: Router): Promise<number> {
  return (await r.conntrack('udp')).length;
}

/** The strategy of each `port search` a peer logged (peer/port-searches.ts, debug), in order. */
export function searches(p: Peer): string[] {
  return p.proc.stderr.flatMap((l) => {
    const e = parseJsonObject(l);
    return e?.msg === 'port search' ? [String(e.strategy)] : [];
  });
}

/** A's stderr lines naming the port search and the punch outcome: what a missed run looked like. */
function searchLog(p: Peer): string {
  return p.proc.stderr
    .filter(
      (l) => /port search|no direct path|punch (succeeded|failed)|path/i.test(l) && !/punch step/.test(l),
    )
    .slice(-20)
    .join('\n    ');
}

/**
 * A (alice, behind `natA`) sends the first message to B (bob, behind `natB`), then both sides
 * chat every ~100 ms (B once its session is open: an earlier send of B's would ask for a second
 * introduction) until A's session is direct, at most 15 s; then AFTER_DIRECT more each way; then
 * every message must have arrived exactly once on each side.
 */
export async function runToDirect(
  world: World,
  kindA: NatKind,
  kindB: NatKind,
  label: string,
): Promise<DirectRun> {
  const { a, b, natA, natB } = await world.pair({ nat: kindA }, { nat: kindB }, PEER_FLAGS);
  const [regA] = await a.ready('bob', ['udp', 'ws']);
  const [regB] = await b.ready('alice', ['udp', 'ws']);
  const ab: string[] = [];
  const ba: string[] = [];
  const sendA = (): void => {
    ab.push(`${label} a->b ${ab.length}`);
    a.send('bob', ab[ab.length - 1]!);
  };
  const sendB = (): void => {
    if (b.all('connected').length === 0) return;
    ba.push(`${label} b->a ${ba.length}`);
    b.send('alice', ba[ba.length - 1]!);
  };

  const t0 = performance.now();
  sendA();
  let direct: Stamped | undefined;
  for (let i = 0; i < MAX_WAIT_SENDS && performance.now() - t0 < DIRECT_WAIT_MS; i++) {
    direct = a.events.find((s) => isDirect(s.e));
    if (direct) break;
    if (!a.proc.running || !b.proc.running)
      throw a.proc.failure('a peer exited while waiting for the direct path');
    // Pacing, not waiting: the direct path's time comes from its event's stamp.
    await sleep(SEND_GAP_MS / 2);
    sendB();
    await sleep(SEND_GAP_MS / 2);
    sendA();
  }
  direct ??= a.events.find((s) => isDirect(s.e));
  for (let i = 0; i < AFTER_DIRECT; i++) {
    sendA();
    await sleep(SEND_GAP_MS / 2);
    sendB();
    await sleep(SEND_GAP_MS / 2);
  }
  await expectExactlyOnce(a, b, ab, ba);
  const conntrack: [number, number] = [await udpEntries(natA), await udpEntries(natB)];
  const directMs = direct ? Math.round(direct.t - t0) : undefined;

  const ca = a.all('connected')[0];
  const cb = b.all('connected')[0];
  const sa = await a.stats('bob');
  const roles = `${searches(a).join('+') || 'none'} / ${searches(b).join('+') || 'none'}`;
  if (direct) {
    // The path is A's view of B's NAT: its public address, at whatever port the search found.
    expect(String(direct.e.remote)).toMatch(new RegExp(`^${natB.wanIp.replace(/\./g, '\\.')}:\\d+$`));
    // ...found by the port search: the symmetric side opened sockets, the cone side swept ports.
    // A search that misses (its odds' tail) is followed by another at the direct-path retry:
    // every search a side ran had its role.
    const role = (k: NatKind): string => (k === 'cone' ? 'probe-ports' : 'open-sockets');
    expect([...new Set(searches(a))], roles).toEqual([role(kindA)]);
    expect([...new Set(searches(b))], roles).toEqual([role(kindB)]);
  } else {
    console.log(
      `lab symmetric: ${label} stayed on the relay; A's log:\n    ${searchLog(a)}\n  B's log:\n    ${searchLog(b)}`,
    );
  }
  report(a, b, {
    scenario: label,
    topology: `A behind ${kindA}, B behind ${kindB}`,
    firstMessageMs: firstMessageMs(b, t0),
    connect: `${pathOf(ca)} / ${pathOf(cb)}`,
    final: pathOf(sa),
    note:
      `direct ${directMs ?? '-'} ms via ${String(direct?.e.event ?? '-')}; registered ${String(regA?.public)} / ` +
      `${String(regB?.public)}; search ${roles}; UDP conntrack entries natA ${conntrack[0]} natB ${conntrack[1]}`,
  });
  return { directMs, conntrack };
}

function firstMessageMs(to: Peer, t0: number): number | undefined {
  const m = to.events.find((s) => s.e.event === 'message');
  return m ? Math.round(m.t - t0) : undefined;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
}

/** `lab symmetric: cone/symmetric 10/10 direct, median X ms, min-max Y-Z ms`. */
export function summaryLine(direction: string, runs: DirectRun[]): string {
  const times = runs.flatMap((r) => (r.directMs === undefined ? [] : [r.directMs]));
  const range = times.length
    ? `median ${median(times)} ms, min-max ${Math.min(...times)}-${Math.max(...times)} ms`
    : 'no direct run';
  return `lab symmetric: ${direction} ${times.length}/${runs.length} direct, ${range} (all: ${runs
    .map((r) => r.directMs ?? 'relay')
    .join(', ')})`;
}
