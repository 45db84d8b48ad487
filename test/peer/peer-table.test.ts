/** The node's peer table (peer/peer-table.ts): presence, name and id resolution, states and the list. */
import { describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { toHex } from '../../common/wire/bytes.js';
import type { PeerLink } from '../../peer/peer-link.js';
import { PeerTable } from '../../peer/peer-table.js';
import type { PeerEntry } from '../../peer/peer-table.js';

interface FakeLink {
  idHex: string;
  name: string;
  present: boolean;
  pendingCount: number;
  open: boolean;
  path: 'direct' | 'relay' | undefined;
  remote: { address: string; port: number } | undefined;
  session: { state: string; dead: boolean } | undefined;
}

const id = (b: number): Uint8Array => new Uint8Array(16).fill(b);

function table(): { t: PeerTable; added: PeerEntry[]; link: (b: number) => FakeLink } {
  const added: PeerEntry[] = [];
  const t = new PeerTable(
    (pid, name) =>
      ({
        idHex: toHex(pid),
        name,
        present: true,
        pendingCount: 0,
        open: false,
        path: undefined,
        remote: undefined,
        session: undefined,
      }) satisfies FakeLink as unknown as PeerLink,
    (e) => added.push(e),
  );
  return { t, added, link: (b) => t.get(toHex(id(b)))!.link as unknown as FakeLink };
}

const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return isPunchlineError(e) ? e.code : 'not a PunchlineError';
  }
  return undefined;
};

describe('peer table', () => {
  it('makes an entry once per id, and presence marks who is here under which name', () => {
    const { t, added, link } = table();
    const self = toHex(id(9));
    t.present(
      [
        { id: id(1), name: 'bob' },
        { id: id(9), name: 'me' },
      ],
      self,
    );
    expect(added.map((e) => e.link.idHex)).toEqual([toHex(id(1))]);
    expect(t.entry(id(1), 'other')).toBe(added[0]);
    t.present([{ id: id(2), name: 'carol' }], self);
    expect(link(1).present).toBe(false);
    expect(link(2).present).toBe(true);
    // Back with messages waiting and no session: returned, to be connected now.
    link(1).pendingCount = 2;
    const back = t.present([{ id: id(1), name: 'bobby' }], self);
    expect(back.map((e) => e.link.idHex)).toEqual([toHex(id(1))]);
    expect(link(1).name).toBe('bobby');
    expect(t.present([{ id: id(1), name: 'bobby' }], self)).toEqual([]); // not away: nothing new
  });

  it('resolves a present name first, then an only name, a full id or a 4+ digit prefix; else says why', () => {
    const { t, link } = table();
    t.present(
      [
        { id: id(0x11), name: 'bob' },
        { id: id(0x12), name: 'bob' },
      ],
      '',
    );
    expect(code(() => t.resolve('bob'))).toBe('BAD_ARGUMENT'); // two present bobs
    t.present([{ id: id(0x11), name: 'bob' }], '');
    expect(t.resolve('bob').link.idHex).toBe(toHex(id(0x11))); // the present one
    expect(t.resolve(toHex(id(0x12)).toUpperCase()).link.idHex).toBe(toHex(id(0x12)));
    expect(t.resolve('1212').link.idHex).toBe(toHex(id(0x12)));
    expect(code(() => t.resolve('121'))).toBe('UNKNOWN_PEER'); // too short for a prefix
    expect(code(() => t.resolve('carol'))).toBe('UNKNOWN_PEER');
    t.present([], '');
    expect(link(0x11).present).toBe(false);
    expect(code(() => t.resolve('bob'))).toBe('BAD_ARGUMENT'); // two bobs, none present
  });

  it('states and the list: open on a path, connecting, online, offline; remote and pending when there are', () => {
    const { t, link } = table();
    t.present(
      [
        { id: id(1), name: 'a' },
        { id: id(2), name: 'b' },
        { id: id(3), name: 'c' },
      ],
      '',
    );
    Object.assign(link(1), { open: true, path: 'direct', remote: { address: '192.0.2.1', port: 5 } });
    Object.assign(link(2), { open: true, path: 'relay', pendingCount: 1 });
    Object.assign(link(3), { session: { state: 'handshaking', dead: false } });
    t.entry(id(4), 'd').link.present = false;
    expect(t.list()).toEqual([
      { id: toHex(id(1)), name: 'a', state: 'direct', remote: '192.0.2.1:5' },
      { id: toHex(id(2)), name: 'b', state: 'relay', remote: 'relay', pending: 1 },
      { id: toHex(id(3)), name: 'c', state: 'connecting' },
      { id: toHex(id(4)), name: 'd', state: 'offline' },
    ]);
    link(3).session = { state: 'closed', dead: false };
    expect(t.state(t.get(toHex(id(3)))!)).toBe('online');
  });
});
