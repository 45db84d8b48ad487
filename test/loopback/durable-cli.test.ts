/**
 * "Delivered means stored" with real processes (`punchline chat --json`) on loopback: a full or
 * read-only disk under the receiver, and a poisoned outbox. The full disk is a real tmpfs and
 * the read-only disk a real read-only remount when the tests run as root (mounting needs it);
 * otherwise the read-only case uses a 0555 directory and the full disk is covered by the fault
 * seam in test/chat/durable.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loopbackChat, useProcesses } from '../support/proc.js';
import type { Json, Proc } from '../support/proc.js';

const { start, tmpDir, rendezvous } = useProcesses();
const root = process.getuid?.() === 0;

const hasPeer = (name: string) => (e: Json) =>
  e.event === 'presence' && (e.peers as { name: string }[]).some((p) => p.name === name);
const storedIn = (dir: string): number => {
  const f = path.join(dir, 'history.jsonl');
  if (!existsSync(f)) return 0;
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l !== '' && (JSON.parse(l) as { out: boolean }).out === false).length;
};
const quit = async (p: Proc): Promise<void> => {
  p.send({ cmd: 'quit' });
  expect(await p.exited).toBe(0);
};

function mountTmpfs(dir: string, size: string): () => void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  return () => execFileSync('umount', ['-l', dir]);
}

/** Fill the file system under `dir` until ENOSPC. */
function fill(dir: string): string {
  const f = path.join(dir, 'filler');
  const chunk = Buffer.alloc(4096, 1);
  for (;;) {
    try {
      writeFileSync(f, chunk, { flag: 'a' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') return f;
      throw e;
    }
  }
}

async function scenario(
  break_: (bobDir: string) => void,
  repair: (bobDir: string) => void,
  bobDir: string,
  port: number,
  aliceDir: string,
): Promise<{ deliveredWhileBroken: number; storedWhileBroken: number; delivered: number; stored: number }> {
  const alice = start(loopbackChat(port, 'alice', aliceDir, '--direct-only'));
  const bob = start(loopbackChat(port, 'bob', bobDir, '--direct-only', '--store-retry-ms', '50'));
  await alice.event(hasPeer('bob'));
  await bob.event(hasPeer('alice'));
  break_(bobDir);
  for (let i = 0; i < 5; i++) alice.send({ cmd: 'send', peer: 'bob', text: `m${i}` });
  // (peers.json may fail first, when the session's keys join alice's pin: said on its own.)
  const err = await bob.event(
    (e) =>
      e.event === 'error' &&
      e.code === 'IO' &&
      e.peer === 'alice' &&
      /history\.jsonl/.test(String(e.message)),
    20_000,
  );
  expect(String(err.message)).toMatch(/history\.jsonl/);
  await alice.event((e) => e.event === 'connected');
  const deliveredWhileBroken = alice.events((e) => e.event === 'delivered').length;
  const storedWhileBroken = storedIn(bobDir);
  repair(bobDir);
  await alice.waitFor(
    () => (alice.events((e) => e.event === 'delivered').length === 5 ? true : undefined),
    30_000,
    '5 delivered',
  );
  await bob.waitFor(
    () => (bob.events((e) => e.event === 'message').length === 5 ? true : undefined),
    30_000,
    '5 messages',
  );
  const r = {
    deliveredWhileBroken,
    storedWhileBroken,
    delivered: alice.events((e) => e.event === 'delivered').length,
    stored: storedIn(bobDir),
  };
  await quit(alice);
  await quit(bob);
  return r;
}

describe('delivered means stored, real processes', () => {
  it.skipIf(!root)(
    'a full disk (a real tmpfs, as root): delivered == stored, all arrive once space is back',
    async () => {
      const { port } = await rendezvous();
      const dir = await tmpDir();
      const bobDir = path.join(dir, 'b');
      const umount = mountTmpfs(bobDir, '1m');
      try {
        let filler = '';
        const r = await scenario(
          (d) => void (filler = fill(d)),
          () => rmSync(filler),
          bobDir,
          port,
          path.join(dir, 'a'),
        );
        expect(r).toEqual({ deliveredWhileBroken: 0, storedWhileBroken: 0, delivered: 5, stored: 5 });
      } finally {
        umount();
      }
    },
  );

  it('a read-only data directory (a read-only remount as root, else a 0555 directory): delivered == stored', async () => {
    const { port } = await rendezvous();
    const dir = await tmpDir();
    const bobDir = path.join(dir, 'b');
    const umount = root ? mountTmpfs(bobDir, '4m') : undefined;
    try {
      const ro = (d: string): void =>
        root ? void execFileSync('mount', ['-o', 'remount,ro', d]) : chmodSync(d, 0o555);
      const rw = (d: string): void =>
        root ? void execFileSync('mount', ['-o', 'remount,rw', d]) : chmodSync(d, 0o700);
      const r = await scenario(ro, rw, bobDir, port, path.join(dir, 'a'));
      expect(r).toEqual({ deliveredWhileBroken: 0, storedWhileBroken: 0, delivered: 5, stored: 5 });
    } finally {
      umount?.();
    }
  });

  it('a text over the limit in bytes (1,000,001 bytes; 333,334 "€") is refused and never written; presence goes on', async () => {
    const { port } = await rendezvous();
    const dir = await tmpDir();
    const aliceDir = path.join(dir, 'a');
    const alice = start(loopbackChat(port, 'alice', aliceDir));
    let bob = start(loopbackChat(port, 'bob', path.join(dir, 'b')));
    await alice.event(hasPeer('bob'));
    for (const text of ['a'.repeat(1_000_001), '€'.repeat(333_334)]) {
      const n = alice.json.length;
      alice.send({ cmd: 'send', peer: 'bob', text });
      const err = await alice.event((e) => e.event === 'error', 10_000, n);
      expect(err).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/at most 1000000/) });
    }
    alice.send({ cmd: 'send', peer: 'bob', text: 'fine' });
    await alice.event((e) => e.event === 'delivered', 20_000);
    for (const f of ['outbox.jsonl', 'history.jsonl']) {
      const text = existsSync(path.join(aliceDir, f)) ? readFileSync(path.join(aliceDir, f), 'utf8') : '';
      expect(text).not.toContain('aaaaaaaaaa');
      expect(text).not.toContain('€€€€');
    }
    // Presence still flows, for bob and everyone else.
    await quit(bob);
    await alice.event((e) => e.event === 'presence' && (e.peers as unknown[]).length === 0);
    bob = start(loopbackChat(port, 'bob', path.join(dir, 'b')));
    const carol = start(loopbackChat(port, 'carol', path.join(dir, 'c')));
    await alice.event((e) => hasPeer('bob')(e) && hasPeer('carol')(e));
    expect(alice.events((e) => e.event === 'error' && e.code !== 'BAD_ARGUMENT')).toEqual([]);
    await quit(carol);
  });

  it('a poisoned outbox from an older version is skipped with a warning at start and poisons nothing', async () => {
    const { port } = await rendezvous();
    const dir = await tmpDir();
    const aliceDir = path.join(dir, 'a');
    const bob = start(loopbackChat(port, 'bob', path.join(dir, 'b')));
    const bobId = (await bob.event((e) => e.event === 'registered')).peer_id as string;
    mkdirSync(aliceDir, { recursive: true, mode: 0o700 });
    const big = { op: 'queue', id: 'old1', to: bobId, room: false, text: 'a'.repeat(1_000_001), ts: 1 };
    const eur = { op: 'queue', id: 'old2', to: bobId, room: false, text: '€'.repeat(333_334), ts: 2 };
    writeFileSync(path.join(aliceDir, 'outbox.jsonl'), `${JSON.stringify(big)}\n${JSON.stringify(eur)}\n`);
    writeFileSync(
      path.join(aliceDir, 'history.jsonl'),
      JSON.stringify({
        id: 'old1',
        conv: bobId,
        fromId: 'me',
        fromName: 'alice',
        text: big.text,
        ts: 1,
        out: true,
      }) + '\n',
    );
    const alice = start(loopbackChat(port, 'alice', aliceDir));
    const warn = await alice.event((e) => e.event === 'error' && e.code === 'MALFORMED');
    expect(String(warn.message)).toMatch(/skipped 3 damaged or over-limit records/);
    await alice.event(hasPeer('bob'));
    alice.send({ cmd: 'send', peer: 'bob', text: 'after the poison' });
    await alice.event((e) => e.event === 'delivered', 20_000);
    expect(bob.events((e) => e.event === 'message').map((e) => e.text)).toEqual(['after the poison']);
    const carol = start(loopbackChat(port, 'carol', path.join(dir, 'c')));
    await alice.event(hasPeer('carol'));
    await quit(carol);
    await quit(alice);
    // Compacted: a restart has nothing left to skip in the outbox.
    expect(readFileSync(path.join(aliceDir, 'outbox.jsonl'), 'utf8')).not.toContain('aaaa');
  });
});
