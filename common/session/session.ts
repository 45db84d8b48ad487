import type { Clock, TimerHandle } from '../clock.js';
import { DH_LEN, type KeyPair, type RandomBytes, defaultRandomBytes } from '../crypto/x25519.js';
import { Emitter } from '../emitter.js';
import { PunchlineError, badArgument, closed } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { type PathId, describePath } from '../path/path-id.js';
import { equalBytes, toHex } from '../wire/bytes.js';
import { MsgType } from '../wire/constants.js';
import { AckTracker } from './ack-tracker.js';
import { NewReno } from './congestion.js';
import {
  CloseCode,
  type Frame,
  decodeFrames,
  encodeFrames,
  frameSize,
  isAckEliciting,
  isProbing,
} from './frames.js';
import type { HandshakeResult } from './handshake-driver.js';
import type { TransportParams } from './handshake-payload.js';
import { KeySchedule } from './key-schedule.js';
import { LossDetector, type SentFrame, type SentPacket } from './loss-detection.js';
import { LossMeter } from './loss-meter.js';
import { type SessionTuning, resolveTuning } from './options.js';
import {
  CID_BYTES,
  MAX_DATAGRAM,
  MAX_PACKET_NUMBER,
  MAX_PLAINTEXT,
  type ParsedDataPacket,
  isSessionPacket,
  openPacket,
  parseDataPacket,
  sealPacket,
} from './packet.js';
import { LivenessMonitor } from './liveness-monitor.js';
import { PathValidator } from './path-validator.js';
import { Receipts } from './receipts.js';
import { Reassembler } from './reassembly.js';
import { ReplayWindow } from './replay-window.js';
import { RttEstimator } from './rtt.js';
import { SendBuffer } from './send-buffer.js';
import { SessionHandshake, initialConnectionId } from './session-handshake.js';
import { type SessionPath, samePath } from './session-path.js';
import { type DropCounts, type SessionStats, newDropCounts } from './stats.js';
import { varintLength } from './varint.js';

export type { SessionPath };

export interface SessionOptions extends Partial<SessionTuning> {
  /**
   * Force the role. Left undefined (recommended), the side with the lower static public key
   * (bytewise) initiates: both peers are introduced at the same moment and know both keys, so
   * they agree without a message. If both initiate anyway, the same rule resolves it.
   */
  initiator?: boolean;
  /** This side's X25519 static key pair (Identity.dhPublic / dhPrivate). */
  staticKey: KeyPair;
  /** The X25519 key the rendezvous introduced; the handshake fails with KEY_MISMATCH otherwise. */
  expectedRemoteStatic: Uint8Array;
  /** Bytes both sides know, bound into the handshake (the introduction id). */
  prologue?: Uint8Array;
  /**
   * RECEIPTs (and the receive window) count only messages the owner released with release(id),
   * not every message delivered: an owner that must store a message before the peer may call it
   * delivered releases it once stored. Unreleased messages hold the window: the peer stops
   * after one window's worth.
   */
  releaseByOwner?: boolean;
}

export interface SessionComponents {
  clock: Clock;
  randomBytes?: RandomBytes;
  logger?: Logger;
}

export type SessionState = SessionStats['state'];
export type CloseReason = 'local' | 'remote' | 'error';

export interface SessionEvents extends Record<string, unknown> {
  /** The handshake finished; messages flow. */
  open: { remoteStatic: Uint8Array; path: PathId | undefined };
  /** A message from the peer, in order, exactly once. Ids count 1, 2, 3... per direction. */
  message: { id: number; data: Uint8Array };
  /** The peer's application has message `id` (RECEIPT). */
  delivered: { id: number };
  /** send() returned false earlier; there is room again. */
  writable: Record<string, never>;
  /** Nothing authenticated arrived for deadAfterMs. Messages wait; give a new path with setPath(). */
  dead: { reason: 'timeout'; silentMs: number; path: PathId | undefined };
  /** An authenticated packet arrived after 'dead'. */
  alive: { path: PathId | undefined };
  /** Packets now go out on this path: set by the owner, or validated after the peer moved. */
  path: { id: PathId; via: 'set' | 'validated' | 'adopted' };
  /** An authenticated packet came from a new path; a PATH_CHALLENGE went there. */
  pathChallenge: { id: PathId };
  closed: { reason: CloseReason; error?: PunchlineError };
}

