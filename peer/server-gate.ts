import type { Endpoint } from '../common/net/types.js';
import { sameEndpoint } from '../common/net/types.js';
import { equalBytes } from '../common/wire/bytes.js';
import { MsgType } from '../common/wire/constants.js';
import { STUN_TXID_SIZE, decodeStun, encodeBindingRequest, isStunMessage } from '../common/wire/stun.js';
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
]);

/**
 * What may come from the rendezvous server's endpoint, checked before anything is handed to the
 * rendezvous client: the server's message types from the server's address only, and the answer
 * to the one STUN Binding request sent to it at start (stunRequest()).
 */
export class ServerGate {
  /** The STUN Binding request sent to the server at start, and whether it was answered. */
  private stunProbe: { txId: Uint8Array; answered: boolean } | undefined;

  constructor(
    private readonly server: Endpoint,
    private readonly randomBytes: (n: number) => Uint8Array,
  ) {}

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

  /** The server's answer to our STUN request: noted, and true; anything else: false. */
  noteStunAnswer(data: Uint8Array, from: Endpoint): boolean {
    const probe = this.stunProbe;
    if (!probe || probe.answered || !this.fromServer(from) || !isStunMessage(data)) return false;
    const m = decodeOrDrop(decodeStun, data, () => {});
    if (!m || m.class !== 'success' || !equalBytes(m.txId, probe.txId)) return false;
    probe.answered = true;
    return true;
  }
}
