/**
 * files.json (peer/chat/file-store.ts FileBook) read back from a disk someone else can write to:
 * a damaged file is set aside and the transfers start empty; a damaged record is dropped and the
 * sound ones still resume; nothing in it makes the load throw.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FILES_FILE, FileBook } from '../../peer/chat/file-store.js';
import type { ReceiveRecord, SendRecord } from '../../peer/chat/file-store.js';

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = '';
});

const send: SendRecord = {
  file: 'AbC_-123',
  peerId: 'ab'.repeat(16),
  peer: 'bob',
  path: '/tmp/x.bin',
  name: 'x.bin',
  size: 10,
  mtimeMs: 1.5,
  sha256: 'cd'.repeat(32),
  accepted: true,
};
const receive: ReceiveRecord = {
  file: 'DeF_-456',
  peerId: 'ef'.repeat(16),
  peer: 'alice',
  name: 'y.bin',
  size: 100,
  sha256: '01'.repeat(32),
  dir: '/tmp/in',
  temp: '/tmp/in/.y.bin.punchline-part',
  offset: 50,
};

async function book(text: string): Promise<FileBook> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'punchline-filebook-'));
  await writeFile(path.join(dir, FILES_FILE), text);
  return new FileBook(dir);
}

describe('files.json from disk', () => {
  it('sound records load as written', async () => {
    const b = await book(
      JSON.stringify({ send: [send], receive: [receive], done: [{ file: 'Q', peerId: send.peerId }] }),
    );
    expect(await b.load()).toEqual({
      send: [send],
      receive: [receive],
      done: [{ file: 'Q', peerId: send.peerId }],
    });
  });

  it('damaged records are dropped one by one; the sound ones stay', async () => {
    const bad: unknown[] = [
      null,
      7,
      { ...send, file: '../x' },
      { ...send, peerId: 'nothex' },
      { ...send, size: -1 },
      { ...send, size: '10' },
      { ...send, sha256: 'short' },
      { ...send, accepted: 'yes' },
      { ...send, path: 5 },
    ];
    const badReceive: unknown[] = [
      { ...receive, offset: 101 }, // past the size
      { ...receive, temp: {} },
      { ...receive, offset: 1.5 },
      { ...receive, peerId: undefined },
    ];
    const b = await book(
      JSON.stringify({ send: [...bad, send], receive: [...badReceive, receive], done: [{ file: 3 }, null] }),
    );
    expect(await b.load()).toEqual({ send: [send], receive: [receive], done: [] });
  });

  it('a file that is not the shape is set aside (files.json.bad) and the transfers start empty', async () => {
    for (const text of ['{not json', '[]', '{"send":{},"receive":[],"done":[]}', 'null']) {
      const b = await book(text);
      expect(await b.load()).toEqual({ send: [], receive: [], done: [] });
      expect(await readdir(dir)).toEqual([`${FILES_FILE}.bad`]);
      expect(await readFile(path.join(dir, `${FILES_FILE}.bad`), 'utf8')).toBe(text);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