/** Packets one flush() may send before yielding to the clock (the rest follow at once). */
const MAX_PACKETS_PER_FLUSH = 64;
/** A STREAM frame is only started with at least this much room left in the packet. */
const MIN_STREAM_ROOM = 24;
/** Probe packets per probe timeout (RFC 9002 §6.2.4: one or two; two, so one loss does not cost a PTO). */
const PROBES_PER_PTO = 2;

/**
 * A secure, reliable, path-agnostic session between two peers (docs/session.md).
 *
 * Noise XX proves both static keys; then every packet is sealed with ChaCha20-Poly1305 under a
 * 48-bit packet number. Messages up to 1 MiB travel on one ordered stream, acknowledged with
 * ACK ranges, recovered after RFC 9002 (packet and time thresholds, probe timeout), paced by a
 * NewReno window, and confirmed to the sender with RECEIPTs. The session sends on the path it is
 * given and is fed every datagram for its connection ids; it follows the peer to a new address
 * only after a PATH_CHALLENGE/PATH_RESPONSE round trip on that address.
 *
 * Events are emitted synchronously; receive() never throws. start() and close() are idempotent.
 */
export class Session extends Emitter<SessionEvents> {
  /** The connection id the peer addresses this side by (8 random bytes). */
  readonly localCid: Uint8Array;
  /** Where message 1 goes (derived from the prologue; see initialConnectionId). */
  readonly initialCid: Uint8Array;
  private readonly t: SessionTuning;
  private readonly clock: Clock;
  private readonly random: RandomBytes;
  private readonly log: Logger;

  private st: SessionState = 'idle';
  private path: SessionPath | undefined;

  private readonly hs: SessionHandshake;
  private remoteCid: Uint8Array | undefined;
  private remoteParams: TransportParams | undefined;
  private remoteStaticKey: Uint8Array | undefined;
  private hsHash: Uint8Array | undefined;
  private keys: KeySchedule | undefined;

  // packets
  private nextPn = 0;
  private readonly replay: ReplayWindow;
  private readonly acks: AckTracker;

  // recovery
  private readonly rtt: RttEstimator;
  private readonly loss: LossDetector;
  private readonly cc = new NewReno();
  private readonly lossMeter = new LossMeter();
  private lossTimer: TimerHandle | undefined;
  private probeBudget = 0;
  private pingPending = false;

  // messages
  private readonly sendBuf: SendBuffer;
  private readonly reasm: Reassembler;
  private readonly receipts: Receipts;

  // paths and liveness
  private readonly validator: PathValidator;
  private readonly liveness: LivenessMonitor;
  private flushTimer: TimerHandle | undefined;

  private readonly dropped: DropCounts = newDropCounts();
  private readonly n = {
    packetsSent: 0,
    packetsReceived: 0,
    packetsLost: 0,
    bytesSent: 0,
    bytesReceived: 0,
    largestDatagram: 0,
    retransmits: 0,
    retransmittedBytes: 0,
    probeTimeouts: 0,
  };

