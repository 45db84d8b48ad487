import { describe, expect, it } from 'vitest';
import { type Clock, SystemClock, VirtualClock } from '../../common/clock.js';
import { CipherState } from '../../common/crypto/cipher-state.js';
import { silentLogger } from '../../common/log.js';
import { AckTracker } from '../../common/session/ack-tracker.js';
import { type CongestionController, NewReno } from '../../common/session/congestion.js';
import { type Frame, decodeFrames } from '../../common/session/frames.js';
import { KeySchedule } from '../../common/session/key-schedule.js';
import { LivenessMonitor } from '../../common/session/liveness-monitor.js';
import { LossRecovery } from '../../common/session/loss-recovery.js';
import { SESSION_DEFAULTS } from '../../common/session/options.js';
import { openPacket, parseDataPacket } from '../../common/session/packet.js';
import { PacketSender } from '../../common/session/packet-sender.js';
import { Receipts } from '../../common/session/receipts.js';
import { SendBuffer } from '../../common/session/send-buffer.js';
import type { SessionPath } from '../../common/session/session-path.js';

const KEY = new Uint8Array(32).fill(5);
const CID = new Uint8Array(8).fill(0xcc);

/** A sender wired to real parts, on a path that records the frames of each packet (opened with the peer's key). */
function setup(
  realClock?: Clock,
  cc?: CongestionController,
): {
  clock: VirtualClock;
  sender: PacketSender;
  recovery: LossRecovery;
  acks: AckTracker;
  buf: SendBuffer;
  receipts: Receipts;
  release: (n: number) => void;
  packets: { at: number; frames: Frame['type'][] }[];
} {
  const virtual = new VirtualClock();
  const clock = realClock ?? virtual;
  const buf = new SendBuffer(1 << 20);
  buf.flowLimit = 1 << 20;
  let released = 0;
  const receipts = new Receipts(buf, () => released);
  const ref: { sender?: PacketSender } = {}; // the parts and the sender refer to each other
  const flush = (): void => ref.sender!.flush();
  const acks = new AckTracker(clock, SESSION_DEFAULTS, flush);
  const recovery = new LossRecovery(
    clock,
    SESSION_DEFAULTS,
    buf,
    receipts,
    {
      active: () => true,
      peerMaxAckDelay: () => 25,
      ping: () => void (ref.sender!.pingPending = true),
      flush,
    },
    cc,
  );
  const liveness = new LivenessMonitor(clock, SESSION_DEFAULTS, {
    dead: () => {},
    ping: () => false,
    active: () => false,
  });
  const opener = new KeySchedule(new CipherState(new Uint8Array(32)), new CipherState(KEY), 1 << 20);
  const packets: { at: number; frames: Frame['type'][] }[] = [];
  const path: SessionPath = {
    id: { kind: 'relay' },
    send: (d) => {
      const p = parseDataPacket(d);
      const plain = opener.opening(p.header.keyPhase, p.header.pn, clock.now(), 0, (c) => openPacket(p, c));
      packets.push({ at: clock.now(), frames: decodeFrames(plain).map((f) => f.type) });
    },
  };
  const keys = new KeySchedule(new CipherState(KEY), new CipherState(new Uint8Array(32)), 1 << 20);
  const sender = new PacketSender(
    clock,
    silentLogger,
    { acks, receipts, sendBuf: buf, recovery, liveness },
    { active: () => true, path: () => path, keys: () => keys, remoteCid: () => CID, fail: () => {} },
  );
  ref.sender = sender;
  return {
    clock: virtual,
    sender,
    recovery,
    acks,
    buf,
    receipts,
    release: (n) => void (released = n),
    packets,
  };
}

describe('PacketSender', () => {
  it('queued messages share packets on the next clock turn; stream data fills each packet', () => {
    const t = setup();
    for (let i = 0; i < 3; i++) t.receipts.write(new Uint8Array(500));
    t.sender.queueFlush();
    t.sender.queueFlush();
    expect(t.packets).toEqual([]);
    t.clock.advance(0);
    expect(t.packets.map((p) => p.frames)).toEqual([['stream'], ['stream']]); // 1.5 KB: two packets
    expect(t.sender.nextPn).toBe(2);
    expect(t.sender.n.packetsSent).toBe(2);
  });

  it('on the real clock a queued flush goes in the same turn of the event loop, not after a timer', async () => {
    const t = setup(new SystemClock());
    t.receipts.write(new Uint8Array(100));
    t.sender.queueFlush();
    expect(t.packets).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.packets.map((p) => p.frames)).toEqual([['stream']]);
    t.sender.close();
    t.recovery.close(); // the loss timer the packet armed
  });

  it('nothing pending, nothing sent; a lone ACK goes only when due', () => {
    const t = setup();
    t.sender.flush();
    expect(t.packets).toEqual([]);
    t.acks.onReceived(0, 0);
    t.acks.onAckEliciting(0, false, false); // pending, due after max_ack_delay
    t.sender.flush();
    expect(t.packets).toEqual([]);
    const delay = SESSION_DEFAULTS.maxAckDelayMs;
    t.clock.advance(delay - 1);
    expect(t.packets).toEqual([]);
    t.clock.advance(1); // the delay timer calls flush()
    expect(t.packets).toEqual([{ at: delay, frames: ['ack'] }]);
    expect(t.acks.pending).toBe(false);
  });

  it('a fresh RECEIPT waits for an ACK to ride with; an urgent one goes alone', () => {
    const t = setup();
    t.release(1);
    t.sender.flush();
    expect(t.packets).toEqual([]);
    t.receipts.markUrgent();
    t.sender.flush();
    expect(t.packets.map((p) => p.frames)).toEqual([['receipt']]);
    t.release(2);
    t.acks.onReceived(0, 0);
    t.acks.onAckEliciting(0, true, false); // due at once
    t.sender.flush();
    expect(t.packets.map((p) => p.frames)).toEqual([['receipt'], ['ack', 'receipt']]);
  });

  it('a pending PING goes once, in an ack-eliciting packet', () => {
    const t = setup();
    t.sender.pingPending = true;
    t.sender.flush();
    t.sender.flush();
    expect(t.packets.map((p) => p.frames)).toEqual([['ping']]);
    expect(t.sender.pingPending).toBe(false);
  });

  it('paces stream data: a burst of 10 packets, then one per size / rate, on timers of the injected clock', () => {
    // A window that never fills, paced at 12 bytes per ms: a full packet every ~100 ms.
    const cc = Object.assign(new NewReno(), { cwnd: 1e9, pacingRate: () => 12 });
    const t = setup(undefined, cc);
    t.receipts.write(new Uint8Array(20_000));
    t.sender.flush();
    expect(t.packets.length).toBe(10);
    expect(t.clock.timerCount).toBe(2); // the loss timer and the pacing timer
    t.clock.advance(95); // ~1199 bytes of credit take ~100 ms
    expect(t.packets.length).toBe(10);
    t.clock.advance(5);
    expect(t.packets.length).toBe(11);
    t.clock.advance(300);
    expect(t.packets.length).toBe(14);
    const gaps = t.packets.slice(10).map((p, i) => p.at - t.packets[9 + i]!.at);
    expect(gaps.every((g) => g > 95 && g < 101)).toBe(true);
    t.sender.close();
    t.recovery.close();
    expect(t.clock.timerCount).toBe(0);
  });

  it('close() cancels a queued flush', () => {
    const t = setup();
    t.receipts.write(new Uint8Array(10));
    t.sender.queueFlush();
    t.sender.close();
    t.clock.advance(100);
    expect(t.packets).toEqual([]);
  });
});
