import { parseEndpoint, type DatagramSocket, type Endpoint } from '../../common/net/types.js';
import { endpointKey } from '../../common/net/types.js';
import type { SimHost } from '../../common/net/sim/host.js';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export interface Received {
  readonly text: string;
  readonly from: Endpoint;
}

/** A bound socket that records what it receives. */
export interface Probe {
  readonly sock: DatagramSocket;
  readonly local: Endpoint;
  readonly got: Received[];
  send(text: string, to: Endpoint): void;
}

export async function probe(host: SimHost, port = 0): Promise<Probe> {
  const sock = host.network.createUdpSocket();
  const got: Received[] = [];
  sock.onMessage((data, from) => got.push({ text: dec(data), from }));
  const local = await sock.bind(port);
  return { sock, local, got, send: (text, to) => sock.send(enc(text), to) };
}

/**
 * A STUN-like reflector on `host:port`: answers every datagram with "address:port" of its
 * source as it saw it, from the same socket. Records what it saw.
 */
export async function reflector(host: SimHost, port: number): Promise<Probe> {
  const p = await probe(host, port);
  p.sock.onMessage((data, from) => {
    p.got.push({ text: dec(data), from });
    p.sock.send(enc(endpointKey(from)), from);
  });
  return p;
}

/** The endpoint a reflector reported in its latest answer to `p`. */
export function reflected(p: Probe): Endpoint {
  const last = p.got.at(-1);
  if (!last) throw new Error('no answer from the reflector');
  return parseEndpoint(last.text);
}

export const ep = (address: string, port: number): Endpoint => ({ address, port });