  constructor(options: SessionOptions, components: SessionComponents) {
    super();
    const { initiator, staticKey, expectedRemoteStatic, prologue, releaseByOwner: _r, ...tuning } = options;
    this.t = resolveTuning(tuning);
    if (staticKey.publicKey.length !== DH_LEN || staticKey.privateKey.length !== DH_LEN)
      throw badArgument('staticKey must be an X25519 key pair');
    if (expectedRemoteStatic.length !== DH_LEN) throw badArgument('expectedRemoteStatic must be 32 bytes');
    this.clock = components.clock;
    this.random = components.randomBytes ?? defaultRandomBytes;
    this.log = components.logger ?? silentLogger;
    this.initialCid = initialConnectionId(prologue ?? new Uint8Array(0));
    this.localCid = this.freshCid();
    const hsConfig = {
      staticKey,
      expectedRemoteStatic: new Uint8Array(expectedRemoteStatic),
      prologue: new Uint8Array(prologue ?? new Uint8Array(0)),
      localCid: this.localCid,
      params: { receiveWindow: this.t.receiveWindowBytes, maxAckDelayMs: this.t.maxAckDelayMs },
      randomBytes: this.random,
    };
    this.hs = new SessionHandshake(hsConfig, this.initialCid, initiator, this.t, {
      clock: this.clock,
      log: this.log,
      dropped: this.dropped,
      state: () => this.st,
      path: () => this.path,
      sendRaw: (path, datagram) => this.sendRaw(path, datagram),
      opened: (result, from) => this.onHandshakeDone(result, from),
      answerFinish: () => {
        this.pingPending = true;
        this.queueFlush();
      },
      fail: (error) => this.fail(error),
    });
    this.replay = new ReplayWindow(this.t.replayWindowPackets);
    this.rtt = new RttEstimator(this.t.initialRttMs);
    this.loss = new LossDetector(this.rtt, {
      packetThreshold: this.t.packetThreshold,
      timeThreshold: this.t.timeThreshold,
      persistentCongestionThreshold: this.t.persistentCongestionThreshold,
      maxPtoMs: this.t.maxPtoMs,
    });
    this.sendBuf = new SendBuffer(this.t.sendBufferBytes);
    this.reasm = new Reassembler(
      this.t.receiveWindowBytes,
      this.t.maxMessageBytes,
      this.t.maxOutOfOrderSegments,
      options.releaseByOwner === true,
    );
    this.acks = new AckTracker(this.clock, this.t, () => this.flush());
    this.receipts = new Receipts(this.sendBuf, () => this.reasm.messagesReleased);
    this.validator = new PathValidator(this.clock, this.random, this.t.pathChallengeTries, {
      challenged: (path) => this.fire('pathChallenge', { id: path.id }),
      sendChallenge: (path, data) => this.sendControl(path, [{ type: 'pathChallenge', data }]),
      // Every two PTOs; three tries span six, more than RFC 9000 §8.2.4's three before giving up.
      retryDelayMs: () => Math.max(2 * this.rtt.pto(this.peerMaxAckDelay()), 50),
    });
    this.liveness = new LivenessMonitor(this.clock, this.t, {
      dead: (silentMs) => this.fire('dead', { reason: 'timeout', silentMs, path: this.path?.id }),
      ping: () => {
        this.pingPending = true;
        this.flush();
        return !this.pingPending;
      },
      active: () => this.st === 'open',
    });
  }

  // ---- public API ----

  get state(): SessionState {
    return this.st;
  }
  get isInitiator(): boolean {
    return this.hs.isInitiator;
  }
  /** The connection ids (hex) the owner routes to this session: its own and the initial one. */
  routingIds(): string[] {
    return [toHex(this.localCid), toHex(this.initialCid)];
  }
  /** The peer's proven static key, once open. */
  get remoteStatic(): Uint8Array | undefined {
    return this.remoteStaticKey && new Uint8Array(this.remoteStaticKey);
  }
  /** Noise channel binding (Noise §11.2), once open. */
  get handshakeHash(): Uint8Array | undefined {
    return this.hsHash && new Uint8Array(this.hsHash);
  }
  /** The path packets go out on now. */
  get pathId(): PathId | undefined {
    return this.path?.id;
  }
  get dead(): boolean {
    return this.liveness.dead;
  }

