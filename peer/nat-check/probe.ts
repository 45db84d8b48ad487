/**
 * `punchline nat-check`'s measurements: STUN Binding requests from one UDP socket to the
 * rendezvous's main port and its alternate port (RFC 5780 §4.3-4.4, with one server address), and
 * a WebSocket connection to its relay. Everything comes in through `components` (docs/contributing.md house style
 * §3), so the same code runs on the real network and on the simulated one (test/nat-check).
 *
 * Order matters: the filtering test (CHANGE-REQUEST "change port" sent to the main port, answered
 * from the alternate one) runs before anything is sent to the alternate port, since a packet sent
 * there would open the very door the test is about.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import { PunchlineError } from '../../common/errors.js';
import type { StreamNetwork } from '../../common/net/stream.js';
import { endpointKey } from '../../common/net/types.js';
import type { Endpoint, Network } from '../../common/net/types.js';
import type { StunMessage } from '../../common/wire/stun.js';
import { classifyNat } from './classify.js';
import { NAT_CHECK_TIMEOUT_MS, StunClient } from './stun-client.js';
import type {
  BindingOutcome,
  FilteringObservation,
  NatCheckObservations,
  NatCheckReport,
  RelayObservation,
} from './types.js';

export interface NatCheckOptions {
  /** The rendezvous (an IP address: resolve names first). */
  server: Endpoint;
  /**
   * The server's alternate port. Default: OTHER-ADDRESS if the server sends it (a full RFC 5780
   * server; the rendezvous does not), else where a "change port" answer came from, else PORT+1.
   */
  altPort?: number;
  /** Local UDP port (default any) and address (default all). */
  port?: number;
  bind?: string;
  /** Bound on each test (and on the relay connection), ms. Default 3000. */
  timeoutMs?: number;
  /** The relay to try (ws:// or wss://); default ws://SERVER/; false: do not check it. */
  relayUrl?: string | false;
  signal?: AbortSignal;
}

export interface NatCheckComponents {
  network: Network;
  /** For the relay check; without it the relay is not checked. */
  streams?: StreamNetwork;
  clock: Clock;
  randomBytes?: (n: number) => Uint8Array;
}

const errorText = (m: StunMessage): string =>
  m.errorCode ? `${m.errorCode.code} ${m.errorCode.reason}` : 'an error response';

/** A plain Binding request's outcome. */
async function binding(client: StunClient, to: Endpoint): Promise<BindingOutcome> {
  const r = await client.request(to);
  if (!('msg' in r)) return { ok: false, tries: r.tries, waitedMs: r.waitedMs };
  const mapped = r.msg.xorMappedAddress ?? r.msg.mappedAddress;
  if (r.msg.class !== 'success' || !mapped)
    return {
      ok: false,
      tries: r.tries,
      waitedMs: r.rttMs,
      error: r.msg.class === 'error' ? errorText(r.msg) : 'an answer without a mapped address',
    };
  return {
    ok: true,
    mapped: stripMapped(mapped),
    from: r.from,
    rttMs: r.rttMs,
    tries: r.tries,
    ...(r.msg.otherAddress ? { otherAddress: r.msg.otherAddress } : {}),
  };
}

const stripMapped = (e: Endpoint): Endpoint =>
  e.address.startsWith('::ffff:') ? { address: e.address.slice(7), port: e.port } : e;

/** The filtering test (RFC 5780 §4.4 test III: "change port" only; one server IP allows no more). */
async function filteringTest(client: StunClient, server: Endpoint): Promise<FilteringObservation> {
  const r = await client.request(server, { changePort: true });
  if (!('msg' in r)) return { kind: 'no-answer', tries: r.tries, waitedMs: r.waitedMs };
  if (r.msg.class === 'error') return { kind: 'refused', error: errorText(r.msg) };
  if (r.from.port === server.port && r.from.address === server.address)
    return { kind: 'same-port', from: r.from };
  return { kind: 'other-port', from: r.from, tries: r.tries };
}

