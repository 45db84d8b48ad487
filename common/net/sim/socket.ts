import { closed, PunchlineError } from '../../errors.js';
import type { DatagramHandler, DatagramSocket, Endpoint } from '../types.js';

/** What a SimSocket needs from the host it lives on (host.ts). */
export interface SocketHost {
  /** Reserve `port` (0 = ephemeral) on `address`; throws an IO PunchlineError (EADDRINUSE, EADDRNOTAVAIL). */
  bindSocket(sock: SimSocket, port: number, address: string): Endpoint;
  unbindSocket(sock: SimSocket): void;
  sendFrom(sock: SimSocket, data: Uint8Array, to: Endpoint): void;
}

/**
 * A UDP socket on a simulated host. Like node:dgram: bind(0) takes an ephemeral port, send()
 * on an unbound socket binds it implicitly, close() releases the port. Sends are never delivered
 * synchronously: every delivery is a timer on the simulator's virtual clock.
 */
export class SimSocket implements DatagramSocket {
  /** Sends refused locally (too big, bad destination, closed); the network-wide reasons are in Simulator.stats. */
  sendErrors = 0;
  private local: Endpoint | undefined;
  private isClosed = false;
  private handler: DatagramHandler = () => {};

  constructor(private readonly host: SocketHost) {}

  bind(port = 0, address = '0.0.0.0'): Promise<Endpoint> {
    if (this.isClosed) return Promise.reject(closed('socket is closed'));
    if (this.local) return Promise.reject(new PunchlineError('IO', 'socket is already bound'));
    try {
      this.local = this.host.bindSocket(this, port, address);
      return Promise.resolve({ ...this.local });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  send(data: Uint8Array, to: Endpoint): void {
    if (!this.local && !this.isClosed) this.local = this.host.bindSocket(this, 0, '0.0.0.0');
    this.host.sendFrom(this, data, to);
  }

  onMessage(handler: DatagramHandler): void {
    this.handler = handler;
  }

  localEndpoint(): Endpoint {
    if (!this.local)
      throw new PunchlineError('IO', this.isClosed ? 'socket is closed' : 'socket is not bound');
    return { ...this.local };
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.local) this.host.unbindSocket(this);
    this.local = undefined;
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** @internal The bound endpoint, if any (no throw). */
  get bound(): Endpoint | undefined {
    return this.local;
  }

  /** @internal Called by the host with a private copy of the payload. */
  dispatch(data: Uint8Array, from: Endpoint): void {
    if (!this.isClosed) this.handler(data, from);
  }
}
