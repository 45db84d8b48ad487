import { stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loopbackChat, useProcesses } from '../support/proc.js';
import type { Json, Proc } from '../support/proc.js';

const { start, tmpDir: tmp, rendezvous } = useProcesses();

describe('loopback: real rendezvous and two real chat --json processes', () => {
  it('register, see each other, connect directly and exchange messages', async () => {
    const { port } = await rendezvous();
    const dir = await tmp();
    const alice = start(loopbackChat(port, 'alice', path.join(dir, 'a')));
    const bob = start(loopbackChat(port, 'bob', path.join(dir, 'b')));

    const reg = await alice.event((e) => e.event === 'registered');
    expect(reg.peer_id).toMatch(/^[0-9a-f]{32}$/);
    expect(reg.public).toMatch(/^127\.0\.0\.1:\d+$/);
    await alice.event(
      (e) => e.event === 'presence' && (e.peers as { name: string }[]).some((p) => p.name === 'bob'),
    );

    // Keys were created with private permissions.
    expect((await stat(path.join(dir, 'a', 'identity.json'))).mode & 0o777).toBe(0o600);

    alice.send({ cmd: 'connect', peer: 'bob' });
    // The session starts on the relay at once and moves to the punched path; on loopback the
    // handshake may finish on either, so `connected` names the path the first message took.
    const ca = await alice.event((e) => e.event === 'connected');
    expect(ca).toMatchObject({ peer: 'bob' });
    expect(ca.ms).toBeLessThan(1000);
    const cb = await bob.event((e) => e.event === 'connected');
    expect(cb).toMatchObject({ peer: 'alice', peer_id: reg.peer_id });
    const direct = (p: Proc, c: Json): Promise<Json> =>
      c.path === 'direct' ? Promise.resolve(c) : p.event((e) => e.event === 'path' && e.path === 'direct');
    expect((await direct(alice, ca)).remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await direct(bob, cb)).remote).toMatch(/^127\.0\.0\.1:\d+$/);

    alice.send({ cmd: 'send', peer: 'bob', text: 'hello bob' });
    bob.send({ cmd: 'send', peer: 'alice', text: 'hi alice ✓' });
    const got = await bob.event((e) => e.event === 'message');
    expect(got).toMatchObject({ from: 'alice', peer_id: reg.peer_id, text: 'hello bob' });
    expect(got.id).toMatch(/^[A-Za-z0-9_-]{21}$/); // a nanoid chosen by the sender
    expect(await alice.event((e) => e.event === 'message')).toMatchObject({
      from: 'bob',
      text: 'hi alice ✓',
    });

    // The docs/cli.md contract: sent (queued) then delivered (receipt), with the same id as the message.
    const sent = await alice.event((e) => e.event === 'sent');
    expect(sent).toMatchObject({ peer: 'bob', id: got.id });
    expect(await alice.event((e) => e.event === 'delivered' && e.id === got.id)).toMatchObject({
      peer: 'bob',
    });
    alice.send({ cmd: 'stats', peer: 'bob' });
    const st = await alice.event((e) => e.event === 'stats');
    expect(st).toMatchObject({ peer: 'bob', path: 'direct', state: 'direct', retransmits: 0, pending: 0 });
    for (const k of ['rtt_ms', 'loss', 'cwnd', 'connect_ms']) expect(typeof st[k], k).toBe('number');
    expect(st.cwnd as number).toBeGreaterThanOrEqual(2400);

    alice.send({ cmd: 'peers' });
    const peers = await alice.event((e) => e.event === 'peers');
    expect(peers.peers).toEqual([expect.objectContaining({ name: 'bob', state: 'direct' })]);

    alice.send({ cmd: 'quit' });
    expect(await alice.exited).toBe(0);
    // Bob sees alice leave the room.
    await bob.event((e) => e.event === 'presence' && (e.peers as unknown[]).length === 0);
  });

  it('a send to a peer not yet connected connects first, and the message arrives', async () => {
    const { port } = await rendezvous();
    const dir = await tmp();
    const a = start(loopbackChat(port, 'a', path.join(dir, 'a'), '--room', 'r2'));
    const b = start(loopbackChat(port, 'b', path.join(dir, 'b'), '--room', 'r2'));
    await a.event((e) => e.event === 'presence' && (e.peers as unknown[]).length === 1);
    await b.event((e) => e.event === 'registered');
    a.send({ cmd: 'send', peer: 'b', text: 'first' });
    expect(await b.event((e) => e.event === 'message')).toMatchObject({ from: 'a', text: 'first' });
  });

  it('--relay-only: the session goes through the real WebSocket relay on the same port', async () => {
    const { port } = await rendezvous();
    const dir = await tmp();
    const a = start(loopbackChat(port, 'a', path.join(dir, 'a'), '--relay-only', '--room', 'r3'));
    const b = start(loopbackChat(port, 'b', path.join(dir, 'b'), '--relay-only', '--room', 'r3'));
    await a.event((e) => e.event === 'registered' && e.transport === 'ws');
    await a.event((e) => e.event === 'presence' && (e.peers as unknown[]).length === 1);
    a.send({ cmd: 'send', peer: 'b', text: 'via the relay' });
    expect(await b.event((e) => e.event === 'message')).toMatchObject({ from: 'a', text: 'via the relay' });
    expect(await a.event((e) => e.event === 'connected')).toMatchObject({
      peer: 'b',
      path: 'relay',
      remote: 'relay',
    });
    await a.event((e) => e.event === 'delivered');
    a.send({ cmd: 'stats', peer: 'b' });
    expect(await a.event((e) => e.event === 'stats')).toMatchObject({ path: 'relay', state: 'relay' });
    expect(a.events((e) => e.event === 'path')).toEqual([]);
  });

  it('a second key cannot take a name held in the room: NAME_TAKEN', async () => {
    const { port } = await rendezvous();
    const dir = await tmp();
    const first = start(loopbackChat(port, 'carol', path.join(dir, '1')));
    await first.event((e) => e.event === 'registered');
    const second = start(loopbackChat(port, 'carol', path.join(dir, '2')));
    const err = await second.event((e) => e.event === 'error');
    expect(err.code).toBe('NAME_TAKEN');
    expect(second.events((e) => e.event === 'registered')).toEqual([]);
  });

  it('bad input gets clear errors and the process keeps serving', async () => {
    const { port } = await rendezvous();
    const dir = await tmp();
    const a = start(loopbackChat(port, 'x', dir));
    await a.event((e) => e.event === 'registered');
    a.child.stdin!.write('not json\n');
    a.send({ cmd: 'launch' });
    a.send({ cmd: 'send', peer: 'nobody', text: 'x' });
    a.send({ cmd: 'send', peer: 'nobody' });
    const errors = await a.waitFor(
      () => {
        const e = a.events((x) => x.event === 'error');
        return e.length >= 4 ? e : undefined;
      },
      5000,
      'four errors',
    );
    expect(errors.map((e) => e.code)).toEqual([
      'BAD_ARGUMENT',
      'BAD_ARGUMENT',
      'UNKNOWN_PEER',
      'BAD_ARGUMENT',
    ]);
    a.send({ cmd: 'peers' });
    await a.event((e) => e.event === 'peers');
  });
});

describe('CLI flags', () => {
  it('every command has --help', async () => {
    for (const args of [['--help'], ['rendezvous', '--help'], ['chat', '--help'], ['help', 'chat']]) {
      const p = start(args);
      expect(await p.exited).toBe(0);
      expect(p.lines.join('\n')).toMatch(/Usage: punchline/);
    }
  });

  it('wrong flags exit 2 with a clear message', async () => {
    // The flag rules themselves are pure and tested in test/unit/cli-flags.test.ts and
    // test/relay/cli.test.ts; here, that a usage error becomes exit 2 and a message in each command.
    for (const [args, msg] of [
      [['chat', '--name', 'a', '--json'], /--server HOST:PORT is required[\s\S]*punchline chat --help/],
      [['rendezvous', '--bogus'], /Unknown option '--bogus'/],
      [['frobnicate'], /unknown command/],
    ] as const) {
      const p = start([...args]);
      expect(await p.exited).toBe(2);
      expect(p.stderr).toMatch(msg);
    }
  });
});
