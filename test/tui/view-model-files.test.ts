/**
 * File transfer in the terminal client, against the fake service: /send and its errors, the offer
 * a receiver sees, /accept /reject /cancel (the newest, or by id prefix), the live line that a
 * transfer's progress updates in place, the done and failed lines, and the transfers in /info.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { helpLines } from '../../peer/tui/panes.js';
import { UNICODE_GLYPHS } from '../../peer/tui/format.js';
import { fakeId } from './fake-service.js';
import { bobKey, last, log, setup, tabs, text, type } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'punchline-tui-files-'));
  writeFileSync(path.join(dir, 'report.txt'), 'x'.repeat(3000));
  mkdirSync(path.join(dir, 'photos'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;

/** The client at 120x24 with its working directory and home in the temp dir. */
const client = (): ReturnType<typeof setup> => setup({}, { cwd: dir, home: dir });

describe('/send', () => {
  it('offers the file (relative to the working directory, or under ~) and shows its line in the conversation with the peer', async () => {
    const { fake, vm } = client();
    await type(vm, '/send bob report.txt');
    expect(fake.calls).toEqual([`sendFile bob ${path.join(dir, 'report.txt')}`]);
    expect(vm.activeConversation).toEqual({ kind: 'peer', peerId: fakeId('bob') });
    expect(last(vm)).toBe('09:05 -!- report.txt to bob (2.9 KiB): waiting for bob to accept (id F0000001)');
    await type(vm, '/send carol ~/report.txt');
    expect(fake.calls.at(-1)).toBe(`sendFile carol ${path.join(dir, 'report.txt')}`);
  });

  it.each([
    ['/send bob nope.txt', (d: string) => `no such file: ${path.join(d, 'nope.txt')}`],
    ['/send bob photos', (d: string) => `${path.join(d, 'photos')} is a directory; /send offers one file`],
    ['/send zed report.txt', () => 'no peer "zed" in the room'],
    ['/send bob', () => 'usage: /send NAME PATH'],
  ])('%s: one notice line, nothing offered', async (line, want) => {
    const { fake, vm } = client();
    await type(vm, line);
    expect(last(vm)).toBe(`09:05 -!- ${want(dir)}`);
    expect(fake.calls.filter((c) => c.startsWith('sendFile'))).toEqual([]);
    expect(fake.files()).toEqual([]);
  });
});

describe('an offer', () => {
  it('shows in the conversation with the sender: name, size, fingerprint, how to answer; the room points to it', async () => {
    const { fake, vm } = client();
    const id = fake.offerFile('bob', 'photo.jpg', 1.5 * MiB);
    expect(last(vm)).toBe('09:05 -!- bob offers you photo.jpg (1.5 MiB): /accept or /reject');
    expect(tabs(vm)).toContain('2:bob(1)');
    vm.open({ kind: 'peer', peerId: fakeId('bob') });
    expect(log(vm)[0]).toMatch(/^─+ new ─+$/);
    expect(log(vm).slice(1)).toEqual([
      '09:05 -!- bob offers you photo.jpg (1.5 MiB)',
      `            from key ${fake.info('bob').fingerprint}, id ${id.slice(0, 8)}`,
      '            /accept [DIR] saves it, /reject declines',
    ]);
  });

  it('/accept takes the newest offer (from this conversation’s peer first); an id prefix picks another; /accept DIR and /accept ID DIR', async () => {
    const { fake, vm } = client();
    const a = fake.offerFile('bob', 'a.bin', 10);
    const b = fake.offerFile('bob', 'b.bin', 10);
    const c = fake.offerFile('carol', 'c.bin', 10);
    await type(vm, '/accept');
    expect(fake.calls.at(-1)).toBe(`acceptFile ${c}`);
    expect(last(vm)).toBe(
      '09:05 -!- accepted c.bin from carol (10 B); its line is in the conversation with carol',
    );
    vm.open({ kind: 'peer', peerId: fakeId('bob') });
    await type(vm, '/accept photos');
    expect(fake.calls.at(-1)).toBe(`acceptFile ${b} ${path.join(dir, 'photos')}`);
    expect(last(vm)).toBe('09:05 -!- b.bin from bob (10 B): accepted, waiting for the data');
    const d = fake.offerFile('bob', 'd.bin', 10);
    await type(vm, `/accept ${a.slice(0, 8)} ~/photos`);
    expect(fake.calls.at(-1)).toBe(`acceptFile ${a} ${path.join(dir, 'photos')}`);
    await type(vm, `/accept ${d.slice(0, 8)}`);
    expect(fake.calls.at(-1)).toBe(`acceptFile ${d}`);
    await type(vm, '/accept');
    expect(last(vm)).toBe('09:05 -!- no file offer to accept');
  });

  it('/reject declines the newest or the id given; an unknown or ambiguous id says so', async () => {
    const { fake, vm } = client();
    const a = fake.offerFile('bob', 'a.bin', 10);
    fake.offerFile('bob', 'b.bin', 10);
    await type(vm, '/reject F');
    expect(last(vm)).toBe('09:05 -!- the id F matches 2 transfers; type more of it');
    await type(vm, '/reject Fzz');
    expect(last(vm)).toBe('09:05 -!- no file offer to reject with id Fzz');
    await type(vm, `/reject ${a.slice(0, 8)}`);
    expect(fake.calls).toEqual([`rejectFile ${a}`]);
    vm.open({ kind: 'peer', peerId: fakeId('bob') });
    expect(last(vm)).toBe('09:05 -!- a.bin from bob (10 B): you declined it');
    await type(vm, '/reject');
    expect(fake.calls.at(-1)).toMatch(/^rejectFile F0000002/);
    await type(vm, '/reject');
    expect(last(vm)).toBe('09:05 -!- no file offer to reject');
  });
});

