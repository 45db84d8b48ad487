import type { Clock, TimerHandle } from '../clock.js';
import { PunchlineError } from '../errors.js';
import type { Logger } from '../log.js';
import { describePath } from '../path/path-id.js';
import type { AckTracker } from './ack-tracker.js';
import { MAX_DATAGRAM_SIZE } from './congestion.js';
import { type Frame, encodeFrames, frameSize } from './frames.js';
import type { KeySchedule } from './key-schedule.js';
import type { LivenessMonitor } from './liveness-monitor.js';
import type { SentFrame } from './loss-detection.js';
import type { LossRecovery } from './loss-recovery.js';
import { MAX_PACKET_NUMBER, MAX_PLAINTEXT, sealPacket } from './packet.js';
import type { Receipts } from './receipts.js';
import type { SendBuffer } from './send-buffer.js';
import type { SessionPath } from './session-path.js';
import { varintLength } from './varint.js';

/** Packets one flush() may send before yielding to the clock (the rest follow at once). */
const MAX_PACKETS_PER_FLUSH = 64;
/** A STREAM frame is only started with at least this much room left in the packet. */
const MIN_STREAM_ROOM = 24;

export interface SenderHooks {
  /** Is the session open? Nothing is sent otherwise. */
  active(): boolean;
  path(): SessionPath | undefined;
  /** The transport keys and the peer's connection id, once the handshake is done. */
  keys(): KeySchedule | undefined;
  remoteCid(): Uint8Array | undefined;
  fail(error: PunchlineError): void;
}

/** The parts whose state decides what a packet carries. */
export interface SenderParts {
  readonly acks: AckTracker;
  readonly receipts: Receipts;
  readonly sendBuf: SendBuffer;
  readonly recovery: LossRecovery;
  readonly liveness: LivenessMonitor;
}

/** One packet's contents before sealing. */
interface Draft {
  readonly frames: Frame[];
  readonly sent: SentFrame[];
  readonly ack: Frame | undefined;
  readonly receipt: number;
  readonly ping: boolean;
}

/**
 * Builds, seals and sends data packets: an ACK when one is due, a RECEIPT, a PING, then stream
 * data (retransmissions first) as the congestion window and the pacer allow; every packet under
 * the next packet number. flush() sends while anything justifies a packet; queueFlush() does so
 * at the end of the current task, so several send() calls share packets.
 */
