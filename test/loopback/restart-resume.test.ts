import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loopbackChat, useProcesses } from '../support/proc.js';
import type { Json } from '../support/proc.js';

/**
 * A sender killed (SIGKILL) in the middle of a backlog and started again: the other side still
 * holds its open session to the dead process. The restarted sender's new introduction makes the
 * other side start a candidate session beside the open one, which replaces it once its handshake
 * proves the key (peer/peer-link.ts, candidate), so the backlog flows at once: every message
 * exactly once and in order, without waiting for the old session to time out (before: a TIMEOUT
 * and about 33 s). Real CLI on loopback.
 */
const { start, tmpDir, rendezvous } = useProcesses();

describe('a sender killed mid-backlog and restarted', () => {
  it('is back in session on a new introduction, not after a timeout: all messages once, in order', async () => {
    const { port } = await rendezvous();
    const dir = await tmpDir();
    const alice = start(loopbackChat(port, 'alice', path.join(dir, 'a')));
    await alice.event((e) => e.event === 'registered' && e.transport === 'ws');
    const bobArgs = loopbackChat(port, 'bob', path.join(dir, 'b'));
    const bob = start(bobArgs);
    await bob.event(
      (e) => e.event === 'presence' && (e.peers as { name: string }[]).some((p) => p.name === 'alice'),
    );
    const N = 200;
    const pad = 'x'.repeat(20_000); // large enough that the kill lands mid-backlog
    for (let i = 0; i < N; i++) bob.send({ cmd: 'send', peer: 'alice', text: `m${i} ${pad}` });
    // The kill must not land before bob has taken every message: a send is bob's only once it is
    // answered by `sent` (its outbox record is on disk, peer/cli/json-lines.ts). Lines still in
    // the pipe, or read but not yet written, die with the process, and no restart can bring back
    // what was never on disk (on a loaded machine bob reads 4 MB of commands slowly enough that an
    // early kill loses the last tens of them, and alice then waits for messages that are nowhere).
    const sent = (): number => bob.events((e) => e.event === 'sent').length;
    await bob.waitFor(() => (sent() >= N ? true : undefined), 30_000, `bob's answers to all ${N} sends`);
    const got = (): Json[] => alice.events((e) => e.event === 'message');
    await alice.waitFor(() => (got().length >= 5 ? true : undefined), 30_000, 'the first messages');
    bob.child.kill('SIGKILL');
    await bob.exited;
    const before = got().length;
    const connectedBefore = alice.events((e) => e.event === 'connected').length;

    const bob2 = start(bobArgs);
    await alice.waitFor(() => (got().length >= N ? true : undefined), 60_000, `all ${N} messages`);
    const texts = got().map((e) => String(e.text).split(' ')[0]);
    expect(texts).toEqual(Array.from({ length: N }, (_, i) => `m${i}`));
    expect(before).toBeLessThan(N); // the kill did land mid-backlog
    // Replaced by the new session, not timed out: alice never said bob was gone, and neither
    // side's handshake timed out.
    expect(alice.events((e) => e.event === 'disconnected')).toEqual([]);
    expect(alice.events((e) => e.event === 'connected').length).toBe(connectedBefore + 1);
    expect(bob2.events((e) => e.event === 'error' && e.code === 'TIMEOUT')).toEqual([]);
  }, 120_000);
});
