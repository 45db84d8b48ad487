import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../common/endpoint.js';
import type { PortBehaviour } from '../../common/nat-behaviour.js';
import { classifyPorts } from '../../common/path/port-behaviour.js';

const IP = '203.0.113.7';
const at = (port: number, address = IP): Endpoint => ({ address, port });
const local = { address: '10.0.0.2', port: 5000 };

describe('classifyPorts (common/path/port-behaviour.ts)', () => {
  it.each<[string, (Endpoint | undefined)[], PortBehaviour]>([
    ['nothing measured', [], { kind: 'unknown' }],
    ['no answer from the alternate port', [at(5000)], { kind: 'unknown' }],
    ['m2 lost, m3 and m4 answered', [at(5000), undefined, at(5001), at(5002)], { kind: 'unknown' }],
    [
      'one port, the socket’s own',
      [at(5000), at(5000), at(5001), at(5001)],
      { kind: 'consistent', preserved: true },
    ],
    ['one port, not the socket’s', [at(40000), at(40000)], { kind: 'consistent', preserved: false }],
    ['up by one', [at(40000), at(40001), at(40002), at(40003)], { kind: 'sequential', step: 1, last: 40003 }],
    [
      'down by two',
      [at(40010), at(40008), at(40006), at(40004)],
      { kind: 'sequential', step: -2, last: 40004 },
    ],
    [
      'uneven steps, the last counts',
      [at(40000), at(40001), at(40003), at(40004)],
      { kind: 'sequential', step: 1, last: 40004 },
    ],
    ['only m1 and m2', [at(40000), at(40003)], { kind: 'sequential', step: 3, last: 40003 }],
    [
      'm3 lost: m4 is not used',
      [at(40000), at(40001), undefined, at(40009)],
      { kind: 'sequential', step: 1, last: 40001 },
    ],
    ['the largest step', [at(40000), at(40016), at(40032)], { kind: 'sequential', step: 16, last: 40032 }],
    ['a step too large', [at(40000), at(40017)], { kind: 'random' }],
    ['a jump later on', [at(40000), at(40001), at(52000), at(52001)], { kind: 'random' }],
    ['a change of direction', [at(40000), at(40001), at(39999), at(40000)], { kind: 'random' }],
    ['the temporary socket keeps its port', [at(40000), at(40001), at(40002), at(40002)], { kind: 'random' }],
    ['scattered ports', [at(40000), at(13893), at(61234), at(2048)], { kind: 'random' }],
    [
      'another public address',
      [at(40000), at(40001, '203.0.113.8'), at(40002), at(40003)],
      { kind: 'random' },
    ],
    [
      'another address for the temporary socket',
      [at(40000), at(40001), at(40002, '198.51.100.1')],
      { kind: 'random' },
    ],
  ])('%s', (_, samples, expected) => {
    expect(classifyPorts({ local, samples })).toEqual(expected);
  });
});
