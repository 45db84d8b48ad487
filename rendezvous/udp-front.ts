import type { Logger } from '../common/log.js';
import type { DatagramSocket, Endpoint, Network } from '../common/net/types.js';
import { decode, isPunchline } from '../common/wire/messages.js';
import type { Message } from '../common/wire/messages.js';
import { answerStunRequest, isStunMessage } from '../common/wire/stun.js';
import type { ReplyContext } from './reply.js';
import type { RendezvousStats } from './stats.js';
import { decodeOrDrop } from '../common/wire/decode-or-drop.js';

/** What the UDP front needs of the server: its dispatch and the counters it keeps. */
export interface UdpPort {
  handle(msg: Message, ctx: ReplyContext, raw: Uint8Array): void;
  readonly stats: Pick<RendezvousStats, 'datagramsIn' | 'datagramsOut' | 'stunRequests' | 'dropped'>;
}

/**
 * The rendezvous server's UDP side: the main socket (STUN and punchline messages) and the
 * STUN-only socket on the alternate port (RFC 5780 §4: NAT behaviour discovery needs a second
 * transport address; this server has one IP, so the second is a port). Everything it cannot
 * parse is counted and dropped (docs/contributing.md §2).
 */
export class UdpFront {
  private socket: DatagramSocket | undefined;
  /** The STUN-only socket on the alternate port, when open. */
  private altSocket: DatagramSocket | undefined;

  constructor(
    private readonly network: Network,
    private readonly port: UdpPort,
    private readonly log: Logger,
  ) {}

  /** The main socket's endpoint, once open. */
  get endpoint(): Endpoint | undefined {
    return this.socket?.localEndpoint();
  }

  /** The alternate port's endpoint, if it is open. */
  get altEndpoint(): Endpoint | undefined {
    return this.altSocket?.localEndpoint();
  }

  /**
   * Bind the main socket, then the alternate one: `altPort` undefined is the main port + 1, best
   * effort; 0 is off; an explicit port must bind. Nothing stays open when it throws.
   */
  async open(host: string, port: number, altPort: number | undefined): Promise<Endpoint> {
    const sock = this.network.createUdpSocket();
    sock.onMessage((data, from) => this.onDatagram(data, from));
    const bound = await sock.bind(port, host);
    this.socket = sock;
    try {
      await this.openAlt(host, altPort ?? bound.port + 1, altPort !== undefined);
    } catch (e) {
      this.close();
      throw e;
    }
    return bound;
  }

  private async openAlt(host: string, port: number, explicit: boolean): Promise<void> {
    if (port === 0 || port > 65535) return;
    const alt = this.network.createUdpSocket();
    alt.onMessage((data, from) => this.onAltDatagram(data, from));
    try {
      await alt.bind(port, host);
    } catch (e) {
      alt.close();
      if (explicit) throw e;
      this.log.warn('stun alt port unavailable: nat-check cannot test mapping and filtering here', {
        port,
        error: (e as Error).message,
      });
      return;
    }
    this.altSocket = alt;
  }

  /** Close both sockets; idempotent. */
  close(): void {
    this.socket?.close();
    this.socket = undefined;
    this.altSocket?.close();
    this.altSocket = undefined;
  }

  /** Answer a STUN request on either socket; a "change port" answer leaves from the other one. */
  private onStun(data: Uint8Array, from: Endpoint, onAlt: boolean): void {
    const { stats } = this.port;
    stats.stunRequests++;
    const answer = answerStunRequest(data, from, { alternatePort: this.altSocket !== undefined });
    if (!answer) {
      stats.dropped.malformed++;
      return;
    }
    const fromAlt = onAlt !== (answer.via === 'other');
    stats.datagramsOut++;
    (fromAlt ? this.altSocket : this.socket)?.send(answer.bytes, from);
  }

  /** The alternate port's receive path: STUN Binding only; anything else is counted and dropped. */
  private onAltDatagram(data: Uint8Array, from: Endpoint): void {
    this.port.stats.datagramsIn++;
    if (isStunMessage(data)) return this.onStun(data, from, true);
    this.port.stats.dropped.malformed++;
  }

  /** The main receive path: STUN or punchline; anything else is counted and dropped. */
  private onDatagram(data: Uint8Array, from: Endpoint): void {
    const { stats } = this.port;
    stats.datagramsIn++;
    if (isStunMessage(data)) return this.onStun(data, from, false);
    if (!isPunchline(data)) {
      stats.dropped.malformed++;
      return;
    }
    const msg = decodeOrDrop(decode, data, () => stats.dropped.malformed++);
    if (!msg) return;
    const reply = (bytes: Uint8Array): void => this.send(bytes, from);
    try {
      this.port.handle(msg, { from, transport: 'udp', reply }, data);
    } catch (e) {
      // A bug must not take the server down with it; log it loudly and keep serving.
      this.log.error('handler failed', { type: msg.type, error: String(e) });
    }
  }

  private send(bytes: Uint8Array, to: Endpoint): void {
    this.port.stats.datagramsOut++;
    this.socket?.send(bytes, to);
  }
}
