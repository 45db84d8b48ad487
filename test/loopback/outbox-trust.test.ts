/**
 * The outbox's promises (docs/cli.md) with real processes on loopback: nothing typed is lost across restarts
 * (the outbox), nothing is shown twice (ids), and a changed key behind a pinned name holds
 * messages until the user trusts it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loopbackChat, useProcesses } from '../support/proc.js';
import type { Proc } from '../support/proc.js';

const { start, tmpDir, rendezvous } = useProcesses();

async function setup(): Promise<{ chat: (name: string, dataDir: string) => Proc }> {
  const { port } = await rendezvous();
  const dir = await tmpDir();
  return { chat: (name, dataDir) => start(loopbackChat(port, name, path.join(dir, dataDir))) };
}

const quit = async (p: Proc): Promise<void> => {
  p.send({ cmd: 'quit' });
  expect(await p.exited).toBe(0);
};

const hasPeer = (name: string) => (e: Record<string, unknown>) =>
  e.event === 'presence' && (e.peers as { name: string }[]).some((p) => p.name === name);

describe('outbox and trust with real processes', () => {
  it('send to an offline peer, restart the sender, start the receiver: delivered exactly once', async () => {
    const { chat } = await setup();
    let alice = chat('alice', 'a');
    let bob = chat('bob', 'b');
    await alice.event(hasPeer('bob'));
    await bob.event((e) => e.event === 'registered');
    await quit(bob); // bob goes offline
    await alice.event((e) => e.event === 'presence' && (e.peers as unknown[]).length === 0);

    alice.send({ cmd: 'send', peer: 'bob', text: 'while you were away' });
    const sent = await alice.event((e) => e.event === 'sent');
    await quit(alice); // the sender restarts before bob is back
    alice = chat('alice', 'a');
    await alice.event((e) => e.event === 'registered');

    bob = chat('bob', 'b');
    const got = await bob.event((e) => e.event === 'message', 20_000);
    expect(got).toMatchObject({ from: 'alice', text: 'while you were away', id: sent.id });
    await alice.event((e) => e.event === 'delivered' && e.id === sent.id, 20_000);

    // Exactly once: restart both again; the outbox is empty and nothing is shown twice.
    await quit(alice);
    await quit(bob);
    alice = chat('alice', 'a');
    bob = chat('bob', 'b');
    await alice.event(hasPeer('bob'));
    alice.send({ cmd: 'send', peer: 'bob', text: 'marker' });
    await bob.event((e) => e.event === 'message' && e.text === 'marker', 20_000);
    expect(bob.events((e) => e.event === 'message').map((e) => e.text)).toEqual(['marker']);
  });

  it('a different key behind a pinned name: KEY_CHANGED, messages held until trust', async () => {
    const { chat } = await setup();
    const alice = chat('alice', 'a');
    const bob = chat('bob', 'b');
    await alice.event(hasPeer('bob')); // bob's key is pinned now
    await quit(bob);
    await alice.event((e) => e.event === 'presence' && (e.peers as unknown[]).length === 0);

    const impostor = chat('bob', 'b2'); // same name, another key
    const reg = await impostor.event((e) => e.event === 'registered');
    const warn = await alice.event((e) => e.event === 'error' && e.code === 'KEY_CHANGED');
    expect(String(warn.message)).toMatch(/key behind "bob" changed/);

    alice.send({ cmd: 'send', peer: 'bob', text: 'held until trusted' });
    // Answered once the outbox holds it, and marked held: nothing goes out until trust.
    await alice.event((e) => e.event === 'sent');
    expect(alice.events((e) => e.event === 'sent')).toEqual([
      { event: 'sent', peer: 'bob', peer_id: reg.peer_id, id: expect.any(String), held: true },
    ]);
    expect(impostor.events((e) => e.event === 'message')).toEqual([]);

    alice.send({ cmd: 'trust', peer: 'bob' });
    expect(await alice.event((e) => e.event === 'trusted')).toMatchObject({
      peer: 'bob',
      peer_id: reg.peer_id,
    });
    expect(await impostor.event((e) => e.event === 'message', 15_000)).toMatchObject({
      text: 'held until trusted',
    });
    await alice.event((e) => e.event === 'delivered', 15_000);
    expect(impostor.events((e) => e.event === 'message').map((e) => e.text)).toEqual(['held until trusted']);
  });

  it('a wrong-shape peers.json stops the client before it registers: exit 1, the file named and left as it was', async () => {
    const { port } = await rendezvous();
    const dir = path.join(await tmpDir(), 'a');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, 'peers.json');
    await writeFile(file, '{"pins":5}'); // loaded as "no pins" before: every key re-pinned
    const p = start(loopbackChat(port, 'alice', dir));
    expect(await p.exited).toBe(1);
    expect(p.stderr).toContain(
      `${file} is damaged (unsupported version undefined; expected 1 or 2); fix or move it away`,
    );
    expect(p.json.some((e) => e.event === 'registered')).toBe(false);
    expect(await readFile(file, 'utf8')).toBe('{"pins":5}');
  });
});
