/**
 * File transfer between two real terminal clients (`punchline chat`, no --json) in tmux, against a
 * real `punchline rendezvous` on loopback: alice types /send, bob sees the offer and /accepts it
 * into a directory, both see the finished line with the SHA-256, and the file is byte-exact.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, freeUdpPort, punchline } from '../support/proc.js';
import type { Proc } from '../support/proc.js';
import { HAVE_TMUX, TmuxServer } from '../support/tmux.js';

let tmux: TmuxServer | undefined;
let rdv: Proc | undefined;
let dir: string | undefined;
afterEach(async () => {
  tmux?.kill();
  tmux = undefined;
  await rdv?.kill();
  rdv = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const chatCmd = (port: number, name: string, d: string): string =>
  `cd '${d}' && LANG=C.UTF-8 '${process.execPath}' '${CLI}' chat --server 127.0.0.1:${port} --bind 127.0.0.1 --name ${name} --data-dir '${path.join(d, 'data')}'`;

/** The conversation pane's text with wrapped rows joined: a line reads whole at any width. */
const flat = (screen: string): string =>
  screen
    .split('\n')
    .map((l) => (l.includes('│') ? l.slice(l.indexOf('│') + 1) : l).trim())
    .join(' ')
    .replace(/ +/g, ' ');

const suite = HAVE_TMUX ? describe : describe.skip;
if (!HAVE_TMUX) console.warn('terminal tier skipped: tmux is not installed (apt-get install tmux)');

suite('terminal tier: a file between two real terminal clients', () => {
  it('/send at alice, the offer and /accept at bob, the finished lines on both screens, the file byte-exact', async () => {
    const port = await freeUdpPort();
    rdv = punchline(['rendezvous', '--host', '127.0.0.1', '--port', String(port)]);
    await rdv.line(/listening/);
    dir = mkdtempSync(path.join(os.tmpdir(), 'punchline-tui-files-'));
    for (const who of ['alice', 'bob']) mkdirSync(path.join(dir, who));
    const data = randomBytes(12 * 1024 * 1024 + 17);
    writeFileSync(path.join(dir, 'alice', 'holiday photos.bin'), data);
    const sha = createHash('sha256').update(data).digest('hex');
    const t = (tmux = new TmuxServer());
    t.start('alice', chatCmd(port, 'alice', path.join(dir, 'alice')));
    t.start('bob', chatCmd(port, 'bob', path.join(dir, 'bob')));
    await t.until('alice', (s) => /\bbob\b/.test(s) && /server ok/.test(s), 'bob at alice', 15_000);
    await t.until('bob', (s) => /\balice\b/.test(s), 'alice at bob', 15_000);

    // alice completes the path with Tab (relative to where she started the client) and sends.
    t.type('alice', '/send bob hol');
    t.keys('alice', 'Tab');
    await t.until('alice', (s) => s.includes('/send bob holiday\\ photos.bin'), 'the completed path', 5000);
    t.keys('alice', 'Enter');
    await t.until('alice', (s) => flat(s).includes('waiting for bob to accept'), 'the waiting line', 15_000);

    // bob sees the offer (pointed to in the room, whole in the conversation with alice).
    await t.until(
      'bob',
      (s) => flat(s).includes('alice offers you holiday photos.bin (12 MiB)'),
      'the offer',
      15_000,
    );
    t.keys('bob', 'M-2');
    const offer = await t.until(
      'bob',
      (s) => flat(s).includes('/accept [DIR] saves it'),
      'how to answer',
      5000,
    );
    expect(flat(offer)).toMatch(/from key [0-9a-f]{4}:[0-9a-f]{4}:[0-9a-f]{4}:[0-9a-f]{4}, id \S{8}/);
    t.type('bob', '/accept inbox');
    t.keys('bob', 'Enter');

    // While the bytes flow, bob's line is a progress bar (12 MiB take seconds on loopback: the
    // session's congestion control paces them, docs/session.md).
    const bar = await t.until(
      'bob',
      (s) => /\[[█░]+\] \d{1,2}% [\d.]+ \w?i?B\/12 MiB/.test(flat(s)),
      'a bar',
      30_000,
    );
    // One line per transfer, updated in place: the file's name is on the screen once.
    expect(flat(bar).split('holiday photos.bin from alice').length).toBe(2);
    const saved = path.join(dir, 'bob', 'inbox', 'holiday photos.bin');
    const bobDone = await t.until(
      'bob',
      (s) => flat(s).includes(`SHA-256 ${sha.slice(0, 16)} matched`),
      'done at bob',
      30_000,
    );
    expect(flat(bobDone)).toContain(`holiday photos.bin from alice: saved to ${saved}`);
    const aliceDone = await t.until(
      'alice',
      (s) => flat(s).includes(`SHA-256 ${sha.slice(0, 16)} matched`),
      'done at alice',
      30_000,
    );
    expect(flat(aliceDone)).toContain('✓ holiday photos.bin to bob: sent');
    expect(readFileSync(saved).equals(data)).toBe(true);
  });
});
