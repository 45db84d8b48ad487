import { describe, expect, it } from 'vitest';
import {
  admitsInbound,
  allocatePort,
  filterKey,
  mappingKey,
  sharesMapping,
  type NatBehaviour,
  type PortAllocation,
} from '../../common/net/sim/nat-rules.js';
import { Rng } from '../../common/net/sim/random.js';
import { ep } from './helpers.js';

const internal = ep('10.0.0.2', 5000);
/** The remote the internal endpoint sent to first. */
const first = ep('198.51.100.1', 3478);
/** Three ways a later remote can relate to `first`. */
const remotes = {
  'same endpoint': ep('198.51.100.1', 3478),
  'same address, other port': ep('198.51.100.1', 9999),
  'other address': ep('198.51.100.2', 3478),
} as const;
type Relation = keyof typeof remotes;

describe('RFC 4787 §4.1 mapping: does a later packet reuse the mapping made towards `first`?', () => {
  const table: Array<[NatBehaviour, Relation, boolean]> = [
    ['endpoint-independent', 'same endpoint', true],
    ['endpoint-independent', 'same address, other port', true],
    ['endpoint-independent', 'other address', true],
    ['address-dependent', 'same endpoint', true],
    ['address-dependent', 'same address, other port', true],
    ['address-dependent', 'other address', false],
    ['address-and-port-dependent', 'same endpoint', true],
    ['address-and-port-dependent', 'same address, other port', false],
    ['address-and-port-dependent', 'other address', false],
  ];
  it.each(table)('%s, %s → %s', (behaviour, relation, shared) => {
    expect(sharesMapping(behaviour, internal, first, remotes[relation])).toBe(shared);
  });

  it('never shares a mapping between two internal endpoints or two protocols', () => {
    for (const b of ['endpoint-independent', 'address-dependent', 'address-and-port-dependent'] as const) {
      expect(mappingKey(b, 'udp', internal, first)).not.toBe(
        mappingKey(b, 'udp', ep('10.0.0.3', 5000), first),
      );
      expect(mappingKey(b, 'udp', internal, first)).not.toBe(
        mappingKey(b, 'udp', ep('10.0.0.2', 5001), first),
      );
      expect(mappingKey(b, 'udp', internal, first)).not.toBe(mappingKey(b, 'tcp', internal, first));
    }
  });
});

describe('RFC 4787 §5 filtering: is inbound from a remote admitted after sending to `first`?', () => {
  const table: Array<[NatBehaviour, Relation, boolean]> = [
    ['endpoint-independent', 'same endpoint', true],
    ['endpoint-independent', 'same address, other port', true],
    ['endpoint-independent', 'other address', true],
    ['address-dependent', 'same endpoint', true],
    ['address-dependent', 'same address, other port', true],
    ['address-dependent', 'other address', false],
    ['address-and-port-dependent', 'same endpoint', true],
    ['address-and-port-dependent', 'same address, other port', false],
    ['address-and-port-dependent', 'other address', false],
  ];
  it.each(table)('%s, %s → %s', (behaviour, relation, admitted) => {
    expect(admitsInbound(behaviour, [first], remotes[relation])).toBe(admitted);
  });

  it('admits nothing through a mapping that has sent nowhere', () => {
    for (const b of ['endpoint-independent', 'address-dependent', 'address-and-port-dependent'] as const)
      expect(admitsInbound(b, [], first)).toBe(false);
  });

  it('admits from any of several contacted remotes', () => {
    const contacted = [first, ep('192.0.2.9', 1)];
    expect(admitsInbound('address-and-port-dependent', contacted, ep('192.0.2.9', 1))).toBe(true);
    expect(admitsInbound('address-and-port-dependent', contacted, ep('192.0.2.9', 2))).toBe(false);
    expect(admitsInbound('address-dependent', contacted, ep('192.0.2.9', 2))).toBe(true);
  });

  it('filterKey keeps exactly what the behaviour looks at', () => {
    expect(filterKey('endpoint-independent', first)).toBe('*');
    expect(filterKey('address-dependent', first)).toBe('198.51.100.1');
    expect(filterKey('address-and-port-dependent', first)).toBe('198.51.100.1:3478');
  });
});

describe('allocatePort (RFC 4787 §4.2.1)', () => {
  const range = [1024, 1030] as const;
  const table: Array<[string, PortAllocation, number, number[], number, number | undefined]> = [
    // name, allocation, preferred, in use, cursor, expected
    ['preserve keeps a free internal port', 'preserve', 1027, [], 1024, 1027],
    ['preserve falls back to the cursor when taken', 'preserve', 1027, [1027], 1024, 1024],
    ['preserve skips taken ports after the cursor', 'preserve', 1027, [1027, 1024, 1025], 1024, 1026],
    ['preserve ignores a preferred port outside the range', 'preserve', 40000, [], 1028, 1028],
    ['sequential takes the cursor', 'sequential', 5000, [], 1026, 1026],
    ['sequential wraps around the range', 'sequential', 5000, [1029, 1030], 1029, 1024],
    ['sequential with a cursor past the end starts over', 'sequential', 5000, [], 1031, 1024],
    [
      'full range gives undefined',
      'sequential',
      5000,
      [1024, 1025, 1026, 1027, 1028, 1029, 1030],
      1024,
      undefined,
    ],
    ['random finds the last free port', 'random', 5000, [1024, 1025, 1026, 1028, 1029, 1030], 1024, 1027],
    [
      'random on a full range gives undefined',
      'random',
      5000,
      [1024, 1025, 1026, 1027, 1028, 1029, 1030],
      1024,
      undefined,
    ],
  ];
  it.each(table)('%s', (_name, allocation, preferred, used, cursor, expected) => {
    const inUse = new Set(used);
    const port = allocatePort({
      allocation,
      preferred,
      range,
      cursor,
      inUse: (p) => inUse.has(p),
      rng: new Rng(1),
    });
    expect(port).toBe(expected);
  });

  it('random spreads over the range and is reproducible for a seed', () => {
    const pick = (seed: number): number[] => {
      const rng = new Rng(seed);
      return Array.from({ length: 50 }, () =>
        allocatePort({
          allocation: 'random',
          preferred: 0,
          range: [1024, 65535],
          cursor: 1024,
          inUse: () => false,
          rng,
        })!,
      );
    };
    const ports = pick(8);
    expect(pick(8)).toEqual(ports);
    expect(new Set(ports).size).toBeGreaterThan(45);
    expect(Math.min(...ports)).toBeGreaterThanOrEqual(1024);
    expect(Math.max(...ports)).toBeLessThanOrEqual(65535);
  });
});
