import { describe, expect, it } from 'vitest';
import { CookieJar, COOKIE_BUCKET_MS } from '../../rendezvous/cookie.js';
import { InMemoryRegistry, NO_UDP_CANDIDATE, observedUdp } from '../../rendezvous/registry.js';
import type { MemberRecord } from '../../rendezvous/registry.js';

const auth = { regTxid: '00', regTime: 0 };

const rec = (idHex: string, name: string, room = 'lobby', lastSeen = 0): MemberRecord => ({
  id: new Uint8Array(16),
  idHex,
  room,
  name,
  signKey: new Uint8Array(32),
  dhKey: new Uint8Array(32),
  lan: [],
  udp: { observed: { address: '203.0.113.1', port: 1 }, lastSeen, ...auth },
});

describe('InMemoryRegistry', () => {
  it('a name is held by one key per room; the same key may re-register or rename', () => {
    const r = new InMemoryRegistry();
    expect(r.upsert(rec('a', 'alice'))).toEqual({ ok: true, changed: true, previousRoom: undefined });
    expect(r.upsert(rec('b', 'alice'))).toEqual({ ok: false, code: 'NAME_TAKEN', holder: 'alice' });
    expect(r.upsert(rec('b', 'alice', 'other')).ok).toBe(true); // another room is another namespace
    expect(r.upsert(rec('a', 'alice'))).toEqual({ ok: true, changed: false, previousRoom: undefined });
    expect(r.upsert(rec('a', 'alicia')).ok).toBe(true);
    expect(r.upsert(rec('c', 'alice')).ok).toBe(true); // the old name was released
  });
  it('versions grow on every change and survive a room emptying', () => {
    const r = new InMemoryRegistry();
    r.upsert(rec('a', 'alice'));
    const v1 = r.roomVersion('lobby');
    r.upsert(rec('b', 'bob'));
    expect(r.roomVersion('lobby')).toBe(v1 + 1);
    r.remove('a');
    r.remove('b');
    expect(r.roomVersion('lobby')).toBe(v1 + 3);
    r.upsert(rec('a', 'alice'));
    expect(r.roomVersion('lobby')).toBe(v1 + 4);
  });
  it('moving rooms leaves the old one', () => {
    const r = new InMemoryRegistry();
    r.upsert(rec('a', 'alice', 'x'));
    expect(r.upsert(rec('a', 'alice', 'y'))).toMatchObject({ ok: true, previousRoom: 'x' });
    expect(r.members('x')).toEqual([]);
    expect(r.members('y').map((m) => m.idHex)).toEqual(['a']);
  });
  it('expires members not seen since the cutoff', () => {
    const r = new InMemoryRegistry();
    r.upsert(rec('a', 'alice', 'lobby', 100));
    r.upsert(rec('b', 'bob', 'lobby', 200));
    expect(r.expire(150).map((m) => m.idHex)).toEqual(['a']);
    expect(r.size).toBe(1);
  });
  it('refuses to grow a room past its limit', () => {
    const r = new InMemoryRegistry(2);
    r.upsert(rec('a', 'a'));
    r.upsert(rec('b', 'b'));
    expect(r.upsert(rec('c', 'c'))).toEqual({ ok: false, code: 'ROOM_FULL' });
  });
  it('one id holds a UDP and/or a WS binding; it leaves when the last one goes', () => {
    const r = new InMemoryRegistry();
    const ws = { remote: { address: '198.51.100.1', port: 40000 }, connection: 7, ...auth };
    r.upsert(rec('a', 'alice', 'lobby', 100));
    r.upsert({ ...rec('a', 'alice', 'lobby', 100), ws });
    r.upsert({ ...rec('b', 'bob'), udp: undefined, ws: { ...ws, connection: 8 } });
    expect(r.countByTransport()).toEqual({ udp: 1, ws: 2 });
    expect(observedUdp(r.get('b')!)).toEqual(NO_UDP_CANDIDATE);
    // Expiry takes only the stale UDP binding; the connection keeps alice registered.
    expect(r.expire(150)).toEqual([]);
    expect(r.get('a')?.udp).toBeUndefined();
    expect(r.countByTransport()).toEqual({ udp: 0, ws: 2 });
    // A stale connection id does not unbind a newer connection.
    expect(r.unbind('a', 'ws', 99)).toBeUndefined();
    expect(r.get('a')?.ws?.connection).toBe(7);
    expect(r.unbind('a', 'ws', 7)?.idHex).toBe('a');
    expect(r.get('a')).toBeUndefined();
    expect(r.countByTransport()).toEqual({ udp: 0, ws: 1 });
    expect(r.members('lobby').map((m) => m.idHex)).toEqual(['b']);
  });
});

describe('InMemoryRegistry: lookalike names and ids per source', () => {
  it('a lookalike of a held name is NAME_TAKEN with the name it collides with; released with it', () => {
    const r = new InMemoryRegistry();
    expect(r.upsert(rec('a', 'bob')).ok).toBe(true);
    expect(r.upsert(rec('b', 'B0B'))).toEqual({ ok: false, code: 'NAME_TAKEN', holder: 'bob' });
    expect(r.upsert(rec('b', '\u0432\u043e\u0432'))).toEqual({
      ok: false,
      code: 'NAME_TAKEN',
      holder: 'bob',
    });
    expect(r.upsert(rec('a', 'Bob')).ok).toBe(true); // the holder itself may change case
    expect(r.upsert(rec('a', 'robert')).ok).toBe(true);
    expect(r.upsert(rec('b', 'b0b')).ok).toBe(true); // released by the rename
  });
  it('counts distinct ids per source across UDP and WS bindings', () => {
    const r = new InMemoryRegistry();
    const ws = { remote: { address: '203.0.113.1', port: 5 }, connection: 1, ...auth };
    r.upsert(rec('a', 'a'));
    r.upsert({ ...rec('a', 'a'), ws }); // same id, same source: still one
    r.upsert({ ...rec('b', 'b'), udp: undefined, ws: { ...ws, connection: 2 } });
    expect(r.idsFrom('203.0.113.1')).toBe(2);
    r.unbind('b', 'ws', 2);
    expect(r.idsFrom('203.0.113.1')).toBe(1);
    r.remove('a');
    expect(r.idsFrom('203.0.113.1')).toBe(0);
  });
});

describe('CookieJar', () => {
  it('a cookie is valid for its address and transport for one to two buckets only', () => {
    let now = 1_000_000;
    const jar = new CookieJar(() => now, new Uint8Array(32).fill(9));
    const from = { address: '203.0.113.9', port: 999 };
    const c = jar.issue(from, 'udp');
    expect(jar.check(c, from, 'udp')).toBe(true);
    // The same address over the other transport: a captured UDP REGISTER cannot be replayed on a
    // WebSocket from that address (nor the reverse).
    expect(jar.check(c, from, 'ws')).toBe(false);
    expect(jar.check(jar.issue(from, 'ws'), from, 'udp')).toBe(false);
    expect(jar.check(c, { ...from, port: 1000 }, 'udp')).toBe(false);
    expect(jar.check(c, { ...from, address: '203.0.113.10' }, 'udp')).toBe(false);
    now += COOKIE_BUCKET_MS;
    expect(jar.check(c, from, 'udp')).toBe(true);
    now += COOKIE_BUCKET_MS;
    expect(jar.check(c, from, 'udp')).toBe(false);
    const forged = Uint8Array.from(jar.issue(from, 'udp'));
    forged[10] = forged[10]! ^ 1;
    expect(jar.check(forged, from, 'udp')).toBe(false);
  });
});
