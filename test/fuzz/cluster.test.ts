import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeClusterMessage, isSharedMember } from '../../rendezvous/cluster/shared.js';
import { describeTarget, parseRedisUrl } from '../../rendezvous/cluster/redis-url.js';
import { check, decodesOrRefuses, jsonDamageOf, textMutationOf } from './support.js';

const FILE = 'test/fuzz/cluster.test.ts';

/**
 * The cluster channel (rendezvous/cluster/shared.ts): every node reads what any node, another
 * version of punchline or a hand-typed PUBLISH put on it. A message decodes to one that holds
 * what the node will use, or to undefined (dropped and counted); it never throws.
 */
const id = 'ab'.repeat(16);
const member = {
  id,
  node: 'n1',
  room: 'r',
  name: 'alice',
  signKey: '01'.repeat(32),
  dhKey: '02'.repeat(32),
  lan: [{ address: '10.0.0.2', port: 4000 }],
  udp: { regTxid: '0a0b', regTime: 1, observed: { address: '198.51.100.7', port: 40000 }, lastSeen: 5 },
  ws: { regTxid: '0c0d', regTime: 2 },
};
const SEEDS = [
  JSON.stringify({ t: 'up', node: 'n1', member }),
  JSON.stringify({
    t: 'up',
    node: 'n1',
    member: { ...member, udp: { ...member.udp, nat: { kind: 'sequential', step: 1, last: 9 } } },
  }),
  JSON.stringify({ t: 'down', node: 'n1', id }),
  JSON.stringify({ t: 'beat', node: 'n1' }),
  JSON.stringify({
    t: 'intro',
    node: 'n1',
    intro: { from: id, target: 'cd'.repeat(16), introId: '01'.repeat(8) },
  }),
];

const isHex = (v: unknown, bytes: number): boolean =>
  typeof v === 'string' && v.length === bytes * 2 && /^[0-9a-f]*$/i.test(v);

function hostile(bytes: Uint8Array): void {
  const m = decodeClusterMessage(Buffer.from(bytes).toString('utf8'));
  if (m === undefined) return;
  expect(typeof m.node === 'string' && m.node.length <= 64).toBe(true);
  const v = m as unknown as Record<string, unknown>;
  if (v.t === 'up') {
    expect(isSharedMember(v.member)).toBe(true);
    expect((v.member as { node: string }).node).toBe(m.node);
  } else if (v.t === 'down') expect(isHex(v.id, 16)).toBe(true);
  else if (v.t === 'intro') {
    const i = v.intro as Record<string, unknown>;
    expect(isHex(i.from, 16) && isHex(i.target, 16) && isHex(i.introId, 8)).toBe(true);
  } else expect(v.t).toBe('beat');
}

describe('fuzz: cluster channel messages (rendezvous/cluster/shared.ts)', () => {
  it('the seeds decode', () => {
    for (const s of SEEDS) expect(decodeClusterMessage(s)).toBeDefined();
  });
  it('arbitrary text decodes to a sound message or undefined, never throws', () => {
    check(
      FILE,
      fc.property(
        fc.string({ maxLength: 400 }).map((s) => Buffer.from(s)),
        hostile,
      ),
    );
  });
  it('byte mutations of sound messages behave the same', () => {
    check(FILE, fc.property(textMutationOf(SEEDS), hostile), 2);
  });
  it('JSON damage (wrong types, numbers such as 1e999, missing and extra fields) behaves the same', () => {
    check(FILE, fc.property(jsonDamageOf(SEEDS), hostile), 2);
  });
});

describe('fuzz: --redis URLs (rendezvous/cluster/redis-url.ts)', () => {
  it('a URL is a unix path or a host with a port and a database, never with a password; or BAD_ARGUMENT', () => {
    const url = fc
      .tuple(
        fc.constantFrom('redis://', 'rediss://', 'unix://', 'http://', ''),
        fc.constantFrom('', 'u@', 'u:pw@', ':pw@', '%00@'),
        fc.oneof(fc.domain(), fc.ipV4(), fc.constant('[::1]'), fc.string({ maxLength: 8 })),
        fc.oneof(
          fc.constant(''),
          fc.nat(70000).map((p) => `:${p}`),
          fc.string({ maxLength: 4 }),
        ),
        fc.oneof(
          fc.constant(''),
          fc.nat(20).map((d) => `/${d}`),
          fc.string({ maxLength: 6 }).map((s) => `/${s}`),
        ),
      )
      .map((parts) => parts.join(''));
    check(
      FILE,
      fc.property(fc.oneof(url, fc.string()), fc.option(fc.string({ maxLength: 8 })), (t, pw) => {
        const r = decodesOrRefuses(() => parseRedisUrl(t, pw ?? undefined), ['BAD_ARGUMENT']);
        if (!r) return;
        expect(new URL(t).password).toBe('');
        if (r.path !== undefined) expect(r.path.length).toBeGreaterThan(0);
        else {
          expect(Number.isInteger(r.port) && r.port! >= 1 && r.port! <= 65535).toBe(true);
          expect(r.host).toBeTruthy();
          expect(Number.isInteger(r.db) && r.db >= 0).toBe(true);
        }
        // The password never shows in what is logged.
        expect(describeTarget(r)).toBe(describeTarget({ ...r, password: undefined }));
      }),
    );
  });
});
