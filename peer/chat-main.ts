import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SystemClock } from '../common/clock.js';
import { intFlag, logLevelFlag, parseFlags, textFlag } from '../common/cli/args.js';
import { PunchlineError, badArgument } from '../common/errors.js';
import { defaultDataDir, fingerprint, idText, loadOrCreateIdentity } from '../common/identity/identity.js';
import { createLogger } from '../common/log.js';
import { logFile } from '../common/log-file.js';
import { nodeNetwork } from '../common/net/udp-node.js';
import { wsStreamNetwork } from '../common/net/ws-node.js';
import type { PathMode } from './peer-link.js';
import { Limits } from '../common/wire/constants.js';
import { PeerChatService, STORAGE_DEFAULTS } from './chat/service.js';
import { STORE_RETRY_MS } from './peer-link.js';
import { runJsonLines } from './cli/json-lines.js';
import { parseServer, resolveHost } from './cli/server-flag.js';
import { runTui } from './tui/index.js';
import { PEER_DEFAULTS, PeerNode } from './peer-node.js';
import { KNOWN_SERVERS_FILE, KnownServers } from './known-servers.js';
import { PUNCH_DEFAULTS } from './puncher.js';

export const CHAT_HELP = `Usage: punchline chat --server HOST:PORT --name NICK [options]

Join a room on a rendezvous server and chat peer to peer. Peers behind NATs are
reached directly by UDP hole punching.

Options:
  --server HOST:PORT[#FINGERPRINT]
                         rendezvous server (required): UDP on PORT, the relay at
                         ws://HOST:PORT/. Or a ws:// or wss:// URL (TLS relay).
                         #FINGERPRINT pins the server's key (the operator's
                         "key fingerprint" line); without it the first key seen is
                         pinned in DATA-DIR/servers.json, and a different key later
                         stops the client with SERVER_KEY_CHANGED
  --name NICK            your name in the room, 1-${Limits.MAX_NAME_BYTES} bytes (required)
  --room ROOM            room to join (default ${PEER_DEFAULTS.room})
  --port N               local UDP port (default: any free port)
  --bind ADDR            local address to bind (default: all); also the only LAN address offered
  --data-dir DIR         where your keys live (default $XDG_DATA_HOME/punchline or
                         ~/.local/share/punchline)
  --json                 headless mode: commands on stdin, events on stdout, one JSON
                         object per line (see docs/cli.md). Without it: the terminal
                         client (docs/tui.md)
  --monochrome           terminal client without colours (also when NO_COLOR is set)
  --keepalive-ms N       keepalive to the server and direct peers (default ${PEER_DEFAULTS.keepaliveMs})
  --punch-timeout-ms N   give up hole punching after this long (default ${PUNCH_DEFAULTS.deadlineMs})
  --relay-only           never punch: every session goes through the relay
  --direct-only          never relay: direct UDP paths only
  --relay URL            the relay's ws:// or wss:// URL, if not the server's own
  --ca-file FILE         extra CA certificate (PEM) to trust for a wss:// relay
  --peer-quota-bytes N   text bytes stored per sending peer per UTC day; more is refused
                         (QUOTA) and waits unacknowledged (default ${STORAGE_DEFAULTS.peerBytesPerDay})
  --history-max-bytes N  rotate DATA-DIR/history.jsonl at this size, keeping one older file
                         (default ${STORAGE_DEFAULTS.historyMaxBytes})
  --history-tail-bytes N read only this much of the end of history.jsonl at start
                         (default ${STORAGE_DEFAULTS.historyTailBytes})
  --store-retry-ms N     offer a message whose store failed (IO, QUOTA) again after this
                         long (default ${STORE_RETRY_MS})
  --log-level L          debug, info, warn, error, silent; logs go to stderr (default warn),
                         or in the terminal client to DATA-DIR/punchline.log (default info)
  -h, --help             show this help

Example:
  punchline chat --server rdv.example.org:7000 --name alice --json
  {"cmd":"send","peer":"bob","text":"hi"}
`;

