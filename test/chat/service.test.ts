import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Identity } from '../../common/identity/identity.js';
import { toHex } from '../../common/wire/bytes.js';
import { PeerChatService } from '../../peer/chat/service.js';
import type { ChatEvents, ConversationId } from '../../peer/chat/types.js';
import type { PeerKeysSeen } from '../../peer/peer-node.js';
import { hideFromPresence, lieAboutKeys } from '../support/raw-register.js';
import { SimWorld } from '../support/sim-world.js';
import { syncJournalFs } from '../support/sync-fs.js';
import type { SimPeer } from '../support/sim-world.js';

/**
 * The chat service's trust pins over the simulated internet with the real server and peers
 * (docs/security.md "Names and ids"): another peer behind a pinned name is KEY_CHANGED, nothing
 * goes to it until trust, and no message is ever handed to a session whose keys were not checked.
 */

const A = '203.0.113.80';
const A2 = '203.0.113.82';
const B = '203.0.113.81';
const M = '203.0.113.66';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'punchline-service-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Chat {
  service: PeerChatService;
  errors: ChatEvents['error'][];
  notices: ChatEvents['notice'][];
}

function chatOn(w: SimWorld, p: SimPeer, dataDir: string): Chat {
  const service = new PeerChatService(p.node, {
    dataDir,
    durable: false,
    fs: syncJournalFs,
    now: () => w.sim.clock.now(),
  });
  const errors: ChatEvents['error'][] = [];
  service.on('error', (e) => errors.push(e));
  const notices: ChatEvents['notice'][] = [];
  service.on('notice', (n) => notices.push(n));
  return { service, errors, notices };
}

const hex = (i: Identity): string => toHex(i.id);
const keysOf = (i: Identity): { signKey: string; dhKey: string } => ({
  signKey: toHex(i.signPublic),
  dhKey: toHex(i.dhPublic),
});
const to = (i: Identity): ConversationId => ({ kind: 'peer', peerId: hex(i) });
const pins = (dataDir: string): Record<string, unknown> =>
  (JSON.parse(readFileSync(path.join(dataDir, 'peers.json'), 'utf8')) as { pins: Record<string, unknown> })
    .pins;
const texts = (p: SimPeer): string[] => p.events.message.map((m) => m.text);
const stateOf = (c: Chat, conv: ConversationId, text: string, peerId: string): string | undefined =>
  c.service.history(conv).find((m) => m.text === text)?.delivery?.[peerId];

/** alice and bob in a relay world; alice has pinned bob, met him (keys pinned) and seen him leave. */
async function bobMetAndGone(
  seed: number,
): Promise<{ w: SimWorld; a: SimPeer; alice: Chat; dir: string; bob: SimPeer }> {
  const w = new SimWorld(seed, true);
  await w.start();
  const dir = tmp();
  const a = await w.peer('alice', { internetAddress: A });
  const alice = chatOn(w, a, dir);
  const bob = await w.peer('bob', { internetAddress: B });
  expect(await w.run(() => alice.service.peers().some((p) => p.name === 'bob'), 5000)).toBe(true);
  expect(pins(dir).bob).toEqual({ id: hex(bob.node.identity), since: expect.any(Number) });
  alice.service.send(to(bob.node.identity), 'hi bob');
  expect(await w.run(() => texts(bob).includes('hi bob'), 15_000)).toBe(true);
  // The session proved bob's keys: they join the pin, and the connected event shows them.
  expect(pins(dir).bob).toEqual({
    id: hex(bob.node.identity),
    ...keysOf(bob.node.identity),
    since: expect.any(Number),
  });
  expect(a.events.connected[0]).toMatchObject({
    peer: 'bob',
    peerId: hex(bob.node.identity),
    signKey: keysOf(bob.node.identity).signKey,
    dhKey: keysOf(bob.node.identity).dhKey,
    fingerprint: hex(bob.node.identity).slice(0, 16).match(/.{4}/g)!.join(':'),
  });
  await bob.node.close();
  expect(
    await w.run(() => !alice.service.peers().some((p) => p.name === 'bob' && p.state !== 'offline'), 60_000),
  ).toBe(true);
  return { w, a, alice, dir, bob };
}

