/**
 * A peer that dies without a word (its host goes silent, as after SIGKILL) and is started again
 * with the same identity on another port, while the other side still holds its open direct
 * session to the dead process. The restarted peer's introduction gives the other side a candidate
 * session (peer/peer-link.ts, candidate) that replaces the open one once its handshake proves the
 * key; both sides must also punch for that introduction, so the new session finds its own direct
 * path at once instead of riding the relay until a later direct-path retry.
 */
import { describe, expect, it } from 'vitest';
import { SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

const texts = (p: SimPeer, from: string): string[] =>
  p.events.message.filter((m) => m.peer === from).map((m) => m.text);

describe('a peer restarted while the other side holds its open direct session', () => {
  it.each([51, 52, 53, 54])(
    'seed %i: the candidate replaces the session and both sides punch for it: direct within 3 s',
    async (seed) => {
      const w = new SimWorld(seed, true);
      await w.start();
      const a = await w.peer('a', { internetAddress: '198.51.100.1' });
      const identity = w.seededIdentity();
      const b = await w.peer('b', { internetAddress: '198.51.100.2' }, {}, identity);
      const relayUp = (p: SimPeer): boolean => p.events.registered.some((r) => r.transport === 'ws');
      expect(
        await w.run(
          () => relayUp(a) && relayUp(b) && b.events.presence.some((e) => e.peers.length === 1),
          15_000,
        ),
      ).toBe(true);
      b.node.sendMessage('a', 'before');
      expect(
        await w.run(
          () => a.node.peerStats('b')?.path === 'direct' && b.events.delivered.length === 1,
          20_000,
        ),
      ).toBe(true);

      // b dies without a word: nothing it sends arrives any more (its CLOSE included).
      w.sim.setLink(b.host, { loss: 1 });
      await b.node.close();
      const b2 = await w.peer('b2', { internetAddress: '198.51.100.3' }, { name: 'b' }, identity);
      const t0 = w.sim.clock.now();
      expect(
        await w.run(() => relayUp(b2) && b2.events.presence.some((e) => e.peers.length === 1), 5_000),
      ).toBe(true);
      b2.node.sendMessage('a', 'after');
      expect(await w.run(() => b2.events.delivered.length === 1, 10_000)).toBe(true);
      expect(texts(a, 'b')).toEqual(['before', 'after']);
      // Replaced, not timed out: a never reported b gone, and saw one new session.
      expect(a.events.disconnected).toEqual([]);
      expect(a.events.connected).toHaveLength(2);

      const direct = (p: SimPeer, peer: string): boolean => p.node.peerStats(peer)?.path === 'direct';
      expect(
        await w.run(() => direct(a, 'b') && direct(b2, 'a'), Math.max(0, 3_000 - (w.sim.clock.now() - t0))),
      ).toBe(true);
      await w.close();
    },
    30_000,
  );
});
