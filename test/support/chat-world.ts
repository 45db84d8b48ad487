import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { SystemClock } from '../../common/clock.js';
import { loadOrCreateIdentity } from '../../common/identity/identity.js';
import { nodeNetwork } from '../../common/net/udp-node.js';
import { PeerChatService } from '../../peer/chat/service.js';
import type { ChatServiceOptions } from '../../peer/chat/service.js';
import type { ChatEvents } from '../../peer/chat/types.js';
import { PeerNode } from '../../peer/peer-node.js';
import type { PeerEvents } from '../../peer/peer-node.js';
import { RendezvousServer } from '../../rendezvous/server.js';
import { freeUdpPort } from './proc.js';

/**
 * Chat services in this process over real loopback UDP and a real rendezvous server, so a test
 * can put a fault under a peer's files (test/support/faulty-fs.ts) and restart a peer on the same
 * data directory. Waits are on events, bounded only by vitest's timeout.
 */
export interface ChatPeer {
  name: string;
  dataDir: string;
  node: PeerNode;
  chat: PeerChatService;
  chatEvents: { [K in keyof ChatEvents]: ChatEvents[K][] };
  nodeEvents: { delivered: PeerEvents['delivered'][]; sent: PeerEvents['sent'][] };
  /** Resolves when `pred` holds (a counter or recorded events; no time limit of its own). */
  until(pred: () => boolean): Promise<void>;
  close(): Promise<void>;
}

export function useChatWorld(): {
  start(): Promise<void>;
  peer(name: string, dir: string, opts?: Partial<ChatServiceOptions>): Promise<ChatPeer>;
} {
  let server: RendezvousServer | undefined;
  let port = 0;
  let root = '';
  const open: ChatPeer[] = [];
  afterEach(async () => {
    for (const p of open.splice(0)) await p.close();
    await server?.close();
    server = undefined;
    if (root) await rm(root, { recursive: true, force: true });
    root = '';
  });
  return {
    async start() {
      port = await freeUdpPort();
      root = await mkdtemp(path.join(os.tmpdir(), 'punchline-durable-'));
      server = new RendezvousServer(
        { host: '127.0.0.1', port, altPort: 0 },
        { network: nodeNetwork, clock: new SystemClock() },
      );
      await server.start();
    },
    async peer(name, dir, opts = {}) {
      const dataDir = path.join(root, dir);
      const { identity } = await loadOrCreateIdentity(dataDir);
      const node = new PeerNode(
        { server: { address: '127.0.0.1', port }, name, bind: '127.0.0.1', mode: 'direct-only' },
        { network: nodeNetwork, clock: new SystemClock(), identity },
      );
      const waiters = new Set<() => void>();
      const wake = (): void => {
        for (const w of [...waiters]) w();
      };
      const chatEvents = {
        self: [],
        peers: [],
        message: [],
        delivery: [],
        notice: [],
        error: [],
        registered: [],
        presence: [],
        connected: [],
        path: [],
        disconnected: [],
        'server-changed': [],
        server: [],
        file_offer: [],
        file_progress: [],
        file_done: [],
        file_failed: [],
      } as ChatPeer['chatEvents'];
      const nodeEvents: ChatPeer['nodeEvents'] = { delivered: [], sent: [] };
      node.on('delivered', (e) => (nodeEvents.delivered.push(e), wake()));
      node.on('sent', (e) => (nodeEvents.sent.push(e), wake()));
      await node.start();
      const chat = new PeerChatService(node, { dataDir, ...opts });
      for (const k of Object.keys(chatEvents) as (keyof ChatEvents)[])
        chat.on(k, (e) => {
          (chatEvents[k] as unknown[]).push(e);
          wake();
        });
      let closed = false;
      const p: ChatPeer = {
        name,
        dataDir,
        node,
        chat,
        chatEvents,
        nodeEvents,
        // Re-checked on every event, and every 20 ms for counters that move without one.
        until: (pred) =>
          new Promise<void>((resolve) => {
            const tick = setInterval(() => check(), 20);
            const check = (): void => {
              if (!pred()) return;
              waiters.delete(check);
              clearInterval(tick);
              resolve();
            };
            waiters.add(check);
            check();
          }),
        async close() {
          if (closed) return;
          closed = true;
          await chat.close();
          await node.close();
        },
      };
      open.push(p);
      return p;
    },
  };
}
