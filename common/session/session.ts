import type { Clock } from '../clock.js';
import { DH_LEN, type RandomBytes, defaultRandomBytes } from '../crypto/x25519.js';
import { Emitter } from '../emitter.js';
import { PunchlineError, badArgument, closed } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { type PathId, describePath } from '../path/path-id.js';
import { toHex } from '../wire/bytes.js';
import { MsgType } from '../wire/constants.js';
import { AckTracker } from './ack-tracker.js';
import { CloseCode, type Frame, isAckEliciting, isProbing } from './frames.js';
import type { HandshakeResult } from './handshake-driver.js';
import type { TransportParams } from './handshake-payload.js';
import { KeySchedule } from './key-schedule.js';
import { LivenessMonitor, isHeartbeat } from './liveness-monitor.js';
import { LossRecovery } from './loss-recovery.js';
import { type SessionTuning, pickTuning, resolveTuning } from './options.js';
import { MAX_DATAGRAM, isSessionPacket } from './packet.js';
import { openDataPacket } from './packet-opener.js';
import { PacketSender } from './packet-sender.js';
import { PathValidator } from './path-validator.js';
import { Receipts } from './receipts.js';
import { Reassembler } from './reassembly.js';
import { ReplayWindow } from './replay-window.js';
import { SendBuffer } from './send-buffer.js';
import { SessionHandshake, freshConnectionId, initialConnectionId } from './session-handshake.js';
import { type SessionPath, samePath } from './session-path.js';
import { type DropCounts, type SessionStats, newDropCounts } from './stats.js';
import type {
  CloseReason,
  SessionComponents,
  SessionEvents,
  SessionOptions,
  SessionState,
} from './session-api.js';

export type { CloseReason, SessionComponents, SessionEvents, SessionOptions, SessionPath, SessionState };

