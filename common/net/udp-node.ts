import dgram from 'node:dgram';
import os from 'node:os';
import type { DatagramHandler, DatagramSocket, Endpoint, Network } from './types.js';

/** Requested UDP socket buffer size, each way. */
export const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/** node:dgram behind the DatagramSocket seam. IPv4 (the NAT-traversal world punchline lives in). */
export class NodeUdpSocket implements DatagramSocket {
  // 4 MiB buffers (the kernel caps them at net.core.rmem_max / wmem_max): a bulk transfer's
  // bursts overflowed the default receive buffer, and every overflow is a loss to the sender.
  private readonly sock = dgram.createSocket({
    type: 'udp4',
    reuseAddr: false,
    recvBufferSize: SOCKET_BUFFER_BYTES,
    sendBufferSize: SOCKET_BUFFER_BYTES,
  });
  private handler: DatagramHandler = () => {};
  private closed = false;
  private inFlight = 0;
  private drained: (() => void)[] = [];
  /** Send errors (EHOSTUNREACH, EMSGSIZE, ...) are counted here rather than thrown. */
  sendErrors = 0;

  constructor() {
    this.sock.on('message', (msg, rinfo) => {
      this.handler(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), {
        address: rinfo.address,
        port: rinfo.port,
      });
    });
    // ICMP errors surface as 'error' on some platforms; a UDP socket survives them.
    this.sock.on('error', () => {
      this.sendErrors++;
    });
  }
  bind(port = 0, address?: string): Promise<Endpoint> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.sock.once('error', onError);
      this.sock.bind(port, address, () => {
        this.sock.off('error', onError);
        resolve(this.localEndpoint());
      });
    });
  }
  send(data: Uint8Array, to: Endpoint): void {
    if (this.closed) return;
    this.inFlight++;
    this.sock.send(data, to.port, to.address, (err) => {
      if (err) this.sendErrors++;
      if (--this.inFlight === 0) for (const f of this.drained.splice(0)) f();
    });
  }
  flush(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 250);
      this.drained.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  /** The kernel's buffer sizes once bound (Linux reports twice what it grants). */
  bufferSizes(): { receive: number; send: number } {
    return { receive: this.sock.getRecvBufferSize(), send: this.sock.getSendBufferSize() };
  }

  onMessage(handler: DatagramHandler): void {
    this.handler = handler;
  }
  localEndpoint(): Endpoint {
    const a = this.sock.address();
    return { address: a.address, port: a.port };
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
  }
}

export const nodeNetwork: Network = {
  createUdpSocket: () => new NodeUdpSocket(),
  localAddresses(): string[] {
    const out: string[] = [];
    for (const list of Object.values(os.networkInterfaces()))
      for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) out.push(i.address);
    return out.length > 0 ? out : ['127.0.0.1'];
  },
};