/** Connect to the relay and close at once: does TCP (WebSocket) get through? */
async function relayCheck(
  streams: StreamNetwork,
  url: string,
  clock: Clock,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<RelayObservation> {
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = clock.setTimeout(() => ac.abort(), timeoutMs);
  const start = clock.now();
  try {
    const s = await streams.connectStream(url, { signal: ac.signal });
    const ms = Math.round(clock.now() - start);
    s.close('nat-check done');
    return { url, reachable: true, ms };
  } catch (e) {
    // The stream's error names the URL already; the report prints it once, before the reason.
    const message = (e as Error).message;
    const why =
      ac.signal.aborted && !signal?.aborted
        ? `no connection within ${timeoutMs} ms`
        : message.startsWith(`${url}: `)
          ? message.slice(url.length + 2)
          : message;
    return { url, reachable: false, error: why };
  } finally {
    clock.clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Run every test; resolves with the raw observations. Throws IO if the socket cannot be bound, ABORTED. */
async function observeNat(opts: NatCheckOptions, c: NatCheckComponents): Promise<NatCheckObservations> {
  const timeoutMs = opts.timeoutMs ?? NAT_CHECK_TIMEOUT_MS;
  const random = c.randomBytes ?? ((n: number) => new Uint8Array(nodeRandomBytes(n)));
  const relayUrl = opts.relayUrl === undefined ? `ws://${endpointKey(opts.server)}/` : opts.relayUrl;
  // TCP is independent of the UDP tests: checked meanwhile.
  const relay =
    relayUrl !== false && c.streams
      ? relayCheck(c.streams, relayUrl, c.clock, timeoutMs, opts.signal)
      : Promise.resolve(undefined);

  const sock = c.network.createUdpSocket();
  try {
    let local: Endpoint;
    try {
      local = await sock.bind(opts.port ?? 0, opts.bind);
    } catch (e) {
      const where = `${opts.bind ?? '0.0.0.0'}:${opts.port ?? 0}`;
      throw new PunchlineError('IO', `cannot use a UDP socket on ${where}: ${(e as Error).message}`);
    }
    const client = new StunClient(sock, c.clock, random, timeoutMs, opts.signal);
    const base = { server: opts.server, local, localAddresses: c.network.localAddresses() };

    const primary = await binding(client, opts.server);
    if (!primary.ok)
      return {
        ...base,
        primary,
        filtering: { kind: 'not-run' },
        secondary: 'not-run',
        ...(await relayOf(relay)),
      };

    const filtering = await filteringTest(client, opts.server);
    const altEndpoint = alternate(opts, primary, filtering);
    // A server without an alternate port refuses the filtering test (420): nothing to compare with.
    const secondary =
      altEndpoint && filtering.kind !== 'refused' ? await binding(client, altEndpoint.endpoint) : 'not-run';
    return {
      ...base,
      primary,
      ...(altEndpoint && filtering.kind !== 'refused' ? { alt: altEndpoint } : {}),
      filtering,
      secondary,
      ...(await relayOf(relay)),
    };
  } finally {
    sock.close();
  }
}

/**
 * Where the second plain request goes: the server's OTHER-ADDRESS (full RFC 5780 servers, with a
 * second IP address), else --alt-port, else the port the "change port" answer came from, else the
 * main port + 1 (the rendezvous's default).
 */
function alternate(
  opts: NatCheckOptions,
  primary: BindingOutcome,
  filtering: FilteringObservation,
): NatCheckObservations['alt'] {
  if (primary.ok && primary.otherAddress)
    return { endpoint: stripMapped(primary.otherAddress), source: 'other-address' };
  if (opts.altPort !== undefined)
    return { endpoint: { address: opts.server.address, port: opts.altPort }, source: 'flag' };
  if (filtering.kind === 'other-port') return { endpoint: filtering.from, source: 'answer' };
  if (opts.server.port < 65535)
    return { endpoint: { address: opts.server.address, port: opts.server.port + 1 }, source: 'port+1' };
  return undefined;
}

async function relayOf(p: Promise<RelayObservation | undefined>): Promise<{ relay?: RelayObservation }> {
  const r = await p;
  return r ? { relay: r } : {};
}

/** Measure, then classify: the report `punchline nat-check` prints. */
export async function runNatCheck(opts: NatCheckOptions, c: NatCheckComponents): Promise<NatCheckReport> {
  return classifyNat(await observeNat(opts, c));
}
