import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileEvent, randomFile, useFilePeers } from '../support/file-peers.js';

const { pair } = useFilePeers();
const MiB = 1024 * 1024;

/**
 * Transfers resume after either side is killed (SIGKILL: no close, nothing flushed) and started
 * again on its data directory: no new prompt, the file arrives byte-exact, and it carries on from
 * the bytes kept rather than from the start (the receiver syncs and records its offset every
 * 8 MiB: peer/chat/file-receive.ts).
 */
describe('loopback: a file transfer survives kill -9 of either process', () => {
  for (const who of ['a', 'b'] as const)
    it(`${who === 'a' ? 'the sender' : 'the receiver'} killed after 10 MiB of 24: the rest arrives after its restart`, async () => {
      const { a, b, dir, restart } = await pair(`kill-${who}`);
      const src = path.join(dir, 'k.bin');
      const want = await randomFile(src, 24 * MiB, 40);
      a.send({ cmd: 'send_file', peer: 'b', path: src });
      const id = (await b.event((e) => e.event === 'file_offer', 15_000)).file as string;
      b.send({ cmd: 'accept_file', file: id, dir: path.join(dir, 'in') });
      await b.event((e) => e.event === 'file_progress' && (e.bytes as number) > 10 * MiB, 30_000);
      const victim = who === 'a' ? a : b;
      victim.child.kill('SIGKILL');
      await victim.exited;

      const again = restart(who);
      const [sender, receiver] = who === 'a' ? [again, b] : [a, again];
      const done = await fileEvent(receiver, 'file_done', id, 60_000);
      expect(done).toMatchObject({ sha256: want, bytes: 24 * MiB, file_path: path.join(dir, 'in', 'k.bin') });
      expect(await fileEvent(sender, 'file_done', id, 30_000)).toMatchObject({ sha256: want });
      expect(again.events((e) => e.event === 'file_offer')).toEqual([]); // no new prompt
      // The restarted side's first progress already counts the 8 MiB kept.
      const first = again.events((e) => e.event === 'file_progress' && e.file === id)[0];
      expect(first?.bytes as number).toBeGreaterThanOrEqual(8 * MiB);
    }, 90_000);
});
