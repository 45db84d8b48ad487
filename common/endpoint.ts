import { badArgument } from './errors.js';

/**
 * An address and port: the one value the wire codecs, the network seams and the path logic all
 * share. It lives at the root of common/ so the codecs (common/wire) need nothing from the
 * network layer (common/net), which builds on them.
 */
export interface Endpoint {
  readonly address: string; // dotted IPv4 or IPv6 text
  readonly port: number;
}

/** The map key and display form of an endpoint: "host:port", or "[v6]:port". */
export const endpointKey = (e: Endpoint): string =>
  e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;

export const sameEndpoint = (a: Endpoint | undefined, b: Endpoint | undefined): boolean =>
  !!a && !!b && a.port === b.port && a.address === b.address;

/**
 * Parse "host:port" or "[v6]:port" (host may be a name; resolution is the caller's job). Throws a
 * BAD_ARGUMENT PunchlineError on bad input.
 */
export function parseEndpoint(text: string, what = 'endpoint'): Endpoint {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) throw badArgument(`${what} must look like HOST:PORT, got ${JSON.stringify(text)}`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw badArgument(`${what} port must be 1-65535, got ${m[2]}`);
  return { address: m[1]!, port };
}