  /**
   * Send on this path from now on. Any time: before start, during the handshake (which is
   * retransmitted on it at once), or after 'dead' or a change of route (the congestion window and
   * RTT estimate start afresh, RFC 9000 §9.4, and everything in flight is sent again at once).
   */
  setPath(path: SessionPath): void {
    if (this.st === 'closed') return;
    const changed = !this.path || !samePath(this.path, path) || this.liveness.dead;
    this.path = path;
    if (this.validator.isValidating(path)) this.validator.cancel();
    if (this.st === 'handshaking') return this.hs.onPathSet(path);
    if (this.st !== 'open' || !changed) return;
    if (!this.hs.confirmed) this.hs.resend(); // message 3 again, on the new path
    this.fire('path', { id: path.id, via: 'set' });
    this.onPathChanged(true);
  }

  /** Begin: the initiator sends message 1 (on the path, once there is one). Idempotent. */
  start(): void {
    if (this.st !== 'idle') return;
    this.st = 'handshaking';
    this.hs.start();
  }

  /**
   * Queue a message (copied) of at most maxMessageBytes. Returns its id, or false when the send
   * buffer is full: wait for 'writable'. Messages sent before 'open' or while 'dead' wait here.
   */
  send(data: Uint8Array): number | false {
    if (this.st === 'closed') throw closed('session is closed');
    if (data.length > this.t.maxMessageBytes)
      throw badArgument(`message of ${data.length} bytes exceeds ${this.t.maxMessageBytes}`);
    const id = this.receipts.write(data);
    if (id !== false) this.queueFlush();
    return id;
  }

  /**
   * Feed one datagram for this session (routed by connectionIdOf). `from` is the path it came
   * from. Never throws: anything wrong is counted in stats().dropped and dropped.
   */
  receive(datagram: Uint8Array, from: SessionPath): void {
    try {
      if (this.st === 'closed') {
        this.dropped.closed++;
        return;
      }
      if (this.st === 'idle') this.start();
      if (!isSessionPacket(datagram) || datagram.length > MAX_DATAGRAM) {
        this.dropped.malformed++;
        return;
      }
      if (datagram[1] === MsgType.SESSION_DATA) this.onDataPacket(datagram, from);
      else this.hs.onPacket(datagram, from);
    } catch (err) {
      this.dropped.internal++;
      this.log.error('session receive failed', { error: String(err) });
    }
  }

  /** Close: tell the peer (best effort), stop every timer. Idempotent. */
  close(): void {
    if (this.st === 'closed') return;
    this.sendClose(CloseCode.NORMAL);
    this.finish('local');
  }

  stats(): SessionStats {
    return {
      state: this.st,
      role: this.hs.roleName,
      path: this.path && describePath(this.path.id),
      dead: this.liveness.dead,
      rttMs: this.rtt.smoothed,
      minRttMs: this.rtt.hasSample ? this.rtt.min : 0,
      rttVarMs: this.rtt.rttvar,
      latestRttMs: this.rtt.latest,
      ptoMs: this.rtt.pto(this.peerMaxAckDelay()),
      loss: this.lossMeter.fraction,
      cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh,
      bytesInFlight: this.cc.bytesInFlight,
      congestionEvents: this.cc.congestionEvents,
      persistentCongestion: this.cc.persistentCongestionEvents,
      ...this.n,
      handshakeRetransmits: this.hs.retransmits,
      pathChallenges: this.validator.challenges,
      pathsValidated: this.validator.validated,
      pathValidationsFailed: this.validator.failed,
      deadEvents: this.liveness.deadEvents,
      messagesSent: this.sendBuf.messagesWritten,
      messagesReceived: this.reasm.messagesDelivered,
      messagesDelivered: this.receipts.delivered,
      sendBufferBytes: this.sendBuf.buffered,
      keyPhase: {
        send: this.keys?.sendPhase ?? 0,
        receive: this.keys?.recvPhase ?? 0,
        sendRotations: this.keys?.sendRotations ?? 0,
        receiveRotations: this.keys?.recvRotations ?? 0,
      },
      dropped: { ...this.dropped },
    };
  }

  // ---- handshake ----