export class PacketSender {
  private pn = 0;
  /** A flush is deferred to the end of this turn (clock.defer). */
  private flushQueued = false;
  /** The pacer holds data back until this fires. */
  private paceTimer: TimerHandle | undefined;
  /** Frames are encoded here before sealing: one buffer for the session's life, not one per packet. */
  private readonly plaintext = new Uint8Array(MAX_PLAINTEXT);
  /** A PING goes in the next ack-eliciting packet (heartbeat, probe, confirmation). */
  pingPending = false;
  readonly n = { packetsSent: 0, bytesSent: 0, largestDatagram: 0 };

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly parts: SenderParts,
    private readonly hooks: SenderHooks,
  ) {}

  /** The packet number the next packet gets (every lower one was sent). */
  get nextPn(): number {
    return this.pn;
  }

  /**
   * Flush at the end of the current task (clock.defer, not a timer: node's fire no sooner than
   * 1 ms, which capped a bulk transfer at one burst per millisecond), so the send() calls and
   * datagrams of one turn share packets.
   */
  queueFlush(): void {
    if (this.flushQueued || !this.hooks.active()) return;
    this.flushQueued = true;
    this.clock.defer(() => {
      if (this.flushQueued) this.flush();
    });
  }

  /** New data was queued: flush now when `idle` and no flush is queued, else queueFlush(). */
  sendSoon(idle: boolean): void {
    if (idle && !this.flushQueued && this.hooks.active()) this.flush();
    else this.queueFlush();
  }

  flush(): void {
    this.flushQueued = false;
    const path = this.hooks.path();
    if (!this.hooks.active() || !path) return;
    let sentEliciting = false;
    for (let i = 0; i < MAX_PACKETS_PER_FLUSH; i++) {
      const r = this.sendPacket(path);
      if (r === 'none') break;
      if (r === 'eliciting') sentEliciting = true;
      if (i === MAX_PACKETS_PER_FLUSH - 1) this.queueFlush();
    }
    if (sentEliciting) this.parts.recovery.arm();
    this.afterFlush(path);
  }

  /**
   * Stream data left waiting only for the pacer or the path's rate limit: flush again when both
   * allow the next packet (a timer on the injected clock). Nothing left at all: the sender is
   * application-limited, which the congestion controller must know to read its rate samples right.
   */
  private afterFlush(path: SessionPath): void {
    const { sendBuf, recovery } = this.parts;
    if (!sendBuf.hasLost() && !sendBuf.hasNew()) return recovery.onAppLimited();
    if (this.paceTimer || !recovery.cc.canSend()) return;
    const wait = Math.max(recovery.pacingWait(), this.pathWait(path));
    if (wait <= 0) return;
    this.paceTimer = this.clock.setTimeout(() => {
      this.paceTimer = undefined;
      this.flush();
    }, wait);
  }

  /** A packet outside loss recovery (path probes, CLOSE): sent once, on the given path. */
  sendControl(path: SessionPath, frames: readonly Frame[]): void {
    const datagram = this.seal(frames);
    if (datagram) this.emit(path, datagram);
  }

  /** Send a datagram as it is (handshake packets); a path that throws is logged, not fatal. */
  sendRaw(path: SessionPath, datagram: Uint8Array): void {
    if (datagram.length > this.n.largestDatagram) this.n.largestDatagram = datagram.length;
    try {
      path.send(datagram);
    } catch (err) {
      this.log.warn('session path send failed', { path: describePath(path.id), error: String(err) });
    }
  }

  /** Forget a deferred flush and stop the pacing timer. Idempotent. */
  close(): void {
    this.flushQueued = false;
    this.clock.clearTimeout(this.paceTimer);
    this.paceTimer = undefined;
  }

  /**
   * ms until the path's carrier takes a full packet within its rate limit (SessionPath.wait: the
   * relay's per-peer buckets). Probes go regardless, as they do past the window and the pacer.
   */
  private pathWait(path: SessionPath): number {
    return this.parts.recovery.probing || !path.wait ? 0 : path.wait(MAX_DATAGRAM_SIZE);
  }

  /** Build and send one packet from what is pending; 'none' when nothing justifies one. */
  private sendPacket(path: SessionPath): 'none' | 'ack' | 'eliciting' {
    const { acks, receipts, recovery, liveness } = this.parts;
    const d = this.draft(path);
    const eliciting = d.sent.length > 0;
    // A fresh RECEIPT waits for the ACK it rides with (at most max_ack_delay away), so a message
    // does not cost a packet of its own; a RECEIPT lost or probed goes at once.
    const receiptOnly = d.receipt > 0 && d.sent.length === 1;
    const justified =
      (eliciting && !receiptOnly) ||
      (receiptOnly && (receipts.urgent || recovery.probing)) ||
      (d.ack && acks.due);
    if (!justified) return 'none';
    if (d.ack) d.frames.unshift(d.ack);
    const datagram = this.seal(d.frames);
    if (!datagram) return 'none';
    const pn = this.pn - 1;
    this.emit(path, datagram);
    if (d.ack) acks.onSent();
    if (!eliciting) return 'ack';
    const now = this.clock.now();
    recovery.onSent({
      pn,
      timeSent: now,
      size: datagram.length,
      frames: d.sent,
      ackLargest: d.ack && d.ack.type === 'ack' ? d.ack.ranges[0]!.largest : undefined,
    });
    liveness.sent(now);
    if (d.ping) this.pingPending = false;
    if (d.receipt > 0) receipts.onSent(d.receipt);
    return 'eliciting';
  }

  /** What the next packet would carry (the ACK goes first, added once the packet is justified). */
  private draft(path: SessionPath): Draft {
    const { acks, receipts } = this.parts;
    const frames: Frame[] = [];
    const sent: SentFrame[] = [];
    let size = 0;
    const ack = acks.pending ? acks.frame(this.clock.now()) : undefined;
    if (ack) size += frameSize(ack);
    const receipt = receipts.toSend();
    if (receipt > 0) {
      const f: Frame = { type: 'receipt', count: receipt };
      frames.push(f);
      sent.push({ kind: 'receipt', count: receipt });
      size += frameSize(f);
    }
    const ping = this.pingPending;
    if (ping) {
      frames.push({ type: 'ping' });
      sent.push({ kind: 'ping' });
      size += 1;
    }
    if (this.pathWait(path) <= 0) this.addStream(frames, sent, size);
    return { frames, sent, ack, receipt, ping };
  }

  /**
   * Stream data into the room left: retransmissions first, then new bytes, within the
   * congestion window (probes may exceed it, RFC 9002 §7.5) and the path's rate limit.
   */
  private addStream(frames: Frame[], sent: SentFrame[], used: number): void {
    const sendBuf = this.parts.sendBuf;
    if (!this.parts.recovery.canSend()) return;
    let size = used;
    const maxOverhead = 1 + varintLength(sendBuf.writeOffset) + 2;
    while (MAX_PLAINTEXT - size - maxOverhead >= MIN_STREAM_ROOM) {
      const room = MAX_PLAINTEXT - size - maxOverhead;
      const span = sendBuf.takeLost(room) ?? sendBuf.takeNew(room);
      if (!span) break;
      const f: Frame = { type: 'stream', offset: span.offset, data: sendBuf.read(span.offset, span.length) };
      frames.push(f);
      sent.push({ kind: 'stream', offset: span.offset, length: span.length });
      size += frameSize(f);
    }
  }

  /** Seal frames into the next packet number. */
  seal(frames: readonly Frame[]): Uint8Array | undefined {
    const keys = this.hooks.keys();
    const remoteCid = this.hooks.remoteCid();
    if (!keys || !remoteCid) return undefined;
    if (this.pn >= MAX_PACKET_NUMBER) {
      this.hooks.fail(new PunchlineError('CLOSED', 'packet numbers exhausted'));
      return undefined;
    }
    const pn = this.pn++;
    const { cipher, phase } = keys.sealing(pn);
    return sealPacket({ dcid: remoteCid, keyPhase: phase, pn }, encodeFrames(frames, this.plaintext), cipher);
  }

  private emit(path: SessionPath, datagram: Uint8Array): void {
    this.n.packetsSent++;
    this.n.bytesSent += datagram.length;
    this.sendRaw(path, datagram);
  }
}
