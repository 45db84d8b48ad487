import { lookup } from 'node:dns/promises';
import { badArgument } from '../../common/errors.js';
import { endpointKey, parseEndpoint } from '../../common/net/types.js';
import { parseFingerprint } from '../../common/wire/server-auth.js';

/**
 * The `--server` flag, shared by `punchline chat` and `punchline nat-check`: its syntax and the
 * name lookup, in one place.
 */

/**
 * --server is HOST:PORT (UDP on that port, the relay at ws://HOST:PORT/) or ws[s]://HOST:PORT[/path]
 * (the relay at that URL, UDP on the same host and port), either followed by #FINGERPRINT: the
 * server key's fingerprint, pinned from the start instead of on first use.
 */
export function parseServer(full: string): {
  host: string;
  port: number;
  relayUrl: string;
  fingerprint?: string;
} {
  const hash = full.lastIndexOf('#');
  const text = hash < 0 ? full : full.slice(0, hash);
  let fingerprint: string | undefined;
  if (hash >= 0) {
    fingerprint = parseFingerprint(full.slice(hash + 1));
    if (fingerprint === undefined)
      throw badArgument(
        `--server: "${full.slice(hash + 1)}" is not a server key fingerprint (32 hex digits, colons allowed)`,
      );
  }
  return { ...parseServerAddress(text), ...(fingerprint ? { fingerprint } : {}) };
}

function parseServerAddress(text: string): { host: string; port: number; relayUrl: string } {
  if (/^wss?:\/\//.test(text)) {
    let u: URL;
    try {
      u = new URL(text);
    } catch {
      throw badArgument(`--server: not a valid URL: ${text}`);
    }
    const port = u.port ? Number(u.port) : u.protocol === 'wss:' ? 443 : 80;
    // The URL parser accepts port 0, which is no server: the same 1-65535 as HOST:PORT.
    if (port < 1) throw badArgument(`--server port must be 1-65535, got ${u.port}`);
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port, relayUrl: u.toString() };
  }
  const e = parseEndpoint(text, '--server');
  return { host: e.address, port: e.port, relayUrl: `ws://${endpointKey(e)}/` };
}

/** The IPv4 address of `--server`'s host; a name that does not resolve is BAD_ARGUMENT (exit 2). */
export async function resolveHost(host: string): Promise<string> {
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch {
    throw badArgument(`--server: cannot resolve host "${host}"`);
  }
}