  private onHandshakeDone(r: HandshakeResult, from: SessionPath): void {
    const now = this.clock.now();
    this.keys = new KeySchedule(r.ciphers.send, r.ciphers.receive, this.t.rekeyAfterPackets);
    this.remoteCid = r.remoteCid;
    this.remoteParams = r.remoteParams;
    this.remoteStaticKey = r.remoteStatic;
    this.hsHash = r.handshakeHash;
    this.sendBuf.flowLimit = r.remoteParams.receiveWindow;
    this.st = 'open';
    this.liveness.reset(now);
    if (!this.path) {
      this.path = from;
      this.fire('path', { id: from.id, via: 'adopted' });
    }
    // The responder's first packet confirms the handshake to the initiator (the role of QUIC's
    // HANDSHAKE_DONE, RFC 9000 §19.20); a PING makes it go now, and its ACK gives an RTT sample.
    if (!this.hs.isInitiator) this.pingPending = true;
    this.liveness.arm();
    this.fire('open', { remoteStatic: new Uint8Array(r.remoteStatic), path: this.path.id });
    this.queueFlush();
  }

  // ---- data packets ----

  private onDataPacket(datagram: Uint8Array, from: SessionPath): void {
    let p: ParsedDataPacket;
    try {
      p = parseDataPacket(datagram);
    } catch {
      return void this.dropped.malformed++;
    }
    if (!equalBytes(p.header.dcid, this.localCid)) return void this.dropped.unknownCid++;
    const keys = this.keys;
    if (!keys || this.st !== 'open') return void this.dropped.early++;
    const pn = p.header.pn;
    // Cheap check first; the window only moves once the packet authenticates.
    if (this.replay.check(pn) !== 'new') return void this.dropped.replay++;
    const now = this.clock.now();
    let plaintext: Uint8Array;
    try {
      // RFC 9001 §6.5: keep the previous key for three probe timeouts after a rotation.
      const keep = 3 * this.rtt.pto(this.peerMaxAckDelay());
      plaintext = keys.opening(p.header.keyPhase, pn, now, keep, (c) => openPacket(p, c));
    } catch {
      return void this.dropped.auth++;
    }
    let frames: Frame[];
    try {
      frames = decodeFrames(plaintext);
    } catch {
      return void this.dropped.malformed++;
    }
    // Refuse the whole packet (unacknowledged, so the sender sends it again) rather than
    // acknowledge data this side cannot hold.
    for (const f of frames) {
      if (f.type !== 'stream') continue;
      const refusal = this.reasm.refusal(f.offset, f.data.length);
      if (refusal) return void this.dropped[refusal]++;
    }
    this.replay.accept(pn);
    this.n.packetsReceived++;
    this.n.bytesReceived += datagram.length;
    if (this.liveness.heard(now)) {
      this.fire('alive', { path: this.path?.id });
      this.liveness.arm();
    }
    if (!this.hs.confirmed) this.hs.confirm();
    const { newest, outOfOrder } = this.acks.onReceived(pn, now);
    // RFC 9000 §9.3: only the newest non-probing packet from a new address starts a migration,
    // and only a PATH_RESPONSE from that address completes it.
    if (newest && !(this.path && samePath(from, this.path)) && !frames.every(isProbing))
      this.startValidation(from);

    if (frames.some(isAckEliciting))
      this.acks.onAckEliciting(
        pn,
        outOfOrder,
        frames.some((f) => f.type === 'ping'),
      );
    for (const f of frames) {
      if (this.st !== 'open') return;
      this.onFrame(f, from);
    }
    this.queueFlush();
  }

  private onFrame(f: Frame, from: SessionPath): void {
    switch (f.type) {
      case 'ack':
        return this.onAck(f.ranges, f.delayUs);
      case 'stream':
        return this.onStream(f.offset, f.data);
      case 'receipt':
        return this.onReceipt(f.count);
      case 'pathChallenge':
        // RFC 9000 §8.2.2: answer on the path the challenge came from.
        return this.sendControl(from, [{ type: 'pathResponse', data: f.data }]);
      case 'pathResponse':
        return this.onPathResponse(f.data, from);
      case 'close':
        return this.finish('remote');
      case 'ping':
      case 'padding':
        return;
    }
  }