/**
 * A secure, reliable, path-agnostic session between two peers (docs/session.md).
 *
 * Noise XX proves both static keys; then every packet is sealed with ChaCha20-Poly1305 under a
 * 48-bit packet number. Messages up to 1 MiB travel on one ordered stream, acknowledged with
 * ACK ranges, recovered after RFC 9002 (packet and time thresholds, probe timeout), sent at the
 * pace of a BBR model of the path (bbr.ts), and confirmed to the sender with RECEIPTs. The session sends on the path it is
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
  private readonly replay: ReplayWindow;
  private readonly acks: AckTracker;
  private readonly recovery: LossRecovery;
  private readonly sender: PacketSender;

  // messages
  private readonly sendBuf: SendBuffer;
  private readonly reasm: Reassembler;
  private readonly receipts: Receipts;

  // paths and liveness
  private readonly validator: PathValidator;
  private readonly liveness: LivenessMonitor;

  private readonly dropped: DropCounts = newDropCounts();
  private readonly received = { packetsReceived: 0, bytesReceived: 0 };

  constructor(options: SessionOptions, components: SessionComponents) {
    super();
    const { staticKey, expectedRemoteStatic, prologue } = options;
    this.t = resolveTuning(pickTuning(options));
    if (staticKey.publicKey.length !== DH_LEN || staticKey.privateKey.length !== DH_LEN)
      throw badArgument('staticKey must be an X25519 key pair');
    if (expectedRemoteStatic.length !== DH_LEN) throw badArgument('expectedRemoteStatic must be 32 bytes');
    this.clock = components.clock;
    this.random = components.randomBytes ?? defaultRandomBytes;
    this.log = components.logger ?? silentLogger;
    this.initialCid = initialConnectionId(prologue ?? new Uint8Array(0));
    this.localCid = freshConnectionId(this.random, this.initialCid);
    const hsConfig = {
      staticKey,
      expectedRemoteStatic: new Uint8Array(expectedRemoteStatic),
      prologue: new Uint8Array(prologue ?? new Uint8Array(0)),
      localCid: this.localCid,
      params: { receiveWindow: this.t.receiveWindowBytes, maxAckDelayMs: this.t.maxAckDelayMs },
      randomBytes: this.random,
    };
    this.hs = new SessionHandshake(hsConfig, this.initialCid, options, this.t, {
      clock: this.clock,
      log: this.log,
      dropped: this.dropped,
      state: () => this.st,
      path: () => this.path,
      sendRaw: (path, datagram) => this.sender.sendRaw(path, datagram),
      opened: (result, from) => this.onHandshakeDone(result, from),
      answerFinish: () => {
        this.sender.pingPending = true;
        this.sender.queueFlush();
      },
      fail: (error) => this.fail(error),
    });
    this.replay = new ReplayWindow(this.t.replayWindowPackets);
    this.sendBuf = new SendBuffer(this.t.sendBufferBytes);
    this.reasm = new Reassembler(
      this.t.receiveWindowBytes,
      this.t.maxMessageBytes,
      this.t.maxOutOfOrderSegments,
      options.releaseByOwner === true,
    );
    this.acks = new AckTracker(this.clock, this.t, () => this.sender.flush());
    this.receipts = new Receipts(this.sendBuf, () => this.reasm.messagesReleased);
    const active = (): boolean => this.st === 'open';
    this.recovery = new LossRecovery(this.clock, this.t, this.sendBuf, this.receipts, {
      active,
      peerMaxAckDelay: () => this.peerMaxAckDelay(),
      ping: () => void (this.sender.pingPending = true),
      flush: () => this.sender.flush(),
    });
    this.validator = new PathValidator(this.clock, this.random, this.t.pathChallengeTries, {
      challenged: (path) => this.fire('pathChallenge', { id: path.id }),
      sendChallenge: (path, data) => this.sender.sendControl(path, [{ type: 'pathChallenge', data }]),
      // Every two PTOs; three tries span six, more than RFC 9000 §8.2.4's three before giving up.
      retryDelayMs: () => Math.max(2 * this.recovery.rtt.pto(this.peerMaxAckDelay()), 50),
    });
    this.liveness = new LivenessMonitor(this.clock, this.t, {
      dead: (silentMs) => this.fire('dead', { reason: 'timeout', silentMs, path: this.path?.id }),
      ping: () => this.heartbeat(),
      active,
      defers: () => !this.hs.isInitiator, // the initiator heartbeats for both (liveness-monitor.ts)
      timers: components.heartbeats,
    });
    const { acks, receipts, sendBuf, recovery, liveness } = this;
    this.sender = new PacketSender(
      this.clock,
      this.log,
      { acks, receipts, sendBuf, recovery, liveness },
      {
        active,
        path: () => this.path,
        keys: () => this.keys,
        remoteCid: () => this.remoteCid,
        fail: (error) => this.fail(error),
      },
    );
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
   * Send on this path from now on. Any time: before start, during the handshake (retransmitted
   * on it at once, timed from `rttSampleMs` if the owner measured one there), or after 'dead' or
   * a change of route (window and RTT estimate afresh, RFC 9000 §9.4; everything in flight resent).
   */
  setPath(path: SessionPath, rttSampleMs?: number): void {
    if (this.st === 'closed') return;
    const changed = !this.path || !samePath(this.path, path) || this.liveness.dead;
    this.path = path;
    if (this.validator.isValidating(path)) this.validator.cancel();
    if (this.st === 'handshaking') return this.hs.onPathSet(path, rttSampleMs);
    if (this.st !== 'open' || !changed) return;
    if (!this.hs.confirmed) this.hs.resend(); // message 3 again, on the new path
    this.fire('path', { id: path.id, via: 'set' });
    this.onPathChanged(true);
  }

  /** Race the handshake on this path too until one is set; `now`: it just proved reachable (nudge). */
  offer(path: SessionPath, now = false, rttMs?: number): void {
    if (this.st !== 'closed') void (now ? this.hs.nudge(path) : this.hs.offer(path, rttMs));
  }

  /** Begin: the initiator sends message 1 (on the path, once there is one). Idempotent. */
  start(): void {
    if (this.st !== 'idle') return;
    this.st = 'handshaking';
    this.hs.start();
  }

  /**
   * Queue a message (copied) of at most maxMessageBytes: its id (ids count in call order), or
   * false when the send buffer is full (wait for 'writable'); it waits here before 'open' and
   * while 'dead'. A `bulk` message yields: a chat line waits behind at most one (send-buffer.ts).
   */
  send(data: Uint8Array, opts: { bulk?: boolean } = {}): number | false {
    if (this.st === 'closed') throw closed('session is closed');
    if (data.length > this.t.maxMessageBytes)
      throw badArgument(`message of ${data.length} bytes exceeds ${this.t.maxMessageBytes}`);
    const id = this.receipts.write(data, opts.bulk === true);
    // Nothing in flight: this message goes now, not a turn later (a chat line after a pause);
    // while packets are in flight, messages sent in one turn share packets (deferred flush).
    if (id !== false) this.sender.sendSoon(this.recovery.loss.inFlight === 0);
    return id;
  }

  /** Feed one datagram (routed by connectionIdOf) that came on `from`; never throws (see stats().dropped). */
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
      ...this.recovery.stats(),
      ...this.sender.n,
      ...this.received,
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
    if (!this.hs.isInitiator) this.sender.pingPending = true;
    this.liveness.arm();
    this.fire('open', { remoteStatic: new Uint8Array(r.remoteStatic), path: this.path.id });
    this.sender.queueFlush();
  }

  // ---- data packets ----

  private onDataPacket(datagram: Uint8Array, from: SessionPath): void {
    // Before 'open' there are no keys: counted as early, like a packet that overtook message 3.
    const keys = this.st === 'open' ? this.keys : undefined;
    const now = this.clock.now();
    const { localCid, replay, reasm } = this;
    const keepPreviousKeyMs = 3 * this.recovery.rtt.pto(this.peerMaxAckDelay());
    const opened = openDataPacket(datagram, { localCid, keys, replay, reasm, keepPreviousKeyMs, now });
    if ('drop' in opened) return void this.dropped[opened.drop]++;
    const { pn, frames } = opened;
    this.replay.accept(pn);
    this.received.packetsReceived++;
    this.received.bytesReceived += datagram.length;
    const eliciting = frames.some(isAckEliciting);
    if (this.liveness.heard(now, eliciting)) {
      this.fire('alive', { path: this.path?.id });
      this.liveness.arm();
    }
    if (!this.hs.confirmed) this.hs.confirm();
    const { newest, outOfOrder } = this.acks.onReceived(pn, now);
    // RFC 9000 §9.3: only the newest non-probing packet from a new address starts a migration,
    // and only a PATH_RESPONSE from that address completes it.
    if (newest && !(this.path && samePath(from, this.path)) && !frames.every(isProbing))
      this.startValidation(from);
    const ping = frames.some((f) => f.type === 'ping');
    if (eliciting) this.acks.onAckEliciting(pn, outOfOrder, ping);
    for (const f of frames) {
      if (this.st !== 'open') return;
      this.onFrame(f, from);
    }
    // A heartbeat or its ACK is answered now, not on a timer (a wakeup each); data stays batched.
    const idle = frames.every(isHeartbeat) && !this.sendBuf.hasNew() && !this.sendBuf.hasLost();
    if (idle) this.sender.flush();
    else this.sender.queueFlush();
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
        return this.sender.sendControl(from, [{ type: 'pathResponse', data: f.data }]);
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
    if (ranges[0]!.largest >= this.sender.nextPn) return void this.dropped.protocol++;
    const out = this.recovery.onAck(ranges, delayUs);
    for (const p of out.acked) {
      this.keys!.onAcked(p.pn);
      // RFC 9000 §13.2.4: the peer has our ACK up to this number; stop repeating those ranges.
      if (p.ackLargest !== undefined) this.acks.onPeerHas(p.ackLargest);
      for (const f of p.frames) {
        if (f.kind === 'stream') this.sendBuf.onAcked(f.offset, f.length);
        else if (f.kind === 'receipt') this.receipts.onAcked(f.count);
      }
    }
    this.recovery.onLost(out.lost);
    this.recovery.arm();
    if (this.receipts.writable()) this.fire('writable', {});
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
    this.sender.queueFlush();
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
    this.recovery.onPathChanged(resetRecovery);
    this.sender.pingPending = true;
    this.sender.flush();
    this.recovery.arm();
  }

  private sendClose(code: number): void {
    if (this.st === 'open' && this.path) this.sender.sendControl(this.path, [{ type: 'close', code }]);
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
    this.hs.close();
    this.sender.close();
    this.recovery.close();
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

  /** Send a PING now; false when it could not go (no path). */
  private heartbeat(): boolean {
    this.sender.pingPending = true;
    this.sender.flush();
    return !this.sender.pingPending;
  }

  private peerMaxAckDelay(): number {
    return this.remoteParams?.maxAckDelayMs ?? this.t.maxAckDelayMs;
  }
}
