/**
 * What the chat service tells the status bar about the server (peer/chat/service.ts): the public
 * endpoint is the UDP mapping peers punch to, never the relay stream's TCP source port, and the
 * reason the server gave for closing the connection reaches the UI until the next registration,
 * and a move to another server reaches it with its reason.
 * A stand-in PeerNode plays the node's events in the order the real one emits them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Emitter } from '../../common/emitter.js';
import { generateIdentity } from '../../common/identity/identity.js';
import { PeerChatService } from '../../peer/chat/service.js';
import type { PeerEvents, PeerNode } from '../../peer/peer-node.js';

class StandInNode extends Emitter<PeerEvents> {
  readonly identity = generateIdentity();
  readonly name = 'alice';
  readonly room = 'lobby';
  /** Two servers (`--server A,B`): the service shows the one in use. */
  readonly serverNames = ['a.example:7000', 'b.example:7000'];
  readonly serverName = 'a.example:7000';
  peerList(): [] {
    return [];
  }
  setTrustGate(): void {}
  setReceiver(): void {}
  /** File transfers (peer/chat/files.ts, service.ts) take control and bulk records; none come here. */
  setControlReceiver(): void {}
  setBulkReceiver(): void {}
  play<K extends keyof PeerEvents>(name: K, e: PeerEvents[K]): void {
    this.emit(name, e);
  }
}

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function service(): { node: StandInNode; chat: PeerChatService } {
  dir = mkdtempSync(path.join(os.tmpdir(), 'punchline-chat-status-'));
  const node = new StandInNode();
  const chat = new PeerChatService(node as unknown as PeerNode, { dataDir: dir, durable: false });
  return { node, chat };
}

describe('the chat service and the server state', () => {
  it('the public endpoint is the UDP mapping, whichever transport registers last', async () => {
    const { node, chat } = service();
    node.play('registered', { selfId: 'x', public: '198.51.100.7:40000', transport: 'udp' });
    node.play('registered', { selfId: 'x', public: '198.51.100.7:51354', transport: 'ws' });
    expect(chat.self).toMatchObject({ publicEndpoint: '198.51.100.7:40000', server: 'registered' });
    await chat.close();
  });

  it('with only the relay stream registered there is no endpoint to show rather than a wrong one', async () => {
    const { node, chat } = service();
    node.play('registered', { selfId: 'x', public: '198.51.100.7:51354', transport: 'ws' });
    expect(chat.self.publicEndpoint).toBeUndefined();
    expect(chat.self.server).toBe('registered');
    await chat.close();
  });

  it("the server's close reason is passed on in its own words and cleared by the next registration", async () => {
    const { node, chat } = service();
    const seen: (string | undefined)[] = [];
    chat.on('self', (s) => seen.push(s.serverClosed));
    node.play('server-closed', { reason: 'closed by remote (1001 server shutting down)' });
    expect(chat.self.serverClosed).toBe('server shutting down');
    node.play('registered', { selfId: 'x', public: '198.51.100.7:40000', transport: 'udp' });
    expect(chat.self.serverClosed).toBeUndefined();
    expect(seen).toEqual(['server shutting down', undefined]);
    await chat.close();
  });

  it('a move to another server reaches the view with its reason (draining or unanswered)', async () => {
    const { node, chat } = service();
    expect(chat.self.serverName).toBe('a.example:7000');
    node.play('server-changed', { server: 'b.example:7000', previous: 'a.example:7000', reason: 'draining' });
    expect(chat.self).toMatchObject({ serverName: 'b.example:7000', serverChange: 'draining' });
    node.play('server-changed', {
      server: 'a.example:7000',
      previous: 'b.example:7000',
      reason: 'unanswered',
    });
    expect(chat.self).toMatchObject({ serverName: 'a.example:7000', serverChange: 'unanswered' });
    await chat.close();
  });
});
