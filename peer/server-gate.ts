import type { Endpoint } from '../common/net/types.js';
import { sameEndpoint } from '../common/net/types.js';
import { equalBytes } from '../common/wire/bytes.js';
import { MsgType } from '../common/wire/constants.js';
import { STUN_TXID_SIZE, decodeStun, encodeBindingRequest, isStunMessage } from '../common/wire/stun.js';
import type { StunMessage } from '../common/wire/stun.js';
import { decodeOrDrop } from '../common/wire/decode-or-drop.js';

/** The server's part of the protocol: only the server's endpoint may send these. */
const SERVER_TYPES = new Set<number>([
  MsgType.COOKIE,
  MsgType.REGISTERED,
  MsgType.KEEPALIVE_ACK,
  MsgType.PRESENCE,
  MsgType.PRESENCE_DELTA,
  MsgType.INTRODUCE,
  MsgType.ERROR,
  MsgType.GOING_AWAY,
]);

/**
 * What may come from the rendezvous server's endpoint, checked before anything is handed to the
 * rendezvous client: the server's message types from the server's address only, and STUN answers
 * from the server's address (its main port, or the alternate one, main + 1): to the one Binding
 * request sent to it at start (stunRequest()), or to the port behaviour measurement's
 * (peer/nat-probe.ts, which takes only answers to requests it sent).
 */
export class ServerGate {
  /** The STUN Binding request sent to the server at start, and whether it was answered. */
  private stunProbe: { txId: Uint8Array; answered: boolean } | undefined;
  /** Who takes the other STUN answers from the server: true when it sent that request. */
  private stunTaker: ((m: StunMessage, from: Endpoint) => boolean) | undefined;

  constructor(
    private server: Endpoint,
    private readonly randomBytes: (n: number) => Uint8Array,
  ) {}

  /** The client moved to another rendezvous server (peer/server-failover.ts): only it may speak now. */
  setServer(server: Endpoint): void {
    this.server = server;
    this.stunProbe = undefined;
  }

  /** Is this a message type only the server sends? */
  isServerType(type: number): boolean {
    return SERVER_TYPES.has(type);
  }

  /** Did this datagram come from the server's endpoint? */
  fromServer(from: Endpoint): boolean {
    return sameEndpoint(from, this.server);
  }

  /**
   * A STUN Binding request to send beside the first HELLO: if the port answers STUN but never
   * punchline, it is a STUN server or the rendezvous's STUN-only alternate port, and the
   * unreachable error can say so (20 bytes, once per start).
   */
  stunRequest(): Uint8Array {
    this.stunProbe = { txId: this.randomBytes(STUN_TXID_SIZE), answered: false };
    return encodeBindingRequest(this.stunProbe.txId);
  }

  /** Has the server's endpoint answered our STUN request? */
  get stunAnswered(): boolean {
    return this.stunProbe?.answered === true;
  }

  /** Did this datagram come from the server's address, from its main or its alternate port? */
  fromServerHost(from: Endpoint): boolean {
    return (
      from.address === this.server.address &&
      (from.port === this.server.port || from.port === this.server.port + 1)
    );
  }

  /** Hand the STUN answers from the server that are not the start request's to `taker`. */
  takeStunAnswers(taker: (m: StunMessage, from: Endpoint) => boolean): void {
    this.stunTaker = taker;
  }

  /** A STUN success from the server answering one of our requests: noted, and true; anything else: false. */
  noteStunAnswer(data: Uint8Array, from: Endpoint): boolean {
    if (!this.fromServerHost(from) || !isStunMessage(data)) return false;
    const m = decodeOrDrop(decodeStun, data, () => {});
    if (!m || m.class !== 'success') return false;
    const probe = this.stunProbe;
    if (probe && !probe.answered && this.fromServer(from) && equalBytes(m.txId, probe.txId)) {
      probe.answered = true;
      return true;
    }
    return this.stunTaker?.(m, from) ?? false;
  }
}
