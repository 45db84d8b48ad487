/**
 * What the in-process file transfer tests (files.test.ts, files-share.test.ts) share: two chat
 * services in one room with a session open, a source file in the sender's data directory, and
 * recognisable bytes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ChatServiceOptions } from '../../peer/chat/service.js';
import type { ChatPeer, useChatWorld } from '../support/chat-world.js';

/** `n` bytes of a pattern that differs per `seed` (no two 251-byte runs alike within a file). */
export const pattern = (n: number, seed = 7): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * seed + (i >> 8)) % 251;
  return b;
};

/** alice and bob in one room, each seeing the other, with alice's session to bob open. */
export async function pairIn(
  world: ReturnType<typeof useChatWorld>,
  bobOpts: Partial<ChatServiceOptions> = {},
): Promise<[ChatPeer, ChatPeer]> {
  await world.start();
  const alice = await world.peer('alice', 'a');
  const bob = await world.peer('bob', 'b', bobOpts);
  const sees = (p: ChatPeer, n: string) => () =>
    p.chat.peers().some((x) => x.name === n && x.state !== 'offline');
  await alice.until(sees(alice, 'bob'));
  await bob.until(sees(bob, 'alice'));
  await alice.chat.connect('bob');
  return [alice, bob];
}

/** A file in alice's data directory (the source side). */
export async function source(alice: ChatPeer, name: string, data: Uint8Array): Promise<string> {
  const dir = path.join(alice.dataDir, 'out');
  await mkdir(dir, { recursive: true });
  const p = path.join(dir, name);
  await writeFile(p, data);
  return p;
}
