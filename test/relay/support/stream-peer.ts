import { randomBytes } from 'node:crypto';
import { generateIdentity } from '../../../common/identity/identity.js';
import type { Identity } from '../../../common/identity/identity.js';
import type { MessageStream } from '../../../common/net/stream.js';
import { toHex } from '../../../common/wire/bytes.js';
import { Limits, MsgType } from '../../../common/wire/constants.js';
import { decode, encode, encodeRelayFrame } from '../../../common/wire/messages.js';
import type { AuthChannel } from '../../../common/wire/server-auth.js';
import { rawRegister, sealed } from '../../support/raw-register.js';
import type { Introduce, Message, Registered } from '../../../common/wire/messages.js';

/** How a test waits: the simulator drives virtual time (sim.runUntil); real sockets wait on events. */
export type Driver = (done: () => boolean, maxMs: number) => Promise<boolean>;

/**
 * A minimal peer speaking the rendezvous protocol over one MessageStream: the reference for the
 * stream side of the protocol (HELLO -> COOKIE -> REGISTER -> REGISTERED, CONNECT -> INTRODUCE,
 * RELAY / RELAYED). Works on `ws` and on the simulated network alike.
 */
export class StreamPeer {
  readonly inbox: Message[] = [];
  /** This peer's side of its registration's authenticated channel, once registered. */
  auth: AuthChannel | undefined;
  relayedIn = 0;
  relayedBytesIn = 0;
  /** Called for every RELAYED frame (the payload is a view into the received message). */
  onRelayed: ((from: Uint8Array, payload: Uint8Array) => void) | undefined;
  closedReason: string | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    readonly stream: MessageStream,
    readonly identity: Identity = generateIdentity(),
    private readonly driver?: Driver,
    /** Keep non-RELAYED messages in `inbox` (tests) or only count them (benchmarks). */
    private readonly keepInbox = true,
  ) {
    stream.onMessage((data) => this.onData(data));
    stream.onClose((reason) => {
      this.closedReason = reason;
      this.wake();
    });
  }

  get id(): Uint8Array {
    return this.identity.id;
  }

  get idHex(): string {
    return toHex(this.identity.id);
  }

  private onData(data: Uint8Array): void {
    // The hot path: RELAYED is recognised by its type byte without a full decode.
    if (data.length >= Limits.RELAY_HEADER_BYTES && data[1] === MsgType.RELAYED) {
      this.relayedIn++;
      this.relayedBytesIn += data.length - Limits.RELAY_HEADER_BYTES;
      this.onRelayed?.(data.subarray(2, 18), data.subarray(Limits.RELAY_HEADER_BYTES));
      if (this.waiters.length > 0) this.wake();
      return;
    }
    const msg = decode(data);
    if (msg.type === MsgType.INTRODUCE && !msg.initiator)
      this.send(encode({ type: MsgType.INTRODUCE_ACK, txid: msg.txid, id: this.id }));
    if (this.keepInbox || msg.type !== MsgType.PRESENCE) this.inbox.push(msg);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait until `done()`; false on timeout. */
  waitFor(done: () => boolean, maxMs: number): Promise<boolean> {
    if (this.driver) return this.driver(done, maxMs);
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(done()), maxMs);
      const check = (): void => {
        if (done() || this.closedReason !== undefined) {
          clearTimeout(t);
          resolve(done());
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  send(bytes: Uint8Array): boolean {
    return this.stream.send(bytes);
  }

  private async reply<T extends Message>(txid: Uint8Array, ms: number, what: string): Promise<T> {
    const hex = toHex(txid);
    const find = (): Message | undefined =>
      this.inbox.find((m) => 'txid' in m && toHex(m.txid) === hex && m.type !== MsgType.INTRODUCE_ACK);
    if (!(await this.waitFor(() => find() !== undefined, ms)))
      throw new Error(`no answer to ${what} (closed: ${String(this.closedReason)})`);
    const m = find()!;
    this.inbox.splice(this.inbox.indexOf(m), 1);
    return m as T;
  }

  /** HELLO, COOKIE, signed REGISTER; resolves with REGISTERED (or throws with the ERROR text). */
  async register(room: string, name: string, ms = 5000): Promise<Registered> {
    const hello = new Uint8Array(randomBytes(Limits.TXID_BYTES));
    this.send(encode({ type: MsgType.HELLO, txid: hello }));
    const cookie = await this.reply<Message>(hello, ms, 'HELLO');
    if (cookie.type !== MsgType.COOKIE) throw new Error(`expected COOKIE, got 0x${cookie.type.toString(16)}`);
    const txid = new Uint8Array(randomBytes(Limits.TXID_BYTES));
    const reg = rawRegister(this.identity, cookie, txid, { room, name, transport: 'ws' });
    this.auth = reg.auth;
    this.send(reg.bytes);
    const r = await this.reply<Message>(txid, ms, 'REGISTER');
    if (r.type === MsgType.ERROR) throw new Error(`register refused: ${r.message}`);
    if (r.type !== MsgType.REGISTERED) throw new Error(`expected REGISTERED, got 0x${r.type.toString(16)}`);
    return r;
  }

  /** CONNECT to `target`: resolves with our INTRODUCE (the server now lets the two relay). */
  async connect(target: Uint8Array, ms = 5000): Promise<Introduce> {
    const txid = new Uint8Array(randomBytes(Limits.TXID_BYTES));
    if (!this.auth) throw new Error('connect before register');
    this.send(sealed(this.auth, { type: MsgType.CONNECT, txid, id: this.id, target }));
    const r = await this.reply<Message>(txid, ms, 'CONNECT');
    if (r.type !== MsgType.INTRODUCE) throw new Error(`connect refused: ${JSON.stringify(r)}`);
    return r;
  }

  relay(to: Uint8Array, payload: Uint8Array): boolean {
    return this.send(encodeRelayFrame(MsgType.RELAY, to, payload));
  }

  close(): void {
    this.stream.close('bye');
  }
}