describe('a transfer’s line', () => {
  it('is one line that progress updates in place: bar, percent, bytes, rate, time left', async () => {
    const { fake, vm } = client();
    const id = fake.offerFile('bob', 'photo.jpg', 4 * MiB);
    vm.open({ kind: 'peer', peerId: fakeId('bob') });
    await type(vm, '/accept');
    const before = vm.entries(bobKey).length;
    fake.fileProgress(id, 1 * MiB, 512 * 1024);
    const rows = log(vm).length;
    expect(log(vm).slice(-2)).toEqual([
      '09:05 -!- photo.jpg from bob',
      '            [██████░░░░░░░░░░░░░░░░░░] 25% 1.0 MiB/4.0 MiB 512 KiB/s 6.0 s left',
    ]);
    fake.fileProgress(id, 3 * MiB, 1024 * 1024);
    fake.fileProgress(id, 4 * MiB, 1024 * 1024);
    expect(vm.entries(bobKey)).toHaveLength(before);
    expect(log(vm)).toHaveLength(rows);
    expect(last(vm)).toBe('            [████████████████████████] 100% 4.0 MiB/4.0 MiB 1.0 MiB/s 0.0 s left');
  });

  it('at 80 columns the numbers go under the bar, and nothing wraps', async () => {
    const { fake, vm } = setup({}, { cwd: dir, cols: 80 });
    const id = fake.offerFile('bob', 'photo.jpg', 4 * MiB);
    vm.open({ kind: 'peer', peerId: fakeId('bob') });
    await type(vm, '/accept');
    fake.fileProgress(id, 2 * MiB, 512 * 1024);
    expect(log(vm).slice(-3)).toEqual([
      '09:05 -!- photo.jpg from bob',
      '            [████████████░░░░░░░░░░░░] 50%',
      '            2.0 MiB/4.0 MiB 512 KiB/s 4.0 s left',
    ]);
  });

  it('done: the receiver sees where it was saved, both see the SHA-256 matched', async () => {
    const { fake, vm } = client();
    const id = fake.offerFile('bob', 'photo.jpg', 1.5 * MiB);
    vm.open({ kind: 'peer', peerId: fakeId('bob') });
    await type(vm, '/accept');
    fake.fileProgress(id, MiB, MiB);
    const sha = fake.files()[0]!.sha256;
    fake.fileDone(id, 3200, '/home/alice/downloads/photo.jpg');
    expect(log(vm).slice(-2)).toEqual([
      '09:05 -!- ✓ photo.jpg from bob: saved to /home/alice/downloads/photo.jpg',
      `            1.5 MiB in 3.2 s, SHA-256 ${sha.slice(0, 16)} matched`,
    ]);
    await type(vm, '/send bob report.txt');
    const sent = fake.files()[0]!;
    fake.fileDone(sent.file, 41_000);
    expect(log(vm).slice(-2)).toEqual([
      '09:05 -!- ✓ report.txt to bob: sent',
      `            2.9 KiB in 41 s, SHA-256 ${sent.sha256.slice(0, 16)} matched`,
    ]);
  });

  it('failed or stopped: its code and message, in place of the waiting line', async () => {
    const { fake, vm } = client();
    await type(vm, '/send bob report.txt');
    const n = vm.entries(bobKey).length;
    fake.fileFailed(fake.files()[0]!.file, 'REJECTED', 'bob declined the file');
    expect(last(vm)).toBe('09:05 -!- ✗ report.txt to bob stopped: REJECTED bob declined the file');
    expect(vm.entries(bobKey)).toHaveLength(n);
    // A fault reads "failed", in the error colour.
    const id = fake.offerFile('bob', 'b.bin', 10);
    await type(vm, '/accept');
    fake.fileFailed(id, 'CHECKSUM', 'the SHA-256 does not match');
    expect(last(vm)).toBe('09:05 -!- ✗ b.bin from bob failed: CHECKSUM the SHA-256 does not match');
    expect(vm.render().log.at(-1)!.at(-2)!.role).toBe('error');
    // A file refused before any offer was shown (too large) is said in the room.
    fake.fileFailed(
      'Zunknown0000000000000',
      'TOO_LARGE',
      'bob: big.iso is 9 GiB; this side takes at most 4 GiB',
    );
    vm.switchTo(0);
    expect(log(vm).slice(-2)).toEqual([
      '09:05 -!- file Zunknown failed: TOO_LARGE bob: big.iso is 9 GiB; this side takes at most 4',
      '          GiB',
    ]);
  });

  it('/cancel stops the newest transfer here (or the id given), incoming or outgoing', async () => {
    const { fake, vm } = client();
    await type(vm, '/send bob report.txt');
    const out = fake.files()[0]!.file;
    const inc = fake.offerFile('bob', 'in.bin', 10);
    await type(vm, `/cancel ${out.slice(0, 8)}`);
    expect(fake.calls.at(-1)).toBe(`cancelFile ${out}`);
    expect(log(vm)).toContain('09:05 -!- ✗ report.txt to bob stopped: CANCELLED cancelled here');
    await type(vm, '/cancel');
    expect(fake.calls.at(-1)).toBe(`cancelFile ${inc}`);
    expect(last(vm)).toBe('09:05 -!- ✗ in.bin from bob stopped: CANCELLED cancelled here');
    await type(vm, '/cancel');
    expect(last(vm)).toBe('09:05 -!- no file transfer to cancel');
  });
});

