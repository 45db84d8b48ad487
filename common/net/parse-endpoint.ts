import { badArgument } from '../errors.js';
import type { Endpoint } from './types.js';

/** Parse "host:port" or "[v6]:port" (host may be a name; resolution is the caller's job). */
export function parseEndpoint(text: string, what = 'endpoint'): Endpoint {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) throw badArgument(`${what} must look like HOST:PORT, got ${JSON.stringify(text)}`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw badArgument(`${what} port must be 1-65535, got ${m[2]}`);
  return { address: m[1]!, port };
}