describe('trust pins in the chat service', () => {
  it('another key behind a pinned name: KEY_CHANGED, messages held across a restart, /trust pins the new keys and releases them', async () => {
    const { w, a, alice, dir } = await bobMetAndGone(51);
    const mallory = await w.peer('mallory', { internetAddress: M }, { name: 'bob' });
    const mal = mallory.node.identity;
    expect(
      await w.run(() => alice.errors.some((e) => e.code === 'KEY_CHANGED' && e.peer === 'bob'), 5000),
    ).toBe(true);
    expect(alice.service.peers().find((p) => p.id === hex(mal))?.keyChanged).toBe(true);
    // Said once: one KEY_CHANGED event (the UI words it), no second notice of the same change.
    expect(alice.errors.filter((e) => e.code === 'KEY_CHANGED')).toHaveLength(1);
    expect(alice.notices.filter((n) => /key behind "bob"/.test(n.text))).toEqual([]);

    const held = alice.service.send(to(mal), 'for bob only');
    expect(held.delivery).toEqual({ [hex(mal)]: 'held' });
    await w.sim.run(20_000);
    expect(texts(mallory)).toEqual([]);
    expect(pins(dir).bob).toMatchObject({ id: expect.not.stringMatching(hex(mal)) });

    // Restart alice (a new node, the same identity and data directory): still held.
    await alice.service.close();
    await a.node.close();
    const a2 = await w.peer('alice2', { internetAddress: A2 }, { name: 'alice' }, a.node.identity);
    const alice2 = chatOn(w, a2, dir);
    expect(
      await w.run(() => alice2.errors.some((e) => e.code === 'KEY_CHANGED' && e.peer === 'bob'), 10_000),
    ).toBe(true);
    expect(stateOf(alice2, to(mal), 'for bob only', hex(mal))).toBe('held');
    await w.sim.run(20_000);
    expect(texts(mallory)).toEqual([]);

    // Only trust releases them, and pins the new id with its keys.
    alice2.service.trust('bob');
    expect(alice2.service.peers().find((p) => p.id === hex(mal))?.keyChanged).toBeUndefined();
    expect(await w.run(() => texts(mallory).includes('for bob only'), 20_000)).toBe(true);
    expect(
      await w.run(() => stateOf(alice2, to(mal), 'for bob only', hex(mal)) === 'delivered', 20_000),
    ).toBe(true);
    expect(pins(dir).bob).toEqual({ id: hex(mal), ...keysOf(mal), since: expect.any(Number) });
    expect(texts(mallory)).toEqual(['for bob only']);
    await w.close();
  });

  it('a lying server introduces another peer as bob without listing it: nothing typed to bob reaches it', async () => {
    const { w, a, alice } = await bobMetAndGone(52);
    // The server hides mallory from every member list and introduces her as "bob".
    let malHex = '';
    hideFromPresence(w.server, (m) => m.idHex === malHex);
    const liar = lieAboutKeys(w.server, () => malHex, { name: 'bob' });
    const mallory = await w.peer('mallory', { internetAddress: M });
    const mal = mallory.node.identity;
    malHex = hex(mal);
    expect(
      await w.run(() => mallory.events.presence.some((e) => e.peers.some((p) => p.name === 'alice')), 5000),
    ).toBe(true);
    void mallory.node.connect('alice').catch(() => {});
    expect(await w.run(() => a.events.connected.some((c) => c.peerId === malHex), 15_000)).toBe(true);
    expect(liar.lies).toBeGreaterThan(0);
    expect(a.events.presence.some((e) => e.peers.some((p) => p.id === malHex))).toBe(false);

    // The user sends to "bob" as the JSON mode does: the name resolves to the only present "bob".
    const target = a.node.lookup('bob').id;
    expect(target).toBe(malHex);
    const m = alice.service.send({ kind: 'peer', peerId: target }, 'for bob only');
    expect(m.delivery).toEqual({ [malHex]: 'held' });
    expect(alice.errors).toContainEqual(expect.objectContaining({ code: 'KEY_CHANGED', peer: 'bob' }));
    await w.sim.run(20_000);
    expect(texts(mallory)).toEqual([]);
    await w.close();
  });
});

describe('the node asks the trust gate before any message goes into a session', () => {
  it('queued before connecting and sent while the session opens on the relay: held until the gate says yes', async () => {
    const w = new SimWorld(53, true);
    await w.start();
    const a = await w.peer('a', { internetAddress: A }, { mode: 'relay-only' });
    const b = await w.peer('b', { internetAddress: B }, { mode: 'relay-only' });
    expect(await w.run(() => a.events.presence.some((e) => e.peers.length === 1), 5000)).toBe(true);
    const asked: (PeerKeysSeen & { receivedSoFar: number })[] = [];
    let allow = false;
    a.node.setTrustGate((p) => {
      asked.push({ ...p, receivedSoFar: b.events.message.length });
      return allow;
    });
    a.node.sendMessage('b', 'queued before connecting');
    expect(await w.run(() => a.events.connected.length === 1, 15_000)).toBe(true);
    expect(a.events.connected[0]!.path).toBe('relay');
    a.node.sendMessage('b', 'sent once open');
    await w.sim.run(10_000);
    expect(b.events.message).toEqual([]);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked[0]).toEqual({
      name: 'b',
      id: hex(b.node.identity),
      ...keysOf(b.node.identity),
      receivedSoFar: 0,
    });

    allow = true;
    a.node.release('b');
    expect(await w.run(() => b.events.message.length === 2, 15_000)).toBe(true);
    expect(texts(b)).toEqual(['queued before connecting', 'sent once open']);
    await w.close();
  });
});