export async function runChat(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    server: { type: 'string' },
    name: { type: 'string' },
    room: { type: 'string' },
    port: { type: 'string' },
    bind: { type: 'string' },
    'data-dir': { type: 'string' },
    json: { type: 'boolean' },
    monochrome: { type: 'boolean' },
    'keepalive-ms': { type: 'string' },
    'punch-timeout-ms': { type: 'string' },
    'relay-only': { type: 'boolean' },
    'direct-only': { type: 'boolean' },
    relay: { type: 'string' },
    'ca-file': { type: 'string' },
    'log-level': { type: 'string' },
    'peer-quota-bytes': { type: 'string' },
    'history-max-bytes': { type: 'string' },
    'history-tail-bytes': { type: 'string' },
    'store-retry-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (f.help) {
    process.stdout.write(CHAT_HELP);
    return 0;
  }
  if (typeof f.server !== 'string') throw badArgument('--server HOST:PORT is required');
  const name = textFlag(f.name, 'name', Limits.MAX_NAME_BYTES);
  const room = f.room === undefined ? PEER_DEFAULTS.room : textFlag(f.room, 'room', Limits.MAX_ROOM_BYTES);
  const port = intFlag(f.port, 'port', 0, 65535, 0);
  const keepaliveMs = intFlag(f['keepalive-ms'], 'keepalive-ms', 1000, 3_600_000, PEER_DEFAULTS.keepaliveMs);
  const deadlineMs = intFlag(
    f['punch-timeout-ms'],
    'punch-timeout-ms',
    100,
    600_000,
    PUNCH_DEFAULTS.deadlineMs,
  );
  const quota = {
    peerBytesPerDay: intFlag(
      f['peer-quota-bytes'],
      'peer-quota-bytes',
      1,
      2 ** 40,
      STORAGE_DEFAULTS.peerBytesPerDay,
    ),
    historyMaxBytes: intFlag(
      f['history-max-bytes'],
      'history-max-bytes',
      1024 * 1024,
      2 ** 40,
      STORAGE_DEFAULTS.historyMaxBytes,
    ),
    historyTailBytes: intFlag(
      f['history-tail-bytes'],
      'history-tail-bytes',
      64 * 1024,
      1024 * 1024 * 1024,
      STORAGE_DEFAULTS.historyTailBytes,
    ),
  };
  const storeRetryMs = intFlag(f['store-retry-ms'], 'store-retry-ms', 10, 3_600_000, STORE_RETRY_MS);
  const tui = !f.json;
  if (tui && (!process.stdin.isTTY || !process.stdout.isTTY))
    throw badArgument('the terminal client needs a terminal; use --json for scripts and pipes');
  if (f['relay-only'] && f['direct-only'])
    throw badArgument('--relay-only and --direct-only exclude each other');
  const mode: PathMode = f['relay-only'] ? 'relay-only' : f['direct-only'] ? 'direct-only' : 'auto';
  const target = parseServer(f.server);
  const server = { address: await resolveHost(target.host), port: target.port };
  const relayUrl = typeof f.relay === 'string' ? f.relay : target.relayUrl;
  if (!/^wss?:\/\//.test(relayUrl)) throw badArgument('--relay must be a ws:// or wss:// URL');
  let ca: string | undefined;
  if (typeof f['ca-file'] === 'string') {
    try {
      ca = await readFile(f['ca-file'], 'utf8');
    } catch (e) {
      throw badArgument(`--ca-file: cannot read ${f['ca-file']}: ${(e as Error).message}`);
    }
  }
  const dataDir = typeof f['data-dir'] === 'string' ? f['data-dir'] : defaultDataDir();
  // In the terminal client, logs would tear the screen: they go to a file in the data directory,
  // one asynchronous append per turn of the event loop (common/log-file.ts).
  const log = tui ? logFile(path.join(dataDir, 'punchline.log')) : undefined;
  const logger = log
    ? createLogger(logLevelFlag(f['log-level'], 'info'), { svc: 'peer', name }, (line) => log.write(line))
    : createLogger(logLevelFlag(f['log-level'], 'warn'), { svc: 'peer', name });
  const { identity, created } = await loadOrCreateIdentity(dataDir);
  // The server's key: pinned by --server ...#FP, else by servers.json, else on first use.
  const known = new KnownServers(path.join(dataDir, KNOWN_SERVERS_FILE));
  const serverName = `${target.host}:${target.port}`;
  const serverFingerprint = target.fingerprint ?? known.get(serverName);
  logger.info(created ? 'created identity' : 'loaded identity', {
    id: idText(identity.id),
    fingerprint: fingerprint(identity.id),
    dataDir,
  });

  const node = new PeerNode(
    {
      server,
      name,
      room,
      port,
      ...(typeof f.bind === 'string' ? { bind: f.bind } : {}),
      keepaliveMs,
      punch: { deadlineMs },
      mode,
      relayUrl,
      ...(serverFingerprint ? { serverFingerprint } : {}),
    },
    {
      network: nodeNetwork,
      // An extra CA (a self-signed relay) applies to every relay connection.
      streams: ca
        ? { ...wsStreamNetwork, connectStream: (url, o) => wsStreamNetwork.connectStream(url, { ...o, ca }) }
        : wsStreamNetwork,
      clock: new SystemClock(),
      identity,
      logger,
    },
  );
  node.on('server-key', ({ fingerprint: fp }) => {
    logger.info('pinned the server key on first use', { server: serverName, fingerprint: fp });
    try {
      known.pin(serverName, fp);
    } catch (e) {
      logger.warn('cannot write servers.json: the server key will be pinned again next time', {
        error: (e as Error).message,
      });
    }
  });
  // Before the node starts: a damaged peers.json stops the client before it meets anyone.
  const chat = new PeerChatService(node, { dataDir, quota, storeRetryMs });
  try {
    await node.start();
  } catch (e) {
    await chat.close();
    throw new PunchlineError('IO', `cannot bind UDP port ${port}: ${(e as Error).message}`);
  }
  try {
    if (tui) {
      await runTui(chat, { monochrome: f.monochrome === true || process.env.NO_COLOR !== undefined });
    } else {
      const stop = new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await Promise.race([runJsonLines(node, process.stdin, process.stdout, chat), stop]);
    }
  } finally {
    await chat.close();
    await node.close();
    await log?.flush();
  }
  return 0;
}
