import { describe, expect, it } from 'vitest';
import { type PathId, describePath, pathKey } from '../../common/path/path-id.js';

const direct = (address: string, port: number): PathId => ({ kind: 'direct', remote: { address, port } });

describe('pathKey', () => {
  it.each<[string, PathId, string]>([
    ['IPv4', direct('1.2.3.4', 5), 'direct 1.2.3.4:5'],
    ['IPv6, bracketed', direct('2001:db8::1', 5), 'direct [2001:db8::1]:5'],
    ['IPv6 loopback', direct('::1', 5), 'direct [::1]:5'],
    ['relay', { kind: 'relay' }, 'relay'],
  ])('%s', (_name, id, key) => {
    expect(pathKey(id)).toBe(key);
    expect(describePath(id)).toBe(key);
  });

  it('no two different paths share a key (IPv4, IPv6 with ports, the relay)', () => {
    const ids: PathId[] = [
      direct('1.2.3.4', 5),
      direct('1.2.3.4', 6),
      direct('1.2.3.5', 5),
      direct('::1', 5),
      direct('::1:5', 5),
      direct('::1', 55),
      direct('2001:db8::1', 5),
      { kind: 'relay' },
    ];
    const keys = ids.map(pathKey);
    expect(new Set(keys).size).toBe(ids.length);
  });

  it('the same endpoint in two objects is the same path', () => {
    expect(pathKey(direct('2001:db8::1', 5))).toBe(pathKey(direct('2001:db8::1', 5)));
    expect(pathKey({ kind: 'relay' })).toBe(pathKey({ kind: 'relay' }));
  });
});