describe('edge cases', () => {
  it('a transfer the client saw no event for (resumed after a restart) gets its line at its first progress', () => {
    const { fake, vm } = client();
    fake.fileList.push({
      file: 'Rresumed0000000000000',
      direction: 'send',
      peer: 'bob',
      peerId: fakeId('bob'),
      name: 'old.iso',
      size: 4 * MiB,
      bytes: 2 * MiB,
      sha256: 'ab'.repeat(32),
      state: 'waiting',
    });
    fake.fileProgress('Rresumed0000000000000', 3 * MiB, MiB);
    vm.open({ kind: 'peer', peerId: fakeId('bob') });
    expect(log(vm).slice(-2)).toEqual([
      '09:05 -!- old.iso to bob',
      '            [██████████████████░░░░░░] 75% 3.0 MiB/4.0 MiB 1.0 MiB/s 1.0 s left',
    ]);
  });

  it('/accept into a file, or /send of something that is neither file nor directory, says so', async () => {
    const { fake, vm } = setup(
      {},
      { cwd: dir, fs: { list: () => [], kind: (p) => (p.endsWith('fifo') ? 'other' : 'file') } },
    );
    fake.offerFile('bob', 'a.bin', 10);
    await type(vm, '/accept report.txt');
    expect(last(vm)).toBe(`09:05 -!- ${path.join(dir, 'report.txt')} is not a directory`);
    await type(vm, '/send bob fifo');
    expect(last(vm)).toBe(`09:05 -!- ${path.join(dir, 'fifo')} is not a regular file`);
    expect(fake.calls).toEqual([]);
  });
});

describe('/info and /help', () => {
  it('/info NAME lists the transfers with that peer; /info in the room lists them all', async () => {
    const { fake, vm } = client();
    await type(vm, '/send bob report.txt');
    const out = fake.files()[0]!.file;
    const inc = fake.offerFile('carol', 'c.bin', 2 * MiB);
    fake.fileProgress(inc, MiB / 2, MiB);
    await type(vm, '/info');
    expect(log(vm).slice(-2)).toEqual([
      '            files (1):',
      `              report.txt to bob  offered  0 B/2.9 KiB 0%  id ${out.slice(0, 8)}`,
    ]);
    expect(log(vm).join('\n')).toContain('rtt 23 ms');
    expect(log(vm).filter((l) => l.includes('c.bin from carol'))).toEqual([]);
    vm.switchTo(0);
    await type(vm, '/info');
    expect(log(vm).slice(-3)).toEqual([
      '09:05 -!- files (2):',
      `            report.txt to bob  offered  0 B/2.9 KiB 0%  id ${out.slice(0, 8)}`,
      `            c.bin from carol  active  512 KiB/2.0 MiB 25%  id ${inc.slice(0, 8)}`,
    ]);
  });

  it('/help lists the file commands', () => {
    const help = text(helpLines(UNICODE_GLYPHS, 70)).join('\n');
    for (const u of ['/send NAME PATH', '/accept [ID] [DIR]', '/reject [ID]', '/cancel [ID]'])
      expect(help).toContain(u);
  });
});
