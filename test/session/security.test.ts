import { describe, expect, it } from 'vitest';
import { CipherState } from '../../common/crypto/cipher-state.js';
import { isPunchlineError } from '../../common/errors.js';
import { Rng } from '../../common/net/sim/random.js';
import { MsgType } from '../../common/wire/constants.js';
import { type Frame, encodeFrames } from '../../common/session/frames.js';
import { KeySchedule } from '../../common/session/key-schedule.js';
import { openPacket, parseDataPacket, sealPacket } from '../../common/session/packet.js';
import type { PacketSender } from '../../common/session/packet-sender.js';
import { describePath } from '../../common/path/path-id.js';
import type { Session, SessionPath } from '../../common/session/session.js';
import type { DropCounts } from '../../common/session/stats.js';
import { collect, enc, makePair, run, runUntil } from './helpers.js';

const totalDrops = (s: Session): number =>
  Object.values(s.stats().dropped as unknown as Record<string, number>).reduce((a, b) => a + b, 0);
const drops = (s: Session): DropCounts => s.stats().dropped;

/** An open pair and one A->B data packet carrying a message, held back from B. */
function withHeldPacket(): {
  p: ReturnType<typeof makePair>;
  held: Uint8Array;
  got: ReturnType<typeof collect>;
} {
  const p = makePair();
  runUntil(p.clock, () => p.a.state === 'open' && p.b.state === 'open', 5000);
  runUntil(p.clock, () => false, 200);
  let held: Uint8Array | undefined;
  p.ab.drop = (d) => {
    if (!held && d[1] === MsgType.SESSION_DATA && d.length > 200) {
      held = new Uint8Array(d);
      return true;
    }
    return false;
  };
  const got = collect(p.b);
  p.a.send(enc('the one message'.padEnd(200, '.')));
  runUntil(p.clock, () => held !== undefined, 1000);
  p.ab.drop = () => true; // keep retransmissions away too: B sees only what the test injects
  return { p, held: held!, got };
}

