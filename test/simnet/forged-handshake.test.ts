import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../common/identity/identity.js';
import { Rng } from '../../common/net/sim/random.js';
import type { Endpoint } from '../../common/net/types.js';
import { InitiatorHandshake, ResponderHandshake } from '../../common/session/handshake-driver.js';
import type { HandshakeConfig } from '../../common/session/handshake-driver.js';
import { encodeHandshakePacket, parseHandshakePacket } from '../../common/session/packet.js';
import { initialConnectionId } from '../../common/session/session-handshake.js';
import type { Session } from '../../common/session/session.js';
import { MsgType } from '../../common/wire/constants.js';
import { fromHex } from '../../common/wire/bytes.js';
import type { PeerNode } from '../../peer/peer-node.js';
import type { PeerLink } from '../../peer/peer-link.js';
import { SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

/** What an observer of the introduction (on the path, or told the introId) can reach: the node's live state. */
interface Inside {
  punching: { attempts: Map<string, unknown> };
  table: { peers: Map<string, { link: PeerLink }> };
}
const inside = (n: PeerNode): Inside => n as unknown as Inside;
const sessionOf = (n: PeerNode): Session | undefined => [...inside(n).table.peers.values()][0]?.link.session;

/**
 * Two honest peers on the internet (slow links), and mallory next to them (a fast one). Mallory
 * knows the introduction id and runs the Noise XX handshake with its own static key against the
 * responder (SESSION_INIT, then SESSION_FINISH proving its key) and, with the initiator's message 1
 * seen on the path, against the initiator (a SESSION_RESPONSE proving its key). Before: the victim
 * gave up with KEY_MISMATCH and the pair did not connect. Now: counted, dropped, connected.
 */
async function attack(seed: number): Promise<{ a: SimPeer; b: SimPeer; forged: number[]; w: SimWorld }> {
  const w = new SimWorld(seed);
  await w.start();
  const a = await w.peer('a', { internetAddress: '203.0.113.80' });
  const b = await w.peer('b', { internetAddress: '203.0.113.81' });
  for (const p of [a, b]) w.sim.setLink(p.host, { delayMs: 20 });
  const mh = w.sim.addHost('mallory', { internetAddress: '203.0.113.66' });
  const sock = mh.network.createUdpSocket();
  await sock.bind(0);
  const mallory = generateIdentity();
  const rng = new Rng(seed, 'mallory');
  const forged: number[] = [];
  const send = (type: number, d: Uint8Array, to: Endpoint): void => {
    forged.push(type);
    sock.send(d, to);
  };

  // a asks for the introduction, so a initiates the session (peer/peer-link.ts, spawn).
  const [initiator, responder] = [a, b];
  const at = (p: SimPeer): Endpoint => ({ address: p.host.address, port: p.node.local!.port });
  const config = (introId: Uint8Array, victim: SimPeer): HandshakeConfig => ({
    staticKey: { publicKey: mallory.dhPublic, privateKey: mallory.dhPrivate },
    expectedRemoteStatic: victim.node.identity.dhPublic,
    prologue: introId,
    localCid: rng.fill(new Uint8Array(8)),
    params: { receiveWindow: 2 * 1024 * 1024, maxAckDelayMs: 25 },
    randomBytes: (n) => rng.fill(new Uint8Array(n)),
  });
  const forger: { asInitiator?: InitiatorHandshake } = {};
  sock.onMessage((d) => {
    // The responder answered mallory's message 1: finish with mallory's own key.
    const p = parseHandshakePacket(d);
    if (p.type !== MsgType.SESSION_RESPONSE || !forger.asInitiator) return;
    const { result, message3 } = forger.asInitiator.onMessage2(p.message);
    send(
      MsgType.SESSION_FINISH,
      encodeHandshakePacket(MsgType.SESSION_FINISH, result.remoteCid, message3),
      at(responder),
    );
  });

  await w.run(() => a.events.presence.some((e) => e.peers.length === 1), 5000);
  void a.node.connect('b').catch(() => {});
  // The moment the responder has the introduction: message 1 from mallory, to its public endpoint.
  await w.run(() => inside(responder.node).punching.attempts.size > 0, 5000);
  const introId = fromHex([...inside(responder.node).punching.attempts.keys()][0]!);
  const asInitiator = new InitiatorHandshake(config(introId, responder));
  forger.asInitiator = asInitiator;
  send(
    MsgType.SESSION_INIT,
    encodeHandshakePacket(MsgType.SESSION_INIT, initialConnectionId(introId), asInitiator.message1),
    at(responder),
  );
  // The moment the initiator's message 1 is on the wire: a message 2 from mallory, proving its key.
  await w.run(() => {
    const hs = (
      sessionOf(initiator.node) as unknown as { hs: { initiatorHs?: InitiatorHandshake } } | undefined
    )?.hs.initiatorHs;
    return hs !== undefined;
  }, 5000);
  const s = sessionOf(initiator.node)!;
  const m1 = (s as unknown as { hs: { initiatorHs: InitiatorHandshake } }).hs.initiatorHs.message1;
  const asResponder = new ResponderHandshake(config(introId, initiator));
  const r = asResponder.onMessage1(m1);
  send(
    MsgType.SESSION_RESPONSE,
    encodeHandshakePacket(MsgType.SESSION_RESPONSE, s.localCid, r.message2),
    at(initiator),
  );
  return { a, b, forged, w };
}

describe('forged handshake messages (right ids, another static key)', () => {
  it('do not stop the introduced pair from connecting; each victim counts what it dropped', async () => {
    for (const seed of [51, 52]) {
      const { a, b, forged, w } = await attack(seed);
      const ok = await w.run(
        () => a.events.connected.length === 1 && b.events.connected.length === 1,
        10_000,
      );
      expect([...forged].sort()).toEqual([
        MsgType.SESSION_INIT,
        MsgType.SESSION_RESPONSE,
        MsgType.SESSION_FINISH,
      ]);
      expect(ok, JSON.stringify([a.events.error, b.events.error])).toBe(true);
      expect([...a.events.error, ...b.events.error]).toEqual([]);
      const dropped = [a, b].map((p) => sessionOf(p.node)!.stats().dropped.keyMismatch);
      expect(dropped.sort()).toEqual([1, 1]); // the initiator's message 2, the responder's message 3
      a.node.sendMessage('b', 'still us');
      expect(await w.run(() => b.events.message.length === 1, 5000)).toBe(true);
      await w.close();
    }
  });
});
