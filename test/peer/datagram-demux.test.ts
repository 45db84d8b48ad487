/**
 * The node's receive side (peer/datagram-demux.ts) and the server gate in front of it
 * (peer/server-gate.ts), with fake links: what goes where, and what is counted and dropped.
 */
import { describePath } from '../../common/path/path-id.js';
import { describe, expect, it } from 'vitest';
import type { DatagramSocket, Endpoint } from '../../common/net/types.js';
import { silentLogger } from '../../common/log.js';
import { CID_BYTES } from '../../common/session/packet.js';
import type { SessionPath } from '../../common/session/session.js';
import { toHex } from '../../common/wire/bytes.js';
import { MsgType, VERSION_BYTE } from '../../common/wire/constants.js';
import { encode } from '../../common/wire/messages.js';
import type { Message, Probe } from '../../common/wire/messages.js';
import { encodeBindingSuccess, STUN_TXID_SIZE } from '../../common/wire/stun.js';
import { DatagramDemux, PeerStats } from '../../peer/datagram-demux.js';
import type { PeerLink } from '../../peer/peer-link.js';
import { ServerGate } from '../../peer/server-gate.js';

const SERVER: Endpoint = { address: '203.0.113.10', port: 7000 };
const STRANGER: Endpoint = { address: '198.51.100.9', port: 4000 };

/** Counting random bytes: each call gives the next byte values, so a test knows the STUN txid. */
function counting(): (n: number) => Uint8Array {
  let next = 1;
  return (n) => Uint8Array.from({ length: n }, () => next++ & 255);
}

/** A link as the demux sees it: it records what it was handed. */
function fakeLink(idHex: string): PeerLink & { got: { path: string; cid?: string }[] } {
  const got: { path: string; cid?: string }[] = [];
  const relayPath: SessionPath = { id: { kind: 'relay' }, send: () => {} };
  return {
    idHex,
    session: {},
    relayPath,
    got,
    pathTo: (e: Endpoint): SessionPath => ({ id: { kind: 'direct', remote: e }, send: () => {} }),
    receive: (_d: Uint8Array, from: SessionPath, cid?: string) =>
      got.push({ path: describePath(from.id), cid }),
  } as unknown as PeerLink & { got: { path: string; cid?: string }[] };
}

const cidOf = (n: number): Uint8Array => new Uint8Array(CID_BYTES).fill(n);
const sessionPacket = (cid: Uint8Array): Uint8Array =>
  Uint8Array.from([VERSION_BYTE, MsgType.SESSION_DATA, ...cid, 0, 0, 0, 0]);

function world(): {
  demux: DatagramDemux;
  stats: PeerStats;
  gate: ServerGate;
  server: Message[];
  probes: Probe[];
  links: Map<string, PeerLink>;
  probeTaken: { value: boolean };
} {
  const stats = new PeerStats();
  const gate = new ServerGate(SERVER, counting());
  const server: Message[] = [];
  const probes: Probe[] = [];
  const links = new Map<string, PeerLink>();
  const probeTaken = { value: true };
  const demux = new DatagramDemux(stats, {
    gate,
    logger: silentLogger,
    peerLink: (idHex) => links.get(idHex),
    server: (m) => server.push(m),
    portProbe: () => false,
    probe: (m) => {
      probes.push(m);
      return probeTaken.value;
    },
  });
  return { demux, stats, gate, server, probes, links, probeTaken };
}

describe('server gate', () => {
  it('the server types come from the server endpoint only; the STUN answer is taken once, with our txid', () => {
    const gate = new ServerGate(SERVER, counting());
    expect(gate.isServerType(MsgType.COOKIE)).toBe(true);
    expect(gate.isServerType(MsgType.PROBE)).toBe(false);
    expect(gate.fromServer({ ...SERVER })).toBe(true);
    expect(gate.fromServer(STRANGER)).toBe(false);
    const txId = Uint8Array.from({ length: STUN_TXID_SIZE }, (_, i) => i + 1);
    const answer = encodeBindingSuccess(txId, STRANGER);
    expect(gate.noteStunAnswer(answer, SERVER)).toBe(false); // nothing asked yet
    gate.stunRequest();
    expect(gate.noteStunAnswer(encodeBindingSuccess(new Uint8Array(STUN_TXID_SIZE), STRANGER), SERVER)).toBe(
      false,
    ); // another transaction
    expect(gate.noteStunAnswer(answer, STRANGER)).toBe(false); // not from the server
    expect(gate.stunAnswered).toBe(false);
    expect(gate.noteStunAnswer(answer, SERVER)).toBe(true);
    expect(gate.stunAnswered).toBe(true);
    expect(gate.noteStunAnswer(answer, SERVER)).toBe(false); // once
  });
});

