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

/** At most this many servers in one `--server` list (and after a name's records are expanded). */
export const MAX_SERVERS = 16;

export interface ParsedServer {
  host: string;
  port: number;
  relayUrl: string;
  fingerprint?: string;
  /** Given as a ws:// or wss:// URL: the relay stays at that URL for every address of the host. */
  url: boolean;
}

/**
 * `--server A,B,...` for `punchline chat`: up to MAX_SERVERS entries, each as parseServer takes
 * it (its own #FINGERPRINT allowed). A fingerprint on the last entry only, with none on the
 * others, applies to every entry: the nodes of one cluster share a key. Empty entries and the same
 * HOST:PORT twice are BAD_ARGUMENT.
 */
export function parseServerList(full: string): ParsedServer[] {
  const parts = full.split(',').map((p) => p.trim());
  if (parts.length > MAX_SERVERS)
    throw badArgument(`--server: ${parts.length} servers; at most ${MAX_SERVERS} may be listed`);
  const out = parts.map((p, i) => {
    if (p === '') throw badArgument(`--server: entry ${i + 1} of ${parts.length} is empty ("${full}")`);
    return { ...parseServer(p), url: /^wss?:\/\//.test(p) };
  });
  const seen = new Set<string>();
  for (const s of out) {
    const key = `${s.host.toLowerCase()}:${s.port}`;
    if (seen.has(key)) throw badArgument(`--server: ${key} is listed twice`);
    seen.add(key);
  }
  const last = out[out.length - 1]!.fingerprint;
  if (last !== undefined && out.slice(0, -1).every((s) => s.fingerprint === undefined))
    for (const s of out) s.fingerprint = last;
  return out;
}

/** The IPv4 addresses a host name has (its A records); an address is its own. */
export type LookupAll = (host: string) => Promise<string[]>;

/** The system resolver (node:dns lookup, every A record): the peer's one UDP socket is IPv4. */
export const systemLookupAll: LookupAll = async (host) =>
  (await lookup(host, { family: 4, all: true })).map((a) => a.address);

/** One server to use: where, its relay, its key, and the name its key is pinned under. */
export interface ResolvedServer {
  server: { address: string; port: number };
  relayUrl: string;
  fingerprint?: string;
  name: string;
}

/**
 * Every entry's addresses through `lookupAll` (the seam tests replace), in the order given and
 * the resolver's order: a name with several A records is several servers. Each is pinned in
 * servers.json by HOST:PORT as given, or, for a name with several addresses, by ADDRESS:PORT
 * (the nodes behind one name may have different keys). Its relay is the entry's own (HOST:PORT:
 * ws://HOST:PORT/), but ws://ADDRESS:PORT/ for each of a HOST:PORT name's several addresses, so
 * each node's own relay is used (a ws:// or wss:// URL stays as given: TLS needs the name). A name that does not resolve is BAD_ARGUMENT.
 */
export async function resolveServerList(
  list: ParsedServer[],
  lookupAll: LookupAll = systemLookupAll,
): Promise<ResolvedServer[]> {
  const out: ResolvedServer[] = [];
  for (const s of list) {
    let addresses: string[];
    try {
      addresses = [...new Set(await lookupAll(s.host))];
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) throw badArgument(`--server: cannot resolve host "${s.host}"`);
    for (const address of addresses) {
      const at = endpointKey({ address, port: s.port });
      out.push({
        server: { address, port: s.port },
        relayUrl: s.url || addresses.length === 1 ? s.relayUrl : `ws://${at}/`,
        ...(s.fingerprint !== undefined ? { fingerprint: s.fingerprint } : {}),
        name: addresses.length > 1 ? at : `${s.host}:${s.port}`,
      });
    }
  }
  if (out.length > MAX_SERVERS)
    throw badArgument(
      `--server: the names resolve to ${out.length} servers; at most ${MAX_SERVERS} may be used`,
    );
  return out;
}
