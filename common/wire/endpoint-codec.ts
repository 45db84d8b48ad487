import { malformed } from '../errors.js';
import type { Endpoint } from '../endpoint.js';
import type { Reader, Writer } from './bytes.js';

/** Address family tag on the wire. Only IPv4 is carried today; the tag leaves room for IPv6. */
export const FAMILY_IPV4 = 4;

export function ipv4ToBytes(address: string): Uint8Array {
  const parts = address.split('.');
  if (parts.length !== 4) throw malformed(`not an IPv4 address: ${address}`);
  const out = new Uint8Array(4);
  parts.forEach((p, i) => {
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw malformed(`not an IPv4 address: ${address}`);
    out[i] = n;
  });
  return out;
}

export function writeEndpoint(w: Writer, e: Endpoint): void {
  w.u8(FAMILY_IPV4).bytes(ipv4ToBytes(e.address)).u16(e.port);
}

export function readEndpoint(r: Reader): Endpoint {
  const family = r.u8();
  if (family !== FAMILY_IPV4) throw malformed(`unknown address family ${family}`);
  const b = r.bytes(4);
  const port = r.u16();
  return { address: `${b[0]}.${b[1]}.${b[2]}.${b[3]}`, port };
}

export function writeEndpointList(w: Writer, list: readonly Endpoint[], max: number): void {
  if (list.length > max) throw new RangeError(`too many endpoints: ${list.length} > ${max}`);
  w.u8(list.length);
  for (const e of list) writeEndpoint(w, e);
}

export function readEndpointList(r: Reader, max: number): Endpoint[] {
  const n = r.u8();
  if (n > max) throw malformed(`endpoint list of ${n} exceeds ${max}`);
  const out: Endpoint[] = [];
  for (let i = 0; i < n; i++) out.push(readEndpoint(r));
  return out;
}
