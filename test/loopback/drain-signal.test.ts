import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../common/identity/identity.js';
import { NodeUdpSocket } from '../../common/net/udp-node.js';
import { Limits, MsgType } from '../../common/wire/constants.js';
import { decode, encode } from '../../common/wire/messages.js';
import type { Cookie } from '../../common/wire/messages.js';
import { freeUdpPort, useProcesses } from '../support/proc.js';
import type { Proc } from '../support/proc.js';
import { rawRegister } from '../support/raw-register.js';

/**
 * A second SIGTERM or SIGINT during a drain (rendezvous/main.ts, docs/self-hosting.md "Draining a
 * node") ends it at once. The member here never moves: a registration made by hand over UDP that
 * ignores GOING_AWAY (as a client older than it would), so the first signal leaves the node
 * draining (GOING_AWAY sent again every second) until its 120 s bound.
 */
const { start, tmpDir } = useProcesses();
const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

const DRAIN_MS = 120_000;

/** Wait until `check` holds, polled on each datagram or every 100 ms, for at most `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A member registered by hand over UDP that reads nothing the server says after REGISTERED. */
async function stubbornMember(port: number): Promise<{ datagrams: () => number }> {
  const sock = new NodeUdpSocket();
  closers.push(() => sock.close());
  let cookie: Cookie | undefined;
  let count = 0;
  sock.onMessage((d) => {
    count++;
    if (cookie) return;
    try {
      const m = decode(d);
      if (m.type === MsgType.COOKIE) cookie = m;
    } catch {
      /* sealed: not for this stub */
    }
  });
  await sock.bind(0, '127.0.0.1');
  const to = { address: '127.0.0.1', port };
  sock.send(encode({ type: MsgType.HELLO, txid: new Uint8Array(randomBytes(Limits.TXID_BYTES)) }), to);
  await until(() => cookie !== undefined, 10_000, 'COOKIE');
  const reg = rawRegister(generateIdentity(), cookie!, new Uint8Array(randomBytes(Limits.TXID_BYTES)), {
    room: 'lobby',
    name: 'stubborn',
  });
  sock.send(reg.bytes, to);
  return { datagrams: () => count };
}

async function health(port: number): Promise<{ status: string; peers: number }> {
  return (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as {
    status: string;
    peers: number;
  };
}

/** A node with one member that will not move, drained by `first`: still draining two GOING_AWAYs later. */
async function drainingNode(first: NodeJS.Signals): Promise<{ proc: Proc; port: number }> {
  const dir = await tmpDir();
  const port = await freeUdpPort();
  const proc = start([
    'rendezvous',
    ...['--host', '127.0.0.1', '--port', String(port), '--key', path.join(dir, 'k.key')],
    ...['--drain-ms', String(DRAIN_MS), '--log-level', 'info'],
  ]);
  await proc.line(/listening on udp 127\.0\.0\.1:\d+/);
  const member = await stubbornMember(port);
  const peers = async (): Promise<number> => (await health(port)).peers;
  const deadline = Date.now() + 10_000;
  while ((await peers()) !== 1) {
    if (Date.now() > deadline) throw new Error('the stub never registered');
    await new Promise((r) => setTimeout(r, 100));
  }
  const before = member.datagrams();
  proc.child.kill(first);
  // GOING_AWAY at once and again a second later (rendezvous/drain.ts DRAIN_RESEND_MS): still draining.
  await until(() => member.datagrams() >= before + 2, 20_000, 'two GOING_AWAYs');
  expect(proc.exitCode).toBeUndefined();
  expect((await health(port)).status).toBe('draining');
  return { proc, port };
}

describe('punchline rendezvous: a second signal during a drain', () => {
  for (const [first, second] of [
    ['SIGTERM', 'SIGTERM'],
    ['SIGTERM', 'SIGINT'],
  ] as const)
    it(`${first} then ${second}: exits 0 at once, the member still bound`, async () => {
      const { proc } = await drainingNode(first);
      proc.child.kill(second);
      // Bounded far below DRAIN_MS: exiting at all before it proves the drain was cut short.
      const code = await Promise.race([
        proc.exited,
        new Promise<'still running'>((r) => setTimeout(() => r('still running'), 20_000)),
      ]);
      expect(code).toBe(0);
      expect(proc.stderr).toMatch(/second signal: exiting without waiting/);
      // Cut short: the drain ends with the member still bound, long before its bound.
      expect(proc.stderr).toMatch(/"msg":"drained".*"left":1/);
    }, 60_000);
});
