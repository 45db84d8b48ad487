import { readFile } from 'node:fs/promises';
import { intFlag, logLevelFlag, parseFlags, textFlag } from '../../common/cli/args.js';
import type { OptionSpec } from '../../common/cli/args.js';
import { badArgument } from '../../common/errors.js';
import { defaultDataDir } from '../../common/identity/identity.js';
import type { LogLevel } from '../../common/log.js';
import { Limits } from '../../common/wire/constants.js';
import { STORAGE_DEFAULTS } from '../chat/service.js';
import { MAX_FILE_MB } from '../chat/files.js';
import type { StorageLimits } from '../chat/service.js';
import { PEER_DEFAULTS } from '../peer-node.js';
import { STORE_RETRY_MS } from '../peer-link.js';
import type { PathMode } from '../peer-link.js';
import { PUNCH_DEFAULTS } from '../puncher.js';
import { MAX_SERVERS, type ResolvedServer, parseServerList, resolveServerList } from './server-flag.js';

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
                         stops the client with SERVER_KEY_CHANGED.
                         Several: A:PORT,B:PORT (at most ${MAX_SERVERS}; a name with several
                         A records is several): the first that answers is used,
                         the next when it stops (docs/cli.md, "Several servers")
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
  --max-file-mb N        refuse files offered above this size (TOO_LARGE) before storing
                         anything (default ${MAX_FILE_MB})
  --download-dir DIR     where accepted files are saved without a "dir" (default DATA-DIR/downloads)
  --store-retry-ms N     offer a message whose store failed (IO, QUOTA) again after this
                         long (default ${STORE_RETRY_MS})
  --log-level L          debug, info, warn, error, silent; logs go to stderr (default warn),
                         or in the terminal client to DATA-DIR/punchline.log (default info)
  -h, --help             show this help

Example:
  punchline chat --server rdv.example.org:7000 --name alice --json
  {"cmd":"send","peer":"bob","text":"hi"}
`;

const CHAT_FLAGS: OptionSpec = {
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
  'max-file-mb': { type: 'string' },
  'download-dir': { type: 'string' },
  'history-tail-bytes': { type: 'string' },
  'store-retry-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

type Flags = Record<string, string | boolean | undefined>;

/** `punchline chat`'s flags, checked: everything runChat needs to build the node and the UI. */
export interface ChatOptions {
  name: string;
  room: string;
  port: number;
  bind?: string;
  keepaliveMs: number;
  deadlineMs: number;
  mode: PathMode;
  /**
   * The rendezvous servers, in order (`--server A,B`, peer/cli/server-flag.ts): each with its
   * relay, its fingerprint when given, and the name its key is pinned under in servers.json.
   */
  servers: ResolvedServer[];
  /** An extra CA (PEM) for a wss:// relay. */
  ca?: string;
  dataDir: string;
  quota: StorageLimits;
  storeRetryMs: number;
  /** --max-file-mb, in bytes. */
  maxFileBytes: number;
  downloadDir?: string;
  /** The terminal client; false: the JSON-lines mode. */
  tui: boolean;
  monochrome: boolean;
  /** From --log-level, when given. */
  logLevel?: LogLevel;
}

/** Parse argv; undefined when --help was asked for (the help is then printed). */
export async function chatOptionsFromFlags(argv: string[]): Promise<ChatOptions | undefined> {
  const f = parseFlags(argv, CHAT_FLAGS);
  if (f.help) {
    process.stdout.write(CHAT_HELP);
    return undefined;
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
  const quota = quotaFlags(f);
  const storeRetryMs = intFlag(f['store-retry-ms'], 'store-retry-ms', 10, 3_600_000, STORE_RETRY_MS);
  const tui = !f.json;
  if (tui && (!process.stdin.isTTY || !process.stdout.isTTY))
    throw badArgument('the terminal client needs a terminal; use --json for scripts and pipes');
  const mode = pathModeFlags(f);
  const servers = await resolveServerList(parseServerList(f.server));
  if (typeof f.relay === 'string') {
    if (!/^wss?:\/\//.test(f.relay)) throw badArgument('--relay must be a ws:// or wss:// URL');
    if (servers.length > 1)
      throw badArgument('--relay names one relay; with several servers each uses its own');
    servers[0]!.relayUrl = f.relay;
  }
  const ca = await caFlag(f['ca-file']);
  return {
    name,
    room,
    port,
    ...(typeof f.bind === 'string' ? { bind: f.bind } : {}),
    keepaliveMs,
    deadlineMs,
    mode,
    servers,
    ...(ca !== undefined ? { ca } : {}),
    dataDir: typeof f['data-dir'] === 'string' ? f['data-dir'] : defaultDataDir(),
    quota,
    storeRetryMs,
    maxFileBytes: intFlag(f['max-file-mb'], 'max-file-mb', 1, 2 ** 28, MAX_FILE_MB) * 1024 * 1024,
    ...(typeof f['download-dir'] === 'string' ? { downloadDir: f['download-dir'] } : {}),
    tui,
    monochrome: f.monochrome === true || process.env.NO_COLOR !== undefined,
    ...(f['log-level'] !== undefined ? { logLevel: logLevelFlag(f['log-level'], 'warn') } : {}),
  };
}

function quotaFlags(f: Flags): StorageLimits {
  return {
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
}

function pathModeFlags(f: Flags): PathMode {
  if (f['relay-only'] && f['direct-only'])
    throw badArgument('--relay-only and --direct-only exclude each other');
  return f['relay-only'] ? 'relay-only' : f['direct-only'] ? 'direct-only' : 'auto';
}

async function caFlag(file: string | boolean | undefined): Promise<string | undefined> {
  if (typeof file !== 'string') return undefined;
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw badArgument(`--ca-file: cannot read ${file}: ${(e as Error).message}`);
  }
}
