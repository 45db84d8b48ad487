import { describe, expect, it } from 'vitest';
import { Limits } from '../../common/wire/constants.js';
import { decode } from '../../common/wire/messages.js';
import {
  deltaPackets,
  ENTRIES_PER_PART,
  MAX_LISTABLE_MEMBERS,
  MEMBERS_PER_PART,
  presencePackets,
} from '../../rendezvous/presence.js';

/** The worst case: 1000 members (--max-room), every name 32 bytes. */
const members = Array.from({ length: 1000 }, (_, i) => ({
  id: new Uint8Array(16).fill(i & 255),
  name: `${i}`.padEnd(Limits.MAX_NAME_BYTES, 'x'),
}));
const sum = (ps: Uint8Array[]): number => ps.reduce((a, p) => a + p.length, 0);

describe('presence fan-out budget (docs/protocol.md §6.6, docs/performance.md)', () => {
  it('23 members or entries to a datagram; a full list holds at most 5865 members', () => {
    expect(MEMBERS_PER_PART).toBe(23);
    expect(ENTRIES_PER_PART).toBe(23);
    expect(MAX_LISTABLE_MEMBERS).toBe(5865);
  });

  it('a full list of 1000: 44 datagrams, at most 52.8 KB, each within MAX_DATAGRAM', () => {
    const ps = presencePackets(1, members);
    expect(ps).toHaveLength(44);
    expect(sum(ps)).toBe(31 * 44 + 49 * 1000);
    expect(sum(ps)).toBeLessThanOrEqual(52_800);
    expect(Math.max(...ps.map((p) => p.length))).toBeLessThanOrEqual(Limits.MAX_DATAGRAM);
  });

  it('a delta of the whole room of 1000: 44 datagrams of 35 + 50 per entry (4 a second: 206,160 bytes)', () => {
    const ps = deltaPackets(1, 2, 1000, members);
    expect(ps).toHaveLength(44);
    expect(4 * sum(ps)).toBe(206_160);
    expect(Math.max(...ps.map((p) => p.length))).toBeLessThanOrEqual(Limits.MAX_DATAGRAM);
    const first = decode(ps[0]!);
    expect(first).toMatchObject({ type: 0x0d, from: 1, to: 2, part: 0, parts: 44, total: 1000 });
  });

  it('one change: a delta of one entry is at most 35 + 18 + 32 = 85 bytes (4 a second: at most 340)', () => {
    expect(sum(deltaPackets(1, 2, 1000, [members[0]!]))).toBe(85);
    expect(sum(deltaPackets(1, 2, 1000, [{ id: members[0]!.id, name: undefined }]))).toBe(53);
  });
});
