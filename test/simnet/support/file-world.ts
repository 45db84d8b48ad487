/**
 * Two chat services over SimWorld nodes behind NATs, with a relay, for the file transfer tests on
 * the simulated network. Everything the transfers touch (sources, received files, files.json)
 * is in memory (test/support/memory-fs.ts, one disk per peer), and the chat's own journal
 * writes at once (test/support/sync-fs.ts): no real I/O runs while virtual time does, so a run
 * replays from its seed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Endpoint } from '../../../common/net/types.js';
import { NAT_PRESETS } from '../../../common/net/sim/nat-rules.js';
import type { SimNat } from '../../../common/net/sim/nat.js';
import { PeerChatService } from '../../../peer/chat/service.js';
import type { ChatEvents } from '../../../peer/chat/types.js';
import { MemoryFs } from '../../support/memory-fs.js';
import { SimWorld } from '../../support/sim-world.js';
import type { SimPeer } from '../../support/sim-world.js';
import { syncJournalFs } from '../../support/sync-fs.js';

export const MIB = 1024 * 1024;

type FileEventName = 'file_offer' | 'file_progress' | 'file_done' | 'file_failed';

export interface FileSide {
  p: SimPeer;
  chat: PeerChatService;
  /** This peer's disk. */
  disk: MemoryFs;
  ev: { [K in FileEventName]: ChatEvents[K][] };
}

export interface FileWorld {
  w: SimWorld;
  a: FileSide;
  b: FileSide;
  /** Cut (or restore) all UDP out of b's NAT; the relay (TCP) still gets out. */
  setBlocked(v: boolean): void;
  close(): Promise<void>;
}

/**
 * a and b in one room, each registered on the relay too. `udpOut` filters every datagram the
 * peers send; `disk` sees each peer's disk before its chat service opens it (a file to send, a mount).
 */
export async function fileWorld(
  seed: number,
  opts: {
    udpOut?: (d: Uint8Array, to: Endpoint) => boolean;
    disk?: (name: string, disk: MemoryFs) => void;
  } = {},
): Promise<FileWorld> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'punchline-simfiles-'));
  const w = new SimWorld(seed, true);
  const chats: PeerChatService[] = [];
  const close = async (): Promise<void> => {
    for (const c of chats.splice(0)) await c.close();
    await w.close();
    await rm(root, { recursive: true, force: true });
  };
  await w.start();
  const na = w.nat('na', { ...NAT_PRESETS.portRestrictedCone });
  const nb = w.nat('nb', { ...NAT_PRESETS.portRestrictedCone });
  const side = async (name: string, behind: SimNat): Promise<FileSide> => {
    const p = await w.peer(name, { behind, ...(opts.udpOut ? { udpOut: opts.udpOut } : {}) });
    const disk = new MemoryFs({ now: () => w.sim.clock.wallNow() });
    opts.disk?.(name, disk);
    const chat = new PeerChatService(p.node, {
      dataDir: path.join(root, name),
      durable: false,
      fs: syncJournalFs,
      fileFs: disk.fs, // files.json goes to the same path as on disk, but in memory
    });
    chats.push(chat);
    const ev: FileSide['ev'] = { file_offer: [], file_progress: [], file_done: [], file_failed: [] };
    for (const k of Object.keys(ev) as FileEventName[]) chat.on(k, (e) => (ev[k] as unknown[]).push(e));
    return { p, chat, disk, ev };
  };
  const a = await side('a', na);
  const b = await side('b', nb);
  const relayUp = (s: FileSide): boolean => s.p.events.registered.some((r) => r.transport === 'ws');
  await w.run(
    () => a.p.events.presence.some((e) => e.peers.length === 1) && relayUp(a) && relayUp(b),
    30_000,
  );
  return { w, a, b, setBlocked: (v) => (nb.blockUdp = v), close };
}
