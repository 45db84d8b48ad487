import { readFileSync } from 'node:fs';
import { SystemClock } from '../common/clock.js';
import { badArgument, PunchlineError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { endpointKey } from '../common/net/types.js';
import { nodeNetwork } from '../common/net/udp-node.js';
import { wsStreamNetwork } from '../common/net/ws-node.js';
import { intFlag, logLevelFlag, parseFlags } from '../common/cli/args.js';
import type { OptionSpec } from '../common/cli/args.js';
import { Limits } from '../common/wire/constants.js';
import { groupFingerprint, serverFingerprint } from '../common/wire/server-auth.js';
import type { ClusterConfig } from './cluster/cluster.js';
import { IoRedisLink } from './cluster/redis-link.js';
import { describeTarget, parseRedisUrl } from './cluster/redis-url.js';
import type { RedisTarget } from './cluster/redis-url.js';
import { MAX_LISTABLE_MEMBERS } from './presence.js';
import { RENDEZVOUS_DEFAULTS as D } from './options.js';
import type { RendezvousOptions } from './options.js';
import { RendezvousServer } from './server.js';
import { defaultServerKeyPath, loadOrCreateServerKey, SERVER_KEY_FILE } from './server-key.js';
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
  --redis URL               join a cluster of nodes sharing this Redis: redis://[user@]HOST:PORT[/DB],
                            rediss://... (TLS) or unix:///path/to/socket (docs/architecture.md, Cluster).
                            Never put the password in the URL (ps shows it): it comes from
                            PUNCHLINE_REDIS_PASSWORD or --redis-password-file
  --redis-password-file FILE  the Redis password, the file's first line
  --node-id ID              this node's id in the cluster, unique (default: random)
  --log-level L             debug, info, warn, error, silent (default info); logs are JSON lines on stderr
  -h, --help                show this help

Prints "punchline rendezvous listening on udp HOST:PORT" on stdout when ready (followed by
" (stun alt port N)" when the alternate port is open), then
"punchline rendezvous listening on tcp HOST:PORT (ws|wss)" unless --no-tcp, then
"punchline rendezvous key fingerprint XXXX:...", the fingerprint peers see and may pin.
`;

type NumberOption = {
  [K in keyof RendezvousOptions]-?: NonNullable<RendezvousOptions[K]> extends number ? K : never;
}[keyof RendezvousOptions];

/** The whole numbers read so far, for the bounds and defaults that depend on another flag. */
type Read = Partial<Record<NumberOption, number>>;
const at = (o: Read, k: NumberOption): number => o[k]!;

/**
 * Every whole-number flag: its option, range and default, in the order they are read (a bound or
 * default given as a function reads flags above it).
 */
const INT_FLAGS: readonly {
  flag: string;
  key: NumberOption;
  min: number | ((o: Read) => number);
  max: number;
  dflt: number | ((o: Read) => number);
}[] = [
  { flag: 'keepalive-ms', key: 'keepaliveMs', min: 1000, max: 3_600_000, dflt: D.keepaliveMs },
  {
    flag: 'relay-max-frame',
    key: 'relayMaxFrame',
    min: 64,
    max: Limits.MAX_RELAY_PAYLOAD,
    dflt: D.relayMaxFrame,
  },
  {
    flag: 'max-message-bytes',
    key: 'maxMessageBytes',
    min: Limits.MAX_DATAGRAM,
    max: 1_048_576,
    dflt: D.maxMessageBytes,
  },
  { flag: 'port', key: 'port', min: 0, max: 65535, dflt: D.port },
  { flag: 'relay-rate-bytes', key: 'relayRateBytes', min: 1024, max: 1_073_741_824, dflt: D.relayRateBytes },
  { flag: 'relay-rate-frames', key: 'relayRateFrames', min: 1, max: 10_000_000, dflt: D.relayRateFrames },
  {
    flag: 'expiry-ms',
    key: 'expiryMs',
    min: (o) => at(o, 'keepaliveMs'),
    max: 86_400_000,
    dflt: (o) => Math.max(D.expiryMs, at(o, 'keepaliveMs') * 3 + 5000),
  },
  { flag: 'max-room', key: 'maxRoomMembers', min: 2, max: MAX_LISTABLE_MEMBERS, dflt: D.maxRoomMembers },
  { flag: 'register-rate', key: 'registerRate', min: 1, max: 1_000_000, dflt: D.registerRate },
  { flag: 'register-burst', key: 'registerBurst', min: 1, max: 1_000_000, dflt: D.registerBurst },
  { flag: 'max-ids-per-ip', key: 'maxIdsPerIp', min: 1, max: 1_000_000, dflt: D.maxIdsPerIp },
  { flag: 'connect-rate', key: 'connectRate', min: 1, max: 1_000_000, dflt: D.connectRate },
  { flag: 'connect-burst', key: 'connectBurst', min: 1, max: 1_000_000, dflt: D.connectBurst },
  { flag: 'max-rate-keys', key: 'maxRateKeys', min: 16, max: 10_000_000, dflt: D.maxRateKeys },
  {
    flag: 'presence-interval-ms',
    key: 'presenceIntervalMs',
    min: 10,
    max: 60_000,
    dflt: D.presenceIntervalMs,
  },
  { flag: 'presence-burst', key: 'presenceBurst', min: 1, max: 1000, dflt: D.presenceBurst },
  { flag: 'presence-resync-ms', key: 'presenceResyncMs', min: 100, max: 600_000, dflt: D.presenceResyncMs },
  // Two seconds at the rate by default; never below one maximal message, or that would never pass.
  {
    flag: 'relay-burst-bytes',
    key: 'relayBurstBytes',
    min: (o) => at(o, 'maxMessageBytes'),
    max: 4_294_967_295,
    dflt: (o) => Math.max(at(o, 'relayRateBytes') * 2, at(o, 'maxMessageBytes')),
  },
  {
    flag: 'relay-burst-frames',
    key: 'relayBurstFrames',
    min: 1,
    max: 100_000_000,
    dflt: (o) => at(o, 'relayRateFrames') * 2,
  },
  {
    flag: 'relay-queue-bytes',
    key: 'relayQueueBytes',
    min: (o) => at(o, 'relayMaxFrame') + Limits.RELAY_HEADER_BYTES,
    max: 1_073_741_824,
    dflt: D.relayQueueBytes,
  },
  { flag: 'relay-pair-ttl-ms', key: 'relayPairTtlMs', min: 1000, max: 86_400_000, dflt: D.relayPairTtlMs },
  { flag: 'relay-max-pairs', key: 'relayMaxPairs', min: 1, max: 100_000, dflt: D.relayMaxPairs },
  { flag: 'max-conns-per-ip', key: 'maxConnsPerIp', min: 1, max: 1_000_000, dflt: D.maxConnsPerIp },
  { flag: 'max-connections', key: 'maxConnections', min: 1, max: 10_000_000, dflt: D.maxConnections },
  { flag: 'ping-ms', key: 'pingMs', min: 0, max: 3_600_000, dflt: D.pingMs },
  { flag: 'auth-timeout-ms', key: 'authTimeoutMs', min: 100, max: 600_000, dflt: D.authTimeoutMs },
  { flag: 'upgrade-timeout-ms', key: 'upgradeTimeoutMs', min: 100, max: 600_000, dflt: D.upgradeTimeoutMs },
  { flag: 'close-timeout-ms', key: 'closeTimeoutMs', min: 100, max: 600_000, dflt: D.closeTimeoutMs },
];

const FLAG_SPEC: OptionSpec = {
  ...Object.fromEntries(INT_FLAGS.map(({ flag }) => [flag, { type: 'string' }])),
  host: { type: 'string' },
  'alt-port': { type: 'string' },
  'no-tcp': { type: 'boolean' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'log-level': { type: 'string' },
  redis: { type: 'string' },
  'redis-password-file': { type: 'string' },
  'node-id': { type: 'string' },
  key: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** The whole-number flags, each within its range (which may depend on flags read before it). */
function readInts(f: Record<string, string | boolean | undefined>): Read {
  const o: Read = {};
  for (const { flag, key, min, max, dflt } of INT_FLAGS) {
    const value = (v: number | ((o: Read) => number)): number => (typeof v === 'number' ? v : v(o));
    o[key] = intFlag(f[flag], flag, value(min), max, value(dflt));
  }
  if (at(o, 'maxMessageBytes') < at(o, 'relayMaxFrame') + Limits.RELAY_HEADER_BYTES)
    throw badArgument(
      `--max-message-bytes (${at(o, 'maxMessageBytes')}) must hold a full relay frame: at least --relay-max-frame + ${Limits.RELAY_HEADER_BYTES} (${at(o, 'relayMaxFrame') + Limits.RELAY_HEADER_BYTES})`,
    );
  return o;
}

function readPem(path: string | boolean | undefined, flag: string): string | undefined {
  if (path === undefined) return undefined;
  if (typeof path !== 'string' || path.length === 0) throw badArgument(`--${flag} needs a file`);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw badArgument(`--${flag}: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** --tls-cert and --tls-key, read, both or neither, and only with TCP. */
function readTls(
  f: Record<string, string | boolean | undefined>,
  tcp: boolean,
): RendezvousOptions['tls'] | undefined {
  const cert = readPem(f['tls-cert'], 'tls-cert');
  const key = readPem(f['tls-key'], 'tls-key');
  if ((cert === undefined) !== (key === undefined)) throw badArgument('--tls-cert and --tls-key go together');
  if (!tcp && cert !== undefined) throw badArgument('--tls-cert needs TCP (drop --no-tcp)');
  return cert !== undefined && key !== undefined ? { cert, key } : undefined;
}

/** What --redis, --redis-password-file and --node-id say: no cluster without --redis. */
export interface ClusterFlags {
  readonly target: RedisTarget;
  readonly nodeId: string | undefined;
}

/**
 * --redis and its companions. The password comes from --redis-password-file (its first line) or
 * PUNCHLINE_REDIS_PASSWORD, never from the command line.
 */
export function readClusterFlags(
  f: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): ClusterFlags | undefined {
  const url = f.redis;
  const file = f['redis-password-file'];
  const nodeId = f['node-id'];
  if (url === undefined) {
    if (file !== undefined || nodeId !== undefined)
      throw badArgument('--redis-password-file and --node-id go with --redis');
    return undefined;
  }
  if (typeof url !== 'string' || url.length === 0) throw badArgument('--redis needs a URL');
  if (nodeId !== undefined && (typeof nodeId !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(nodeId)))
    throw badArgument('--node-id: 1 to 64 letters, digits, "_", "." or "-"');
  let password = env.PUNCHLINE_REDIS_PASSWORD;
  if (file !== undefined) {
    if (typeof file !== 'string' || file.length === 0)
      throw badArgument('--redis-password-file needs a file');
    try {
      password = readFileSync(file, 'utf8').split(/\r?\n/)[0];
    } catch (e) {
      throw badArgument(`--redis-password-file: cannot read ${file}: ${(e as Error).message}`);
    }
  }
  return { target: parseRedisUrl(url, password), nodeId };
}

/** Parse and check the flags into server options (exported for tests). */
export function rendezvousOptionsFromFlags(argv: string[]): {
  options: RendezvousOptions;
  tcp: boolean;
  logLevel: ReturnType<typeof logLevelFlag>;
  help: boolean;
  keyFile: string;
  cluster?: ClusterFlags;
} {
  const f = parseFlags(argv, FLAG_SPEC);
  const logLevel = logLevelFlag(f['log-level'], 'info');
  const keyFile = typeof f.key === 'string' && f.key.length > 0 ? f.key : defaultServerKeyPath();
  if (f.key !== undefined && typeof f.key !== 'string') throw badArgument('--key needs a file');
  if (f.help) return { options: {}, tcp: true, logLevel, help: true, keyFile };
  const ints = readInts(f);
  const tcp = f['no-tcp'] !== true;
  const tls = readTls(f, tcp);
  const port = at(ints, 'port');
  const altPort = f['alt-port'] !== undefined ? intFlag(f['alt-port'], 'alt-port', 0, 65535, 0) : undefined;
  if (altPort !== undefined && altPort !== 0 && altPort === port)
    throw badArgument(`--alt-port must differ from --port (both ${port})`);
  const options: RendezvousOptions = {
    host: typeof f.host === 'string' ? f.host : D.host,
    ...ints,
    ...(altPort !== undefined ? { altPort } : {}),
    ...(tls ? { tls } : {}),
  };
  const cluster = readClusterFlags(f, process.env);
  return { options, tcp, logLevel, help: false, keyFile, ...(cluster ? { cluster } : {}) };
}

/** The cluster component from the flags: the Redis link and the node id (the server draws one if none). */
function clusterConfig(flags: ClusterFlags, logger: Logger): ClusterConfig {
  logger.info('cluster', { redis: describeTarget(flags.target) });
  return {
    link: new IoRedisLink(flags.target),
    ...(flags.nodeId !== undefined ? { nodeId: flags.nodeId } : {}),
  };
}

export async function runRendezvous(argv: string[]): Promise<number> {
  const { options, tcp, logLevel, help, keyFile, cluster } = rendezvousOptionsFromFlags(argv);
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
    ...(cluster ? { cluster: clusterConfig(cluster, logger) } : {}),
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
