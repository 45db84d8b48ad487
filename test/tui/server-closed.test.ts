/**
 * The close reason the status line shows comes from the node (peer/peer-node.ts 'server-closed'):
 * on the simulated network a rendezvous server that shuts down closes the relay stream with
 * "server shutting down", and the peer reports it in those words.
 */
import { describe, expect, it } from 'vitest';
import { SimWorld } from '../support/sim-world.js';

describe('the server closing the relay stream', () => {
  it('is reported with the reason the server gave', async () => {
    const w = new SimWorld(71, true);
    await w.start();
    const a = await w.peer('a', { internetAddress: '198.51.100.20' });
    expect(await w.run(() => a.events.registered.some((r) => r.transport === 'ws'), 15_000)).toBe(true);
    expect(a.events['server-closed']).toEqual([]);
    void w.server.close();
    expect(await w.run(() => a.events['server-closed'].length > 0, 15_000)).toBe(true);
    expect(a.events['server-closed'][0]!.reason).toContain('server shutting down');
    for (const p of w.peers) await p.node.close();
  });
});
