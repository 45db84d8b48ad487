import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { silentLogger } from '../../common/log.js';
import type { DatagramSocket, Endpoint, Network } from '../../common/net/types.js';
import { portProbe } from '../../peer/port-probe.js';
import { PORT_SEARCH } from '../../common/path/port-strategy.js';
import { MsgType } from '../../common/wire/constants.js';
import type { Introduce, PortProbe } from '../../common/wire/messages.js';
import { decode } from '../../common/wire/messages.js';
import { PortSearch, newSearchCounters } from '../../peer/port-search.js';
import { seededRandom } from '../support/random.js';

const SELF = new Uint8Array(16).fill(1);
const PEER = new Uint8Array(16).fill(2);
const OBSERVED = { address: '198.51.100.7', port: 4000 };
const intro = (nat: Introduce['nat']): Introduce => ({
  type: MsgType.INTRODUCE,
  txid: new Uint8Array(8),
  introId: new Uint8Array(8).fill(9),
  initiator: true,
  id: PEER,
  name: 'bob',
  signKey: new Uint8Array(32),
  dhKey: new Uint8Array(32),
  observed: OBSERVED,
  lan: [],
  nat,
});

class FakeSocket implements DatagramSocket {
  sent: { data: Uint8Array; to: Endpoint }[] = [];
  closed = false;
  boundTo: string | undefined = 'unbound';
  handler: ((d: Uint8Array, from: Endpoint) => void) | undefined;
  constructor(readonly port: number) {}
  bind(_port?: number, address?: string): Promise<Endpoint> {
    this.boundTo = address;
    return Promise.resolve({ address: '10.0.0.2', port: this.port });
  }
  send(data: Uint8Array, to: Endpoint): void {
    this.sent.push({ data, to });
  }
  onMessage(h: (d: Uint8Array, from: Endpoint) => void): void {
    this.handler = h;
  }
  localEndpoint(): Endpoint {
    return { address: '10.0.0.2', port: this.port };
  }
  close(): void {
    this.closed = true;
  }
}

function world(
  strategy: 'open-sockets' | 'probe-ports',
  nat: Introduce['nat'] = { kind: 'random' },
  bindAddress?: string,
) {
  const clock = new VirtualClock();
  const sockets: FakeSocket[] = [];
  const network: Network = {
    createUdpSocket: () => {
      const s = new FakeSocket(30_000 + sockets.length);
      sockets.push(s);
      return s;
    },
    localAddresses: () => [],
  };
  const main: { data: Uint8Array; to: Endpoint }[] = [];
  const delivered: Endpoint[] = [];
  const opened: (DatagramSocket | undefined)[] = [];
  const counters = newSearchCounters();
  const search = new PortSearch(intro(nat), strategy, {
    clock,
    logger: silentLogger,
    randomBytes: seededRandom(1),
    network,
    ...(bindAddress !== undefined ? { bindAddress } : {}),
    self: SELF,
    counters,
    send: (data, to) => main.push({ data, to }),
    deliver: (_d, from) => delivered.push(from),
    opened: (via) => opened.push(via),
  });
  const flush = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += PORT_SEARCH.tickMs) {
      clock.advance(PORT_SEARCH.tickMs);
      await Promise.resolve();
      await Promise.resolve();
    }
  };
  return { clock, sockets, main, delivered, opened, counters, search, flush };
}

const peerProbe = (seq = 1): PortProbe => decode(portProbe(intro(undefined).introId, PEER, seq)) as PortProbe;

