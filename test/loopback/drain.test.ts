import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loopbackChat, useProcesses } from '../support/proc.js';

/**
 * `punchline rendezvous` drained on SIGTERM (rendezvous/drain.ts; docs/self-hosting.md "Draining
 * a node"): its members, listing two servers, move to the other at once (server-changed, reason
 * draining), and the node exits 0 as soon as they have left, long before its drain bound. Real
 * processes on loopback.
 */
const { start, tmpDir, rendezvous } = useProcesses();

/** Far above how long the move takes: the node exiting proves it did not wait for the bound. */
const DRAIN_MS = 120_000;

describe('punchline rendezvous on SIGTERM', () => {
  it('tells its members to move, exits 0 once they left, not at the bound', async () => {
    const dir = await tmpDir();
    const a = await rendezvous(['--key', path.join(dir, 'a.key'), '--drain-ms', String(DRAIN_MS)]);
    const b = await rendezvous(['--key', path.join(dir, 'b.key')]);
    const servers = `127.0.0.1:${a.port},127.0.0.1:${b.port}`;
    const peers = ['alice', 'bob'].map((name) => {
      const args = loopbackChat(a.port, name, path.join(dir, name));
      args[args.indexOf('--server') + 1] = servers;
      return start(args);
    });
    for (const p of peers) await p.event((e) => e.event === 'registered' && e.transport === 'ws', 20_000);
    a.proc.child.kill('SIGTERM');
    for (const p of peers) {
      const moved = await p.event((e) => e.event === 'server-changed', 20_000);
      expect(moved).toMatchObject({
        server: `127.0.0.1:${b.port}`,
        previous: `127.0.0.1:${a.port}`,
        reason: 'draining',
      });
    }
    // The node exits by itself, 0, with nobody left: long before DRAIN_MS.
    const code = await Promise.race([
      a.proc.exited,
      new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000)),
    ]);
    expect(code).toBe(0);
    expect(a.proc.stderr).toMatch(/"msg":"drained".*"left":0/);
    for (const p of peers) await p.event((e) => e.event === 'registered' && e.transport === 'ws', 20_000);
  }, 90_000);
});
