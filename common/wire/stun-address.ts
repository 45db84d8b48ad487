import { isIPv4, isIPv6 } from 'node:net';
import { badArgument, malformed } from '../errors.js';
import type { Endpoint } from '../endpoint.js';
import { concatBytes } from './bytes.js';
import { STUN_MAGIC_COOKIE, u16at } from './stun-message.js';

/*
 * The STUN address attributes (RFC 8489 §14.1, §14.2; RFC 5780 §7.3, §7.4): family, port and
 * address, plain or XORed with the magic cookie and transaction id, and IP text <-> bytes.
 */

/** MAPPED-ADDRESS / XOR-MAPPED-ADDRESS value (RFC 8489 §14.1, §14.2). */
export function decodeAddress(value: Uint8Array, txId: Uint8Array | undefined, what: string): Endpoint {
  if (value.length < 4) throw malformed(`stun: ${what} shorter than 4 bytes`);
  const family = value[1]!;
  const size = family === 0x01 ? 4 : family === 0x02 ? 16 : 0;
  if (size === 0) throw malformed(`stun: ${what} family ${family}`);
  if (value.length !== 4 + size)
    throw malformed(`stun: ${what} of ${value.length} bytes for family ${family}`);
  const ip = value.slice(4);
  let port = u16at(value, 2);
  if (txId) {
    port ^= STUN_MAGIC_COOKIE >>> 16;
    xorAddress(ip, txId);
  }
  return { address: formatIp(ip), port };
}

/** X-Address = address XOR (magic cookie ‖ transaction id), in place (RFC 8489 §14.2). */
export function xorAddress(ip: Uint8Array, txId: Uint8Array): void {
  for (let i = 0; i < ip.length; i++) {
    const k = i < 4 ? (STUN_MAGIC_COOKIE >>> (24 - 8 * i)) & 0xff : txId[i - 4]!;
    ip[i] = ip[i]! ^ k;
  }
}

export function formatIp(ip: Uint8Array): string {
  if (ip.length === 4) return ip.join('.');
  // IPv4-mapped IPv6 in the form node:dgram reports it.
  if (ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff)
    return `::ffff:${ip.subarray(12).join('.')}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(u16at(ip, i));
  // RFC 5952 §4.2: compress the longest run (≥ 2) of zero groups, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Address bytes for an endpoint: 4 for IPv4 and IPv4-mapped IPv6, 16 for IPv6. */
export function parseIp(address: string): Uint8Array {
  const a = address.replace(/%.*$/, ''); // drop an IPv6 zone id ("fe80::1%eth0")
  if (isIPv4(a)) return new Uint8Array(a.split('.').map(Number));
  if (!isIPv6(a)) throw badArgument(`stun: not an IP address: ${address}`);
  let s = a;
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [p0, p1, p2, p3] = tail.split('.').map(Number) as [number, number, number, number];
    s = `${s.slice(0, lastColon + 1)}${((p0 << 8) | p1).toString(16)}:${((p2 << 8) | p3).toString(16)}`;
  }
  const halves = s.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const groups =
    halves.length > 1 ? [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest] : head;
  const ip = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    ip[2 * i] = v >>> 8;
    ip[2 * i + 1] = v & 0xff;
  });
  if (ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) return ip.slice(12);
  return ip;
}

/** XOR-MAPPED-ADDRESS value for `ep` (IPv4-mapped IPv6 is sent as IPv4). */
export function xorMappedAddressValue(ep: Endpoint, txId: Uint8Array): Uint8Array {
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 0xffff)
    throw badArgument(`stun: port ${ep.port}`);
  const ip = parseIp(ep.address);
  xorAddress(ip, txId);
  const xport = ep.port ^ (STUN_MAGIC_COOKIE >>> 16);
  return concatBytes(new Uint8Array([0, ip.length === 4 ? 0x01 : 0x02, xport >>> 8, xport & 0xff]), ip);
}

/** MAPPED-ADDRESS-format value (RFC 8489 §14.1), also used by RESPONSE-ORIGIN and OTHER-ADDRESS. */
export function mappedAddressValue(ep: Endpoint): Uint8Array {
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 0xffff)
    throw badArgument(`stun: port ${ep.port}`);
  const ip = parseIp(ep.address);
  return concatBytes(new Uint8Array([0, ip.length === 4 ? 0x01 : 0x02, ep.port >>> 8, ep.port & 0xff]), ip);
}