  private onAck(ranges: readonly { smallest: number; largest: number }[], delayUs: number): void {
    if (ranges[0]!.largest >= this.nextPn) return void this.dropped.protocol++;
    const out = this.loss.onAck(ranges, delayUs / 1000, this.peerMaxAckDelay(), this.clock.now());
    for (const p of out.acked) {
      this.cc.onAcked(p);
      this.keys!.onAcked(p.pn);
      this.lossMeter.record(false);
      // RFC 9000 §13.2.4: the peer has our ACK up to this number; stop repeating those ranges.
      if (p.ackLargest !== undefined) this.acks.onPeerHas(p.ackLargest);
      for (const f of p.frames) {
        if (f.kind === 'stream') this.sendBuf.onAcked(f.offset, f.length);
        else if (f.kind === 'receipt') this.receipts.onAcked(f.count);
      }
    }
    this.onLost(out.lost);
    this.armLossTimer();
    if (this.receipts.writable()) this.fire('writable', {});
  }

  private onLost(lost: SentPacket[]): void {
    if (lost.length === 0) return;
    for (const p of lost) {
      this.n.packetsLost++;
      this.lossMeter.record(true);
      this.requeue(p);
    }
    const persistent = this.loss.persistentCongestion(lost, this.peerMaxAckDelay());
    this.cc.onLost(lost, this.clock.now(), persistent);
  }

  /** Send again what a packet carried that still matters (frames, not packets: RFC 9000 §13.3). */
  private requeue(p: SentPacket): void {
    for (const f of p.frames) {
      if (f.kind === 'stream') {
        const bytes = this.sendBuf.onLost(f.offset, f.length);
        if (bytes > 0) {
          this.n.retransmits++;
          this.n.retransmittedBytes += bytes;
        }
      } else if (f.kind === 'receipt' && this.receipts.onLost(f.count)) {
        this.n.retransmits++;
      }
    }
  }

  private onStream(offset: number, data: Uint8Array): void {
    const r = this.reasm.push(offset, data);
    if (!r.ok) {
      if (r.reason !== 'tooLarge') return void this.dropped[r.reason]++;
      this.dropped.protocol++;
      this.fail(
        new PunchlineError('MALFORMED', 'peer sent a message above the size limit'),
        CloseCode.PROTOCOL,
      );
      return;
    }
    const first = this.reasm.messagesDelivered - r.messages.length;
    for (let i = 0; i < r.messages.length; i++) {
      if (this.st !== 'open') return;
      this.fire('message', { id: first + i + 1, data: r.messages[i]! });
    }
  }

  /**
   * With `releaseByOwner`: the owner has message `id` safe; the RECEIPT covering it (and every
   * earlier one) goes out at once. Ignored otherwise, and for unknown or repeated ids.
   */
  release(id: number): void {
    if (this.st !== 'open' || !this.reasm.release(id)) return;
    this.receipts.markUrgent();
    this.queueFlush();
  }

  private onReceipt(count: number): void {
    const ids = this.receipts.onReceipt(count, this.remoteParams!.receiveWindow);
    if (!ids) return void this.dropped.protocol++;
    for (const id of ids) this.fire('delivered', { id });
  }

  // ---- paths ----

  private startValidation(from: SessionPath): void {
    if (this.validator.isValidating(from)) return;
    if (!this.path) {
      this.path = from;
      this.fire('path', { id: from.id, via: 'adopted' });
      return;
    }
    this.validator.start(from);
  }

  private onPathResponse(data: Uint8Array, from: SessionPath): void {
    if (!this.validator.onResponse(data, from)) return void this.dropped.pathResponse++;
    this.path = from;
    this.fire('path', { id: from.id, via: 'validated' });
    // Likely a NAT rebinding (the port changed): keep the window and RTT, resend what was in flight.
    this.onPathChanged(false);
  }

  /** Packets in flight went to the old path: send their frames again now, without a congestion signal. */
  private onPathChanged(resetRecovery: boolean): void {
    for (const p of this.loss.takeAll()) {
      this.cc.discard(p.size);
      this.requeue(p);
    }
    if (resetRecovery) {
      this.cc.reset();
      this.rtt.reset();
    }
    this.pingPending = true;
    this.flush();
    this.armLossTimer();
  }