describe('hostile packets', () => {
  it('tampering with any byte is detected and counted; the genuine packet still opens afterwards', () => {
    const { p, held, got } = withHeldPacket();
    const received = p.b.stats().packetsReceived;
    for (let i = 0; i < held.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const t = new Uint8Array(held);
        t[i]! ^= bit;
        const before = totalDrops(p.b);
        p.b.receive(t, p.toA);
        expect(totalDrops(p.b) - before, `byte ${i} bit ${bit}`).toBe(1);
      }
    }
    const d = drops(p.b);
    expect(d.auth).toBeGreaterThan(2 * (held.length - 17)); // every ciphertext and tag bit flip
    expect(d.unknownCid).toBe(16); // 8 cid bytes x 2 bits
    expect(d.malformed).toBeGreaterThanOrEqual(3); // version byte, reserved flag bit
    expect(p.b.stats().packetsReceived).toBe(received);
    expect(got).toEqual([]);
    // None of that moved the replay window: the genuine packet is still new.
    p.b.receive(held, p.toA);
    expect(p.b.stats().packetsReceived).toBe(received + 1);
    expect(got.map((m) => m.text.replace(/\.+$/, ''))).toEqual(['the one message']);
    // And a replay of it is refused.
    const replays = drops(p.b).replay;
    p.b.receive(held, p.toA);
    expect(drops(p.b).replay).toBe(replays + 1);
    expect(got.length).toBe(1);
  });

  it('truncated packets are dropped as malformed or unauthentic, never thrown', () => {
    const { p, held, got } = withHeldPacket();
    for (let n = 0; n < held.length; n++) p.b.receive(held.subarray(0, n), p.toA);
    const d = drops(p.b);
    expect(d.malformed + d.auth).toBe(held.length);
    expect(d.internal).toBe(0);
    expect(got).toEqual([]);
    p.b.receive(new Uint8Array(1300).fill(0x51), p.toA); // oversized
    expect(drops(p.b).malformed).toBe(d.malformed + 1);
  });

  it('forged packets (right cid, wrong key) and random junk are dropped and counted', () => {
    const { p, got } = withHeldPacket();
    const rng = new Rng(3, 'junk');
    const cid = p.b.localCid;
    for (let i = 0; i < 50; i++) {
      const forger = new CipherState(rng.fill(new Uint8Array(32)));
      const frames = encodeFrames([{ type: 'stream', offset: 0, data: enc('forged') }]);
      p.b.receive(sealPacket({ dcid: cid, keyPhase: (i % 2) as 0 | 1, pn: 1000 + i }, frames, forger), p.toA);
      p.b.receive(rng.fill(new Uint8Array(rng.int(0, 1300))), p.toA);
    }
    const d = drops(p.b);
    expect(d.auth).toBe(50);
    expect(d.internal).toBe(0);
    expect(got).toEqual([]);
    expect(p.b.state).toBe('open');
  });

  it('an authenticated peer breaking the protocol is refused and counted', () => {
    const p = makePair();
    runUntil(p.clock, () => p.a.state === 'open' && p.b.state === 'open', 5000);
    runUntil(p.clock, () => false, 100);
    const got = collect(p.b);
    // Seal with A's real keys (the session's private packet sender), bypassing A's own logic.
    const asA = (frames: Frame[]): Uint8Array =>
      (p.a as unknown as { sender: PacketSender }).sender.seal(frames)!;
    p.b.receive(asA([{ type: 'ack', delayUs: 0, ranges: [{ smallest: 0, largest: 1_000_000 }] }]), p.toA);
    p.b.receive(asA([{ type: 'receipt', count: 999 }]), p.toA);
    expect(drops(p.b).protocol).toBe(2);
    p.b.receive(asA([{ type: 'pathResponse', data: new Uint8Array(8) }]), p.toA);
    expect(drops(p.b).pathResponse).toBe(1);
    // Beyond the 2 MiB receive window: the whole packet is refused (and not acknowledged).
    const received = p.b.stats().packetsReceived;
    p.b.receive(asA([{ type: 'stream', offset: 3 * 1024 * 1024, data: enc('x') }]), p.toA);
    expect(drops(p.b).flowControl).toBe(1);
    expect(p.b.stats().packetsReceived).toBe(received);
    expect(got).toEqual([]);
    // A message header claiming more than 1 MiB ends the session with MALFORMED.
    const closed: { error?: { code: string } }[] = [];
    p.b.on('closed', (e) => closed.push(e));
    p.b.receive(asA([{ type: 'stream', offset: 0, data: new Uint8Array([0x7f, 0xff, 0xff, 0xff]) }]), p.toA);
    expect(closed[0]?.error?.code).toBe('MALFORMED');
    expect(p.b.state).toBe('closed');
    expect(drops(p.b).internal).toBe(0);
  });

  it('honest traffic under loss, duplication and reordering trips none of the hostile counters', () => {
    const p = makePair({ wire: { loss: 0.1, duplicate: 0.1, reorder: 0.2, jitterMs: 5 } });
    const got = collect(p.b);
    for (let i = 0; i < 100; i++) p.a.send(enc(`m${i}`));
    runUntil(p.clock, () => got.length === 100, 60_000);
    for (const s of [p.a, p.b]) {
      const d = drops(s);
      expect([
        d.protocol,
        d.auth,
        d.malformed,
        d.unknownCid,
        d.flowControl,
        d.reassemblyFull,
        d.internal,
      ]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    }
  });
});

describe('path validation', () => {
  it('a PATH_RESPONSE must come back from the challenged path: one relayed through the old path moves nothing', () => {
    const p = makePair();
    runUntil(p.clock, () => p.a.state === 'open' && p.b.state === 'open', 5000);
    runUntil(p.clock, () => false, 200);
    // An attacker on the path copies A's next packet and races it to B from its own address.
    const challenges: Uint8Array[] = [];
    const evil: SessionPath = {
      id: { kind: 'direct', remote: { address: '192.0.2.66', port: 6666 } },
      send: (d: Uint8Array) => void challenges.push(new Uint8Array(d)),
    };
    let copied = false;
    p.ab.drop = (d) => {
      if (!copied && d[1] === MsgType.SESSION_DATA && d.length > 60) {
        copied = true;
        p.b.receive(new Uint8Array(d), evil); // arrives first: B challenges 'evil'
      }
      return false;
    };
    const got = collect(p.b);
    p.a.send(enc('x'.repeat(100)));
    runUntil(p.clock, () => got.length === 1 && challenges.length > 0, 1000);
    expect(challenges.length).toBe(1);
    // The attacker hands the challenge to A over the real path; A answers on that path, so the
    // response reaches B from 'to-a', not from 'evil'.
    p.a.receive(challenges[0]!, p.toB);
    runUntil(p.clock, () => false, 5000);
    expect(p.b.stats().path).toBe(describePath(p.toA.id));
    expect(drops(p.b).pathResponse).toBe(1);
    expect(p.b.stats().pathValidationsFailed).toBe(1);
    expect(challenges.length).toBe(3); // tried three times, then gave up
    expect(got.length).toBe(1);
  });
});

