import { readFileSync } from 'node:fs';
import { SystemClock } from '../common/clock.js';
import { badArgument, PunchlineError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { endpointKey } from '../common/net/types.js';
import { nodeNetwork } from '../common/net/udp-node.js';
import { wsStreamNetwork } from '../common/net/ws-node.js';
import { intFlag, logLevelFlag, parseFlags } from '../common/cli/args.js';
import { Limits } from '../common/wire/constants.js';
import { groupFingerprint, serverFingerprint } from '../common/wire/server-auth.js';
import { MAX_LISTABLE_MEMBERS } from './presence.js';
import { RENDEZVOUS_DEFAULTS as D, RendezvousServer } from './server.js';
import { defaultServerKeyPath, loadOrCreateServerKey, SERVER_KEY_FILE } from './server-key.js';
import type { RendezvousOptions } from './server.js';
import { HTTP_HEADROOM } from './stream-front.js';

export const RENDEZVOUS_HELP = `Usage: punchline rendezvous [options]

Run the rendezvous server: peers register here, learn their public UDP address as
their NAT shows it, see who is in their room, and get introduced so both punch at once.
It also answers standard STUN Binding requests (RFC 8489) on the same port, and on a
second UDP port (--alt-port) for NAT behaviour tests (punchline nat-check, RFC 5780).
On TCP, on the same port number, it serves the WebSocket relay and fallback signalling
(for peers whose UDP is blocked), GET /healthz and GET /metrics (Prometheus).

Options:
  --host ADDR               address to listen on (default ${D.host})
  --port N                  UDP port, and TCP port for WebSocket/HTTP (default ${D.port})
  --alt-port N              second UDP port, STUN only, for nat-check (default PORT+1; 0 = off)
  --keepalive-ms N          keepalive interval told to peers (default ${D.keepaliveMs})
  --expiry-ms N             drop a UDP registration not heard from for this long (default ${D.expiryMs})
  --max-room N              members per room, at most ${MAX_LISTABLE_MEMBERS}; a joiner's full list is one
                            datagram per 23 members (default ${D.maxRoomMembers})
  --register-rate N         REGISTERs per second per source IP (IPv6: per /64), checked before the
                            signature; over it, an unsealed RATE_LIMITED (default ${D.registerRate})
  --register-burst N        REGISTERs a source may send at once (default ${D.registerBurst})
  --max-ids-per-ip N        peer ids registered from one source IP, UDP and WebSocket together; the
                            next one is refused with TOO_MANY_IDS (default ${D.maxIdsPerIp})
  --connect-rate N          new CONNECTs (introductions) per second per member (default ${D.connectRate})
  --connect-burst N         CONNECTs a member may send at once (default ${D.connectBurst})
  --max-rate-keys N         rate-limit buckets kept per kind; the least recently used is forgotten
                            (default ${D.maxRateKeys})
  --presence-interval-ms N  a room's presence changes leave as one delta at most this often, once
                            its burst is spent (default ${D.presenceIntervalMs})
  --presence-burst N        presence deltas a room sends back to back before the interval holds
                            them; each member receives every one (default ${D.presenceBurst})
  --presence-resync-ms N    a member asking for the full member list again gets it at most this
                            often (default ${D.presenceResyncMs})
  --no-tcp                  UDP only: no WebSocket relay, no /healthz, no /metrics
  --tls-cert FILE           PEM certificate chain: serve https and wss (needs --tls-key)
  --tls-key FILE            PEM private key for --tls-cert
  --relay-max-frame N       largest relayed payload, bytes (default ${D.relayMaxFrame})
  --relay-rate-bytes N      per-peer rate, bytes/s (default ${D.relayRateBytes})
  --relay-burst-bytes N     per-peer burst, bytes (default ${D.relayBurstBytes})
  --relay-rate-frames N     per-peer rate, messages/s (default ${D.relayRateFrames})
  --relay-burst-frames N    per-peer burst, messages (default ${D.relayBurstFrames})
  --relay-queue-bytes N     a receiver's queue cap; beyond it frames drop (default ${D.relayQueueBytes})
  --relay-pair-ttl-ms N     an introduced pair may relay this long after its last use (default ${D.relayPairTtlMs})
  --relay-max-pairs N       partners remembered per peer (default ${D.relayMaxPairs})
  --max-conns-per-ip N      TCP connections per source IP, counted from accept (before the upgrade)
                            until destroyed; plain HTTP too, answered at once (default ${D.maxConnsPerIp})
  --max-connections N       WebSocket connections in total; ${HTTP_HEADROOM} more TCP connections are taken for
                            HTTP (/healthz, /metrics) and upgrades answered 429 (default ${D.maxConnections})
  --max-message-bytes N     largest WebSocket message; larger closes the connection (default ${D.maxMessageBytes})
  --ping-ms N               WebSocket ping interval; dead after one missed pong; 0 = off (default ${D.pingMs})
  --auth-timeout-ms N       close a connection not registered within this (default ${D.authTimeoutMs})
  --upgrade-timeout-ms N    destroy a TCP connection not upgraded to a WebSocket within this (default ${D.upgradeTimeoutMs})
  --close-timeout-ms N      destroy a closing connection whose client has not finished the closing
                            handshake within this (default ${D.closeTimeoutMs})
  --key FILE                the server's long-term key, created on first start; peers pin it
                            (default $XDG_DATA_HOME/punchline/${SERVER_KEY_FILE} or
                            ~/.local/share/punchline/${SERVER_KEY_FILE}); keep it across restarts
  --log-level L             debug, info, warn, error, silent (default info); logs are JSON lines on stderr
  -h, --help                show this help

Prints "punchline rendezvous listening on udp HOST:PORT" on stdout when ready (followed by
" (stun alt port N)" when the alternate port is open), then
"punchline rendezvous listening on tcp HOST:PORT (ws|wss)" unless --no-tcp, then
"punchline rendezvous key fingerprint XXXX:...", the fingerprint peers see and may pin.
`;

const int = (
  f: Record<string, string | boolean | undefined>,
  name: string,
  min: number,
  max: number,
  dflt: number,
): number => intFlag(f[name], name, min, max, dflt);

function readPem(path: string | boolean | undefined, flag: string): string | undefined {
  if (path === undefined) return undefined;
  if (typeof path !== 'string' || path.length === 0) throw badArgument(`--${flag} needs a file`);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw badArgument(`--${flag}: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Parse and check the flags into server options (exported for tests). */
export function rendezvousOptionsFromFlags(argv: string[]): {
  options: RendezvousOptions;
  tcp: boolean;
  logLevel: ReturnType<typeof logLevelFlag>;
  help: boolean;
  keyFile: string;
} {
  const spec = {
    host: { type: 'string' },
    port: { type: 'string' },
    'alt-port': { type: 'string' },
    'keepalive-ms': { type: 'string' },
    'expiry-ms': { type: 'string' },
    'max-room': { type: 'string' },
    'register-rate': { type: 'string' },
    'register-burst': { type: 'string' },
    'max-ids-per-ip': { type: 'string' },
    'connect-rate': { type: 'string' },
    'connect-burst': { type: 'string' },
    'max-rate-keys': { type: 'string' },
    'presence-interval-ms': { type: 'string' },
    'presence-burst': { type: 'string' },
    'presence-resync-ms': { type: 'string' },
    'no-tcp': { type: 'boolean' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'relay-max-frame': { type: 'string' },
    'relay-rate-bytes': { type: 'string' },
    'relay-burst-bytes': { type: 'string' },
    'relay-rate-frames': { type: 'string' },
    'relay-burst-frames': { type: 'string' },
    'relay-queue-bytes': { type: 'string' },
    'relay-pair-ttl-ms': { type: 'string' },
    'relay-max-pairs': { type: 'string' },
    'max-conns-per-ip': { type: 'string' },
    'max-connections': { type: 'string' },
    'max-message-bytes': { type: 'string' },
    'ping-ms': { type: 'string' },
    'auth-timeout-ms': { type: 'string' },
    'upgrade-timeout-ms': { type: 'string' },
    'close-timeout-ms': { type: 'string' },
    'log-level': { type: 'string' },
    key: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  const f = parseFlags(argv, spec);
  const logLevel = logLevelFlag(f['log-level'], 'info');
  const keyFile = typeof f.key === 'string' && f.key.length > 0 ? f.key : defaultServerKeyPath();
  if (f.key !== undefined && typeof f.key !== 'string') throw badArgument('--key needs a file');
  if (f.help) return { options: {}, tcp: true, logLevel, help: true, keyFile };
  const keepaliveMs = int(f, 'keepalive-ms', 1000, 3_600_000, D.keepaliveMs);
  const relayMaxFrame = int(f, 'relay-max-frame', 64, Limits.MAX_RELAY_PAYLOAD, D.relayMaxFrame);
  const maxMessageBytes = int(f, 'max-message-bytes', Limits.MAX_DATAGRAM, 1_048_576, D.maxMessageBytes);
  if (maxMessageBytes < relayMaxFrame + Limits.RELAY_HEADER_BYTES)
    throw badArgument(
      `--max-message-bytes (${maxMessageBytes}) must hold a full relay frame: at least --relay-max-frame + ${Limits.RELAY_HEADER_BYTES} (${relayMaxFrame + Limits.RELAY_HEADER_BYTES})`,
    );
  const cert = readPem(f['tls-cert'], 'tls-cert');
  const key = readPem(f['tls-key'], 'tls-key');
  if ((cert === undefined) !== (key === undefined)) throw badArgument('--tls-cert and --tls-key go together');
  const tcp = f['no-tcp'] !== true;
  if (!tcp && cert !== undefined) throw badArgument('--tls-cert needs TCP (drop --no-tcp)');
  const port = int(f, 'port', 0, 65535, D.port);
  const altPort = f['alt-port'] !== undefined ? int(f, 'alt-port', 0, 65535, 0) : undefined;
  if (altPort !== undefined && altPort !== 0 && altPort === port)
    throw badArgument(`--alt-port must differ from --port (both ${port})`);
  const rateBytes = int(f, 'relay-rate-bytes', 1024, 1_073_741_824, D.relayRateBytes);
  const rateFrames = int(f, 'relay-rate-frames', 1, 10_000_000, D.relayRateFrames);
  const options: RendezvousOptions = {
    host: typeof f.host === 'string' ? f.host : D.host,
    port,
    ...(altPort !== undefined ? { altPort } : {}),
    keepaliveMs,
    expiryMs: int(f, 'expiry-ms', keepaliveMs, 86_400_000, Math.max(D.expiryMs, keepaliveMs * 3 + 5000)),
    maxRoomMembers: int(f, 'max-room', 2, MAX_LISTABLE_MEMBERS, D.maxRoomMembers),
    registerRate: int(f, 'register-rate', 1, 1_000_000, D.registerRate),
    registerBurst: int(f, 'register-burst', 1, 1_000_000, D.registerBurst),
    maxIdsPerIp: int(f, 'max-ids-per-ip', 1, 1_000_000, D.maxIdsPerIp),
    connectRate: int(f, 'connect-rate', 1, 1_000_000, D.connectRate),
    connectBurst: int(f, 'connect-burst', 1, 1_000_000, D.connectBurst),
    maxRateKeys: int(f, 'max-rate-keys', 16, 10_000_000, D.maxRateKeys),
    presenceIntervalMs: int(f, 'presence-interval-ms', 10, 60_000, D.presenceIntervalMs),
    presenceBurst: int(f, 'presence-burst', 1, 1000, D.presenceBurst),
    presenceResyncMs: int(f, 'presence-resync-ms', 100, 600_000, D.presenceResyncMs),
    relayMaxFrame,
    relayRateBytes: rateBytes,
    // Two seconds at the rate by default; never below one maximal message, or that would never pass.
    relayBurstBytes: int(
      f,
      'relay-burst-bytes',
      maxMessageBytes,
      4_294_967_295,
      Math.max(rateBytes * 2, maxMessageBytes),
    ),
    relayRateFrames: rateFrames,
    relayBurstFrames: int(f, 'relay-burst-frames', 1, 100_000_000, rateFrames * 2),
    relayQueueBytes: int(
      f,
      'relay-queue-bytes',
      relayMaxFrame + Limits.RELAY_HEADER_BYTES,
      1_073_741_824,
      D.relayQueueBytes,
    ),
    relayPairTtlMs: int(f, 'relay-pair-ttl-ms', 1000, 86_400_000, D.relayPairTtlMs),
    relayMaxPairs: int(f, 'relay-max-pairs', 1, 100_000, D.relayMaxPairs),
    maxConnsPerIp: int(f, 'max-conns-per-ip', 1, 1_000_000, D.maxConnsPerIp),
    maxConnections: int(f, 'max-connections', 1, 10_000_000, D.maxConnections),
    maxMessageBytes,
    pingMs: int(f, 'ping-ms', 0, 3_600_000, D.pingMs),
    authTimeoutMs: int(f, 'auth-timeout-ms', 100, 600_000, D.authTimeoutMs),
    upgradeTimeoutMs: int(f, 'upgrade-timeout-ms', 100, 600_000, D.upgradeTimeoutMs),
    closeTimeoutMs: int(f, 'close-timeout-ms', 100, 600_000, D.closeTimeoutMs),
    ...(cert !== undefined && key !== undefined ? { tls: { cert, key } } : {}),
  };
  return { options, tcp, logLevel, help: false, keyFile };
}

export async function runRendezvous(argv: string[]): Promise<number> {
  const { options, tcp, logLevel, help, keyFile } = rendezvousOptionsFromFlags(argv);
  if (help) {
    process.stdout.write(RENDEZVOUS_HELP);
    return 0;
  }
  const { key, created } = await loadOrCreateServerKey(keyFile);
  const logger = createLogger(logLevel, { svc: 'rendezvous' });
  const fingerprint = groupFingerprint(serverFingerprint(key.publicKey));
  logger.info(created ? 'server key created' : 'server key loaded', { file: keyFile, fingerprint });
  const server = new RendezvousServer(options, {
    network: nodeNetwork,
    ...(tcp ? { streamNetwork: wsStreamNetwork } : {}),
    clock: new SystemClock(),
    logger,
    serverKey: key,
  });
  let bound;
  try {
    bound = await server.start();
  } catch (e) {
    throw new PunchlineError(
      'IO',
      `cannot listen on ${String(options.host)}:${String(options.port)} (udp${options.altPort ? `, stun alt port ${options.altPort}` : ''}${tcp ? ' and tcp' : ''}): ${(e as Error).message}`,
    );
  }
  const alt = server.altEndpoint;
  process.stdout.write(
    `punchline rendezvous listening on udp ${endpointKey(bound)}${alt ? ` (stun alt port ${alt.port})` : ''}\n`,
  );
  const tcpAt = server.tcpEndpoint;
  if (tcpAt)
    process.stdout.write(
      `punchline rendezvous listening on tcp ${endpointKey(tcpAt)} (${options.tls ? 'wss' : 'ws'})\n`,
    );
  process.stdout.write(
    `punchline rendezvous key fingerprint ${fingerprint} (peers may pin it: --server HOST:PORT#${serverFingerprint(key.publicKey)})\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