describe('PortSearch, open-sockets (our NAT gives every destination a new port)', () => {
  it('opens PORT_SEARCH.sockets sockets, paced, each sending one 12-byte PORT_PROBE to the peer as the server saw it', async () => {
    const w = world('open-sockets');
    expect(w.sockets).toHaveLength(PORT_SEARCH.socketsPerTick); // the first tick at once
    await w.flush(1000);
    expect(w.sockets).toHaveLength(PORT_SEARCH.sockets);
    for (const s of w.sockets) {
      expect(s.sent).toHaveLength(1);
      expect(s.sent[0]!.to).toEqual(OBSERVED);
      expect(s.sent[0]!.data.length).toBe(12);
    }
    expect(w.main).toHaveLength(0);
    expect(w.counters.sockets).toBe(PORT_SEARCH.sockets);
  });

  it("binds its sockets to the node's bind address, or to all interfaces like the node", () => {
    expect(world('open-sockets', undefined, '192.0.2.5').sockets.map((s) => s.boundTo)).toEqual(
      Array(PORT_SEARCH.socketsPerTick).fill('192.0.2.5'),
    );
    expect(world('open-sockets').sockets.every((s) => s.boundTo === undefined)).toBe(true);
  });

  it("the peer's PORT_PROBE on one socket makes it the path's socket; the others close at once", async () => {
    const w = world('open-sockets');
    await w.flush(1000);
    const s = w.sockets[77]!;
    expect(w.search.onPortProbe(peerProbe(), OBSERVED, s)).toBe(true);
    expect(w.opened).toEqual([s]);
    expect(w.search.socketFor(OBSERVED)).toBe(s);
    expect(w.search.socketFor({ ...OBSERVED, port: 4001 })).toBeUndefined();
    expect(w.sockets.filter((x) => !x.closed)).toEqual([s]);
    expect(w.counters.found).toBe(1);
    w.search.close();
    expect(s.closed).toBe(true);
    expect(w.search.socketFor(OBSERVED)).toBeUndefined();
  });

  it("a PORT_PROBE from another port of the peer's address, or a forged tag, wins nothing", async () => {
    const w = world('open-sockets');
    await w.flush(100);
    expect(w.search.onPortProbe(peerProbe(), { ...OBSERVED, port: 4001 }, w.sockets[0])).toBe(true);
    expect(w.search.onPortProbe(peerProbe(), { address: '203.0.113.9', port: 4000 }, w.sockets[0])).toBe(
      true,
    );
    const forged = { ...peerProbe(), tag: new Uint8Array(8) };
    expect(w.search.onPortProbe(forged, OBSERVED, w.sockets[0])).toBe(false);
    const ours = decode(portProbe(intro(undefined).introId, SELF, 1)) as PortProbe; // a reflection of our own
    expect(w.search.onPortProbe(ours, OBSERVED, w.sockets[0])).toBe(false);
    expect(w.opened).toEqual([]);
    expect(w.counters.rejected).toBe(2);
  });

  it('stopping closes every socket and opens no more', async () => {
    const w = world('open-sockets');
    await w.flush(40);
    w.search.finish(false);
    const n = w.sockets.length;
    await w.flush(1000);
    expect(w.sockets).toHaveLength(n);
    expect(w.sockets.every((s) => s.closed)).toBe(true);
    expect(w.counters.failed).toBe(1);
  });

  it('datagrams on its sockets go to the demux, marked with the socket', async () => {
    const w = world('open-sockets');
    w.sockets[0]!.handler!(Uint8Array.of(1, 2), OBSERVED);
    expect(w.delivered).toEqual([OBSERVED]);
  });
});

describe("PortSearch, probe-ports (the peer's NAT gives every destination a new port)", () => {
  it("sends at most PORT_SEARCH.probes PORT_PROBEs, only to the peer's observed address, at the documented pace", async () => {
    const w = world('probe-ports');
    await w.flush(80);
    expect(w.main.length).toBeLessThanOrEqual((80 / PORT_SEARCH.tickMs + 1) * PORT_SEARCH.probesPerTick);
    await w.flush(20_000);
    expect(w.main).toHaveLength(PORT_SEARCH.probes);
    expect(new Set(w.main.map((m) => m.to.port)).size).toBe(PORT_SEARCH.probes);
    for (const m of w.main) {
      expect(m.to.address).toBe(OBSERVED.address);
      expect(m.data.length).toBe(12);
    }
    expect(w.sockets).toHaveLength(0);
  });

  it('towards a sequential NAT the predicted ports go first', async () => {
    const w = world('probe-ports', { kind: 'sequential', step: 1, last: 50_000 });
    await w.flush(8);
    expect(w.main.slice(0, 4).map((m) => m.to.port)).toEqual([50_001, 50_002, 50_003, 50_004]);
  });

  it("answers the peer's PORT_PROBEs that get in with the same 12 bytes, at most PORT_SEARCH.answersPerSearch times", () => {
    const w = world('probe-ports');
    const before = w.main.length;
    const from = { address: OBSERVED.address, port: 51_000 };
    for (let i = 0; i < 20; i++) expect(w.search.onPortProbe(peerProbe(i), from, undefined)).toBe(true);
    const answers = w.main.slice(before);
    expect(answers).toHaveLength(PORT_SEARCH.answersPerSearch);
    for (const a of answers) {
      expect(a.to).toEqual(from);
      expect(a.data.length).toBe(12);
    }
    // Never to another address, whatever the tag says.
    w.search.onPortProbe(peerProbe(), { address: '203.0.113.9', port: 1 }, undefined);
    expect(w.main.slice(before)).toHaveLength(PORT_SEARCH.answersPerSearch);
  });

  it('a finished search answers no PORT_PROBE, and a closed one takes none', () => {
    const w = world('probe-ports');
    w.search.finish(true);
    const n = w.main.length;
    const from = { address: OBSERVED.address, port: 51_000 };
    expect(w.search.onPortProbe(peerProbe(), from, undefined)).toBe(true);
    expect(w.main).toHaveLength(n);
    w.search.close();
    expect(w.search.onPortProbe(peerProbe(), from, undefined)).toBe(false);
  });

  it("a PROBE from a new port of the peer's address ends the search: no more PORT_PROBEs", async () => {
    const w = world('probe-ports');
    await w.flush(40);
    w.search.heard(OBSERVED); // the port the server saw: not the search's doing
    expect(w.search.running).toBe(true);
    w.search.heard({ address: OBSERVED.address, port: 51_000 });
    expect(w.search.running).toBe(false);
    const n = w.main.length;
    await w.flush(1000);
    expect(w.main).toHaveLength(n);
    expect(w.counters.found).toBe(1);
  });
});
