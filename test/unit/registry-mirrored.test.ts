import { describe, expect, it } from 'vitest';
import { toHex } from '../../common/wire/bytes.js';
import { InMemoryRegistry } from '../../rendezvous/registry.js';
import type { MemberRecord } from '../../rendezvous/registry.js';

const rec = (n: number, node?: string): MemberRecord => {
  const id = new Uint8Array(16).fill(n);
  return {
    id,
    idHex: toHex(id),
    room: 'r',
    name: `m${n}`,
    signKey: new Uint8Array(32),
    dhKey: new Uint8Array(32),
    lan: [],
    udp: { observed: { address: '192.0.2.1', port: 1000 + n }, lastSeen: 0, regTxid: '00', regTime: 0 },
    ...(node !== undefined ? { node } : {}),
  };
};

describe('a registry holding members mirrored from other nodes (docs/architecture.md, Cluster)', () => {
  it('expiry leaves mirrored members to the node that holds them', () => {
    const r = new InMemoryRegistry();
    r.upsert(rec(1));
    r.upsert(rec(2, 'other'));
    expect(r.expire(10).map((m) => m.name)).toEqual(['m1']);
    expect(r.get(toHex(new Uint8Array(16).fill(2)))?.node).toBe('other');
  });

  it('a mirrored member holds its name in the room like a local one', () => {
    const r = new InMemoryRegistry();
    r.upsert(rec(2, 'other'));
    const clash = { ...rec(3), name: 'm2' };
    expect(r.upsert(clash)).toMatchObject({ ok: false, code: 'NAME_TAKEN' });
  });
});
