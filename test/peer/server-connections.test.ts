/**
 * The node's ties to the server (peer/server-connections.ts) with a server that never answers, on a
 * virtual clock: the state it reports and how often it says the server is unreachable.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { generateIdentity } from '../../common/identity/identity.js';
import { silentLogger } from '../../common/log.js';
import type { Endpoint } from '../../common/net/types.js';
import { encodeBindingSuccess, isStunMessage } from '../../common/wire/stun.js';
import type { PeerEvents } from '../../peer/peer-events.js';
import { ServerConnections } from '../../peer/server-connections.js';
import { ServerGate } from '../../peer/server-gate.js';

const SERVER: Endpoint = { address: '203.0.113.10', port: 7000 };

function silentServer() {
  const clock = new VirtualClock();
  let next = 0;
  const randomBytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => next++ & 255);
  const gate = new ServerGate(SERVER, randomBytes);
  const sent: Uint8Array[] = [];
  const events: { name: keyof PeerEvents; e: unknown }[] = [];
  const servers = new ServerConnections(
    {
      server: SERVER,
      room: 'lobby',
      name: 'alice',
      lan: [],
      keepaliveMs: 15_000,
      relayUrl: undefined,
      serverFingerprint: undefined,
    },
    {
      identity: generateIdentity(),
      clock,
      logger: silentLogger,
      randomBytes,
      streams: undefined,
      send: (b) => sent.push(b),
      gate,
      emit: (name, e) => events.push({ name, e }),
      presence: () => {},
      introduce: () => {},
      relayUp: () => {},
      relayed: () => {},
      observedChanged: () => {},
    },
  );
  const errors = (): PeerEvents['error'][] =>
    events.filter((x) => x.name === 'error').map((x) => x.e as PeerEvents['error']);
  return { clock, gate, sent, events, servers, errors };
}

describe('server connections', () => {
  it('an unanswered server: lost, said unreachable once while retrying goes on', async () => {
    const { clock, sent, events, servers, errors } = silentServer();
    servers.start();
    expect(servers.state).toBe('connecting');
    expect(servers.relayConfigured).toBe(false);
    expect(servers.signalling).toBe(servers.udp);
    await clock.advanceAsync(10_000);
    expect(servers.state).toBe('lost');
    expect(events.filter((x) => x.name === 'server')).toEqual([{ name: 'server', e: { state: 'lost' } }]);
    expect(errors()).toHaveLength(1);
    expect(errors()[0]!.code).toBe('SERVER_UNREACHABLE');
    expect(errors()[0]!.message).toMatch(/; retrying$/);
    expect(errors()[0]!.message).not.toMatch(/STUN/);
    const before = sent.length;
    await clock.advanceAsync(120_000);
    expect(sent.length).toBeGreaterThan(before); // still trying
    expect(errors()).toHaveLength(1);
    servers.close();
  });

  it('a port that answered our STUN request but never punchline is named for what it likely is', async () => {
    const { clock, gate, sent, servers, errors } = silentServer();
    servers.start();
    const stun = sent.find((b) => isStunMessage(b))!;
    expect(gate.noteStunAnswer(encodeBindingSuccess(stun.subarray(8, 20), SERVER), SERVER)).toBe(true);
    await clock.advanceAsync(10_000);
    expect(errors()[0]!.message).toMatch(
      /answers STUN but not punchline: it is a STUN server or a rendezvous's alternate port/,
    );
    expect(servers.drops).toMatchObject({ bad_mac: 0, unauthenticated: 0 });
    servers.close();
  });
});