describe('datagram demux', () => {
  it('session packets go to the link their connection id is routed to, until the route is dropped', () => {
    const { demux, stats } = world();
    const a = fakeLink('aa');
    const b = fakeLink('bb');
    demux.route(a, [toHex(cidOf(1))], a);
    demux.onDatagram(sessionPacket(cidOf(1)), STRANGER);
    expect(a.got).toEqual([{ path: 'direct 198.51.100.9:4000', cid: toHex(cidOf(1)) }]);
    // Only the owner's route is dropped: b taking over the id keeps it routed to b.
    demux.route(b, [toHex(cidOf(1))], b);
    demux.route(a, [toHex(cidOf(1))], undefined);
    demux.onDatagram(sessionPacket(cidOf(1)), STRANGER);
    expect(b.got).toHaveLength(1);
    demux.route(b, [toHex(cidOf(1))], undefined);
    demux.onDatagram(sessionPacket(cidOf(1)), STRANGER);
    expect(stats.dropped.no_session).toBe(1);
    expect(stats.datagramsIn).toBe(3);
  });

  it("a port search's socket takes session packets and punching, never the server's messages or a STUN answer", () => {
    const { demux, stats, gate, server, probes, links } = world();
    const via = {} as DatagramSocket; // a search socket: only its identity matters here
    const cookie = encode({
      type: MsgType.COOKIE,
      txid: new Uint8Array(8),
      cookie: new Uint8Array(20),
      serverKey: new Uint8Array(32),
    });
    demux.onDatagram(cookie, SERVER, via); // "from the server", but on a search socket
    expect(server).toEqual([]);
    expect(stats.dropped.unexpected).toBe(1);
    demux.onDatagram(cookie, SERVER); // the same on the main socket is the server's
    expect(server).toHaveLength(1);
    const txId = Uint8Array.from({ length: STUN_TXID_SIZE }, (_, i) => i + 1);
    gate.stunRequest();
    demux.onDatagram(encodeBindingSuccess(txId, STRANGER), SERVER, via);
    expect(gate.stunAnswered).toBe(false);
    expect(stats.dropped.malformed).toBe(1);
    // Session packets and probes are taken there (the search found the path on that socket).
    const a = fakeLink('aa');
    links.set('aa', a);
    demux.route(a, [toHex(cidOf(3))], a);
    demux.onDatagram(sessionPacket(cidOf(3)), STRANGER, via);
    expect(a.got).toHaveLength(1);
    const probe = encode({
      type: MsgType.PROBE,
      introId: new Uint8Array(8),
      from: new Uint8Array(16),
      to: new Uint8Array(16),
      seq: 1,
      timestamp: 0,
      seen: undefined,
      signature: new Uint8Array(64),
    });
    demux.onDatagram(probe, STRANGER, via);
    expect(probes).toHaveLength(1);
  });

  it('relayed packets are taken only for the link of the peer that relayed them', () => {
    const { demux, stats, links } = world();
    const a = fakeLink('aa');
    links.set('aa', a);
    links.set('bb', fakeLink('bb'));
    demux.route(a, [toHex(cidOf(2))], a);
    demux.onRelayed(Uint8Array.of(0xaa), sessionPacket(cidOf(2)));
    expect(a.got).toEqual([{ path: 'relay', cid: toHex(cidOf(2)) }]);
    demux.onRelayed(Uint8Array.of(0xbb), sessionPacket(cidOf(2))); // b relaying a's session
    demux.onRelayed(Uint8Array.of(0xaa), Uint8Array.of(1, 2, 3)); // not a session packet
    expect(stats.dropped.no_session).toBe(2);
    expect(a.got).toHaveLength(1);
  });

  it('server messages pass the gate from the server only; probes go to the attempts; the rest is counted', () => {
    const { demux, stats, server, probes, probeTaken, gate } = world();
    const keepaliveAck = encode({
      type: MsgType.KEEPALIVE_ACK,
      txid: new Uint8Array(8),
      observed: STRANGER,
      presenceVersion: 0,
    });
    demux.onDatagram(keepaliveAck, SERVER);
    demux.onDatagram(keepaliveAck, STRANGER);
    expect(server.map((m) => m.type)).toEqual([MsgType.KEEPALIVE_ACK]);
    expect(stats.dropped.unexpected).toBe(1);
    // A peer's message the node never takes (LEAVE is for the server).
    demux.onDatagram(
      encode({ type: MsgType.LEAVE, txid: new Uint8Array(8), id: new Uint8Array(16) }),
      STRANGER,
    );
    expect(stats.dropped.unexpected).toBe(2);
    const probe = encode({
      type: MsgType.PROBE,
      introId: new Uint8Array(8),
      from: new Uint8Array(16),
      to: new Uint8Array(16),
      seq: 1,
      timestamp: 0,
      seen: undefined,
      signature: new Uint8Array(64),
    });
    demux.onDatagram(probe, STRANGER);
    probeTaken.value = false;
    demux.onDatagram(probe, STRANGER);
    expect(probes).toHaveLength(2);
    expect(stats.dropped.bad_probe).toBe(1);
    // Garbage and a truncated punchline message: malformed. The server's STUN answer is not.
    demux.onDatagram(Uint8Array.of(0x00, 0x01, 0x02), STRANGER);
    demux.onDatagram(keepaliveAck.subarray(0, 5), SERVER);
    expect(stats.dropped.malformed).toBe(2);
    gate.stunRequest();
    const txId = Uint8Array.from({ length: STUN_TXID_SIZE }, (_, i) => i + 1);
    demux.onDatagram(encodeBindingSuccess(txId, STRANGER), SERVER);
    expect(stats.dropped.malformed).toBe(2);
    expect(gate.stunAnswered).toBe(true);
  });
});