  // ---- sending ----

  private queueFlush(): void {
    if (this.flushTimer || this.st !== 'open') return;
    this.flushTimer = this.clock.setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, 0);
  }

  private flush(): void {
    this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.st !== 'open' || !this.path) return;
    let sentEliciting = false;
    for (let i = 0; i < MAX_PACKETS_PER_FLUSH; i++) {
      const r = this.sendPacket();
      if (r === 'none') break;
      if (r === 'eliciting') sentEliciting = true;
      if (i === MAX_PACKETS_PER_FLUSH - 1) this.queueFlush();
    }
    if (sentEliciting) this.armLossTimer();
  }

  /** Build and send one packet from what is pending; 'none' when nothing justifies one. */
  private sendPacket(): 'none' | 'ack' | 'eliciting' {
    const path = this.path!;
    const frames: Frame[] = [];
    const sent: SentFrame[] = [];
    let size = 0;
    const ack = this.acks.pending ? this.acks.frame(this.clock.now()) : undefined;
    if (ack) size += frameSize(ack);
    const receipt = this.receipts.toSend();
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
    // Stream data: retransmissions first, then new bytes, within the congestion window (probes
    // may exceed it, RFC 9002 §7.5).
    if (this.probeBudget > 0 || this.cc.canSend()) {
      const maxOverhead = 1 + varintLength(this.sendBuf.writeOffset) + 2;
      while (MAX_PLAINTEXT - size - maxOverhead >= MIN_STREAM_ROOM) {
        const room = MAX_PLAINTEXT - size - maxOverhead;
        const span = this.sendBuf.takeLost(room) ?? this.sendBuf.takeNew(room);
        if (!span) break;
        const f: Frame = {
          type: 'stream',
          offset: span.offset,
          data: this.sendBuf.read(span.offset, span.length),
        };
        frames.push(f);
        sent.push({ kind: 'stream', offset: span.offset, length: span.length });
        size += frameSize(f);
      }
    }
    const eliciting = sent.length > 0;
    // A fresh RECEIPT waits for the ACK it rides with (at most max_ack_delay away), so a message
    // does not cost a packet of its own; a RECEIPT lost or probed goes at once.
    const receiptOnly = receipt > 0 && sent.length === 1;
    const justified =
      (eliciting && !receiptOnly) ||
      (receiptOnly && (this.receipts.urgent || this.probeBudget > 0)) ||
      (ack && this.acks.due);
    if (!justified) return 'none';
    if (ack) frames.unshift(ack);
    const datagram = this.seal(frames);
    if (!datagram) return 'none';
    const pn = this.nextPn - 1;
    this.emitDatagram(path, datagram);
    if (ack) this.acks.onSent();
    if (!eliciting) return 'ack';
    const now = this.clock.now();
    this.loss.onSent({
      pn,
      timeSent: now,
      size: datagram.length,
      frames: sent,
      ackLargest: ack && ack.type === 'ack' ? ack.ranges[0]!.largest : undefined,
      // RFC 9002 §7.8: the window counts as used when it is at least half full.
      cwndLimited: (this.cc.bytesInFlight + datagram.length) * 2 >= this.cc.cwnd,
    });
    this.cc.onSent(datagram.length);
    this.liveness.sent(now);
    if (ping) this.pingPending = false;
    if (receipt > 0) this.receipts.onSent(receipt);
    if (this.probeBudget > 0) this.probeBudget--;
    return 'eliciting';
  }

  /** Seal frames into the next packet number. */
  private seal(frames: readonly Frame[]): Uint8Array | undefined {
    if (!this.keys || !this.remoteCid) return undefined;
    if (this.nextPn >= MAX_PACKET_NUMBER) {
      this.fail(new PunchlineError('CLOSED', 'packet numbers exhausted'));
      return undefined;
    }
    const pn = this.nextPn++;
    const { cipher, phase } = this.keys.sealing(pn);
    return sealPacket({ dcid: this.remoteCid, keyPhase: phase, pn }, encodeFrames(frames), cipher);
  }

  /** A packet outside loss recovery (path probes, CLOSE): sent once, on the given path. */
  private sendControl(path: SessionPath, frames: readonly Frame[]): void {
    const datagram = this.seal(frames);
    if (datagram) this.emitDatagram(path, datagram);
  }

  private sendClose(code: number): void {
    if (this.st === 'open' && this.path) this.sendControl(this.path, [{ type: 'close', code }]);
  }

  private emitDatagram(path: SessionPath, datagram: Uint8Array): void {
    this.n.packetsSent++;
    this.n.bytesSent += datagram.length;
    this.sendRaw(path, datagram);
  }

  private sendRaw(path: SessionPath, datagram: Uint8Array): void {
    if (datagram.length > this.n.largestDatagram) this.n.largestDatagram = datagram.length;
    try {
      path.send(datagram);
    } catch (err) {
      this.log.warn('session path send failed', { path: describePath(path.id), error: String(err) });
    }
  }

  // ---- timers ----

  private armLossTimer(): void {
    this.clock.clearTimeout(this.lossTimer);
    this.lossTimer = undefined;
    if (this.st !== 'open') return;
    const t = this.loss.timer(this.peerMaxAckDelay());
    if (!t) return;
    this.lossTimer = this.clock.setTimeout(() => this.onLossTimer(), Math.max(0, t.at - this.clock.now()));
  }

  /** RFC 9002 A.9 OnLossDetectionTimeout. */
  private onLossTimer(): void {
    this.lossTimer = undefined;
    if (this.st !== 'open') return;
    const t = this.loss.timer(this.peerMaxAckDelay());
    if (!t) return;
    if (t.kind === 'loss') {
      this.onLost(this.loss.detectLost(this.clock.now()));
    } else {
      this.loss.onPtoTimeout();
      this.n.probeTimeouts++;
      this.probeBudget = PROBES_PER_PTO;
      // Probe with new data if there is any, else with what the oldest packet carried.
      if (!this.sendBuf.hasLost() && !this.sendBuf.hasNew()) {
        const oldest = this.loss.oldest();
        if (oldest) this.requeue(oldest);
        if (!this.sendBuf.hasLost() && this.receipts.allSent) this.pingPending = true;
      }
    }
    this.flush();
    this.armLossTimer();
  }

  // ---- endings ----

  private fail(error: PunchlineError, code: number = CloseCode.INTERNAL): void {
    if (this.st === 'closed') return;
    this.log.warn('session failed', { code: error.code, error: error.message });
    this.sendClose(code);
    this.finish('error', error);
  }

  private finish(reason: CloseReason, error?: PunchlineError): void {
    if (this.st === 'closed') return;
    this.st = 'closed';
    for (const t of [this.lossTimer, this.flushTimer]) this.clock.clearTimeout(t);
    this.lossTimer = this.flushTimer = undefined;
    this.hs.close();
    this.acks.close();
    this.liveness.close();
    this.validator.cancel();
    this.fire('closed', error ? { reason, error } : { reason });
  }

  private fire<K extends keyof SessionEvents & string>(name: K, e: SessionEvents[K]): void {
    try {
      this.emit(name, e);
    } catch (err) {
      this.log.error('session event handler threw', { event: name, error: String(err) });
    }
  }

  private peerMaxAckDelay(): number {
    return this.remoteParams?.maxAckDelayMs ?? this.t.maxAckDelayMs;
  }

  private freshCid(): Uint8Array {
    for (let i = 0; i < 8; i++) {
      const cid = this.random(CID_BYTES);
      if (cid.length === CID_BYTES && cid.some((b) => b !== 0) && !equalBytes(cid, this.initialCid))
        return new Uint8Array(cid);
    }
    throw new PunchlineError('INTERNAL', 'random source gave no usable connection id');
  }
}
