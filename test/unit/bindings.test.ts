import { describe, expect, it } from 'vitest';
import { AuthChannel } from '../../common/wire/server-auth.js';
import { Bindings } from '../../rendezvous/bindings.js';
import { presencePackets } from '../../rendezvous/presence.js';
import { InMemoryRegistry } from '../../rendezvous/registry.js';
import type { MemberRecord } from '../../rendezvous/registry.js';

const key = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const registration = { regTxid: '00', regTime: 0 };

const rec = (idHex: string, transports: { udp?: boolean; ws?: number }): MemberRecord => ({
  id: new Uint8Array(16),
  idHex,
  room: 'lobby',
  name: idHex,
  signKey: new Uint8Array(32),
  dhKey: new Uint8Array(32),
  lan: [],
  ...(transports.udp
    ? { udp: { observed: { address: '203.0.113.1', port: 1 }, lastSeen: 0, ...registration } }
    : {}),
  ...(transports.ws !== undefined
    ? { ws: { remote: { address: '198.51.100.1', port: 2 }, connection: transports.ws, ...registration } }
    : {}),
});

/** A live binding that records what it sends, with the peer's side of its channel to open it. */
function live(b: number): {
  sent: Uint8Array[];
  binding: { send: (x: Uint8Array) => void; auth: AuthChannel };
  peer: AuthChannel;
} {
  const sent: Uint8Array[] = [];
  return {
    sent,
    binding: { send: (x) => sent.push(x), auth: new AuthChannel({ send: key(b), recv: key(b + 1) }) },
    peer: new AuthChannel({ send: key(b + 1), recv: key(b) }),
  };
}

describe('registry records are plain data; the live bindings are node-local', () => {
  it('a record survives structuredClone and JSON: it holds no function and no channel', () => {
    const r = rec('a', { udp: true, ws: 7 });
    expect(structuredClone(r)).toEqual(r);
    const registry = new InMemoryRegistry();
    registry.upsert(r);
    expect(() => structuredClone(registry.get('a'))).not.toThrow();
    expect(JSON.parse(JSON.stringify(registry.get('a')))).toMatchObject({
      idHex: 'a',
      udp: { observed: { address: '203.0.113.1', port: 1 }, regTxid: '00' },
      ws: { connection: 7 },
    });
  });

  it('deliver: over UDP when the record holds it, else the stream, sealed; a copy each time', () => {
    const t = new Bindings();
    const udp = live(1);
    const ws = live(3);
    const both = rec('a', { udp: true, ws: 7 });
    t.set('a', 'udp', udp.binding);
    t.set('a', 'ws', ws.binding);
    const bytes = presencePackets(1, [])[0]!;
    const original = Uint8Array.from(bytes);
    expect(t.deliver(both, bytes)).toBe(true);
    expect(udp.sent).toHaveLength(1);
    expect(ws.sent).toHaveLength(0);
    expect(udp.peer.open(udp.sent[0]!)).toBe(true);
    expect(bytes).toEqual(original); // left untouched for the next member
    // The same member after its UDP binding expired: the stream carries it.
    expect(t.deliver(rec('a', { ws: 7 }), bytes)).toBe(true);
    expect(ws.sent).toHaveLength(1);
    expect(ws.peer.open(ws.sent[0]!)).toBe(true);
    // No live binding on this node: nothing is sent.
    expect(t.deliver(rec('b', { udp: true }), bytes)).toBe(false);
  });

  it('an entry counts only while the record holds that binding; follow and prune forget the rest', () => {
    const registry = new InMemoryRegistry();
    const t = new Bindings();
    registry.upsert(rec('a', { udp: true, ws: 7 }));
    registry.upsert(rec('b', { udp: true }));
    for (const id of ['a', 'b']) t.set(id, 'udp', live(1).binding);
    t.set('a', 'ws', live(3).binding);
    expect(t.size).toEqual({ udp: 2, ws: 1 });
    expect(t.of(rec('a', { ws: 7 }), 'udp')).toBeUndefined(); // a record without UDP: no UDP entry
    registry.unbind('a', 'ws', 7);
    t.follow('a', registry.get('a'));
    expect(t.size).toEqual({ udp: 2, ws: 0 });
    // Expiry is the registry's own doing: prune() catches up with it.
    registry.upsert({ ...rec('b', { udp: true }), udp: { ...rec('b', { udp: true }).udp!, lastSeen: 5 } });
    expect(registry.expire(1).map((r) => r.idHex)).toEqual(['a']);
    t.prune(registry);
    expect(t.size).toEqual({ udp: 1, ws: 0 });
    expect(t.of(registry.get('b')!, 'udp')).toBeDefined();
  });
});
