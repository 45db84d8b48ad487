import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loopbackChat, punchline, useProcesses } from '../support/proc.js';

/**
 * A peer that dies without a word (SIGKILL) is reported gone (docs/cli.md, `disconnected` with
 * reason `timeout`): its direct path goes silent, the relay gets its chance, and then the other
 * side says so once, and says nothing more about a path to it, even when the rendezvous restarts
 * and the relay comes back. Real CLI on loopback.
 */
const { start, tmpDir, rendezvous } = useProcesses();

describe('a peer killed with SIGKILL', () => {
  it('is reported disconnected (timeout) once; no path events for it after, across a rendezvous restart', async () => {
    const dir = await tmpDir();
    const key = path.join(dir, 'server-key.json');
    const first = await rendezvous(['--key', key]);
    const bob = start(loopbackChat(first.port, 'bob', path.join(dir, 'b')));
    await bob.event((e) => e.event === 'registered' && e.transport === 'ws');
    const alice = start(loopbackChat(first.port, 'alice', path.join(dir, 'a')));
    await alice.event((e) => e.event === 'registered' && e.transport === 'ws');
    alice.send({ cmd: 'send', peer: 'bob', text: 'still there?' });
    await alice.event((e) => e.event === 'delivered');

    bob.child.kill('SIGKILL');
    const gone = await alice.event((e) => e.event === 'disconnected', 40_000);
    expect(gone).toMatchObject({ peer: 'bob', reason: 'timeout' });
    const after = alice.json.indexOf(gone);

    // The rendezvous restarts (same key, same port): alice's relay reconnects.
    await first.proc.kill();
    const again = punchline([
      'rendezvous',
      '--host',
      '127.0.0.1',
      '--port',
      String(first.port),
      '--key',
      key,
    ]);
    try {
      await again.line(/listening on udp/);
      await alice.event((e) => e.event === 'registered' && e.transport === 'ws', 40_000, after);
      const later = alice.json.slice(after);
      expect(later.filter((e) => e.event === 'path')).toEqual([]);
      expect(later.filter((e) => e.event === 'connected')).toEqual([]);
      expect(alice.events((e) => e.event === 'disconnected')).toHaveLength(1);
    } finally {
      await again.kill();
    }
  }, 120_000);
});