describe('key rotation', () => {
  it('KeySchedule: rotates after the threshold once acknowledged, opens reordered packets with the previous key', () => {
    const k = new Uint8Array(32).fill(1);
    const tx = new KeySchedule(new CipherState(k), new CipherState(new Uint8Array(32)), 4);
    const rx = new KeySchedule(new CipherState(new Uint8Array(32)), new CipherState(k), 4);
    const dcid = new Uint8Array(8).fill(9);
    const packets: Uint8Array[] = [];
    for (let pn = 0; pn < 12; pn++) {
      const { cipher, phase } = tx.sealing(pn);
      packets.push(sealPacket({ dcid, keyPhase: phase, pn }, new Uint8Array([pn]), cipher));
      if (pn === 5) tx.onAcked(0); // an ACK of a phase-0 packet allows the first rotation...
      if (pn === 9) tx.onAcked(8); // ...and of a phase-1 packet the second
    }
    const phases = packets.map((d) => d[10]);
    // 4 packets of phase 0, then rotation is allowed (ack at pn 5): 6.. in phase 1; the ack of
    // pn 8 (phase 1) allows the next after 4 more: 10.. in phase 0 again.
    expect(phases).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0]);
    const open = (pn: number, now: number): number => {
      const p = parseDataPacket(packets[pn]!);
      return rx.opening(p.header.keyPhase, pn, now, 100, (c) => openPacket(p, c))[0]!;
    };
    expect(open(0, 0)).toBe(0);
    expect(open(7, 1)).toBe(7); // a phase-1 packet: the receiver rotates
    expect(rx.recvRotations).toBe(1);
    expect(open(5, 2)).toBe(5); // a late phase-0 packet: the previous key, still kept
    expect(open(6, 3)).toBe(6);
    // A forged phase flip does not rotate the receiver.
    const forged = new Uint8Array(packets[11]!);
    forged[forged.length - 1]! ^= 1;
    const fp = parseDataPacket(forged);
    expect(() => rx.opening(fp.header.keyPhase, 11, 4, 100, (c) => openPacket(fp, c))).toThrow();
    expect(rx.recvRotations).toBe(1);
    expect(open(10, 5)).toBe(10);
    expect(rx.recvRotations).toBe(2);
    // The retired key is gone after keepPreviousMs.
    let err: unknown;
    try {
      open(8, 500);
    } catch (e) {
      err = e;
    }
    expect(isPunchlineError(err, 'BAD_SIGNATURE')).toBe(true);
  });

  it('a session rotating every 8 packets keeps delivering under loss, duplication and reordering', () => {
    const p = makePair({
      seed: 5,
      tuning: { rekeyAfterPackets: 8 },
      wire: { loss: 0.1, duplicate: 0.05, reorder: 0.1, jitterMs: 4 },
    });
    const ga = collect(p.a);
    const gb = collect(p.b);
    const N = 400;
    for (let i = 0; i < N; i++) {
      p.a.send(enc(`a${i}`.padEnd(200, '.')));
      p.b.send(enc(`b${i}`.padEnd(200, '.')));
    }
    expect(runUntil(p.clock, () => ga.length === N && gb.length === N, 600_000)).toBe(true);
    expect(gb.map((m) => m.text.replace(/\.+$/, ''))).toEqual([...Array(N)].map((_, i) => `a${i}`));
    expect(ga.map((m) => m.text.replace(/\.+$/, ''))).toEqual([...Array(N)].map((_, i) => `b${i}`));
    // Packets still on their way when the last message landed (ACKs, RECEIPTs, perhaps under a
    // fresh key phase) arrive before the counts are compared.
    run(p.clock, 2_000);
    const sa = p.a.stats();
    const sb = p.b.stats();
    // A key rotates at most once per round trip (it waits for an ACK of the current phase).
    expect(sa.keyPhase.sendRotations).toBeGreaterThan(5);
    expect(sb.keyPhase.receiveRotations).toBe(sa.keyPhase.sendRotations);
    expect(sb.keyPhase.sendRotations).toBeGreaterThan(5);
  });
});
