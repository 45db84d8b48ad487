/** `punchline nat-check`: what kind of NAT am I behind, and what does that mean for a chat? (docs/nat-check.md) */
import { SystemClock } from '../../common/clock.js';
import { intFlag, parseFlags } from '../../common/cli/args.js';
import { badArgument } from '../../common/errors.js';
import { nodeNetwork } from '../../common/net/udp-node.js';
import { wsStreamNetwork } from '../../common/net/ws-node.js';
import { parseServer, resolveHost } from '../cli/server-flag.js';
import { NAT_CHECK_TIMEOUT_MS } from './stun-client.js';
import { formatJson, formatReport } from './format.js';
import { runNatCheck } from './probe.js';
import type { NatCheckComponents, NatCheckOptions } from './probe.js';

export const NAT_CHECK_HELP = `Usage: punchline nat-check --server HOST:PORT [options]

Find out what kind of NAT (home router, carrier NAT, firewall) is between you and the
internet, and what that means for punchline: whether a chat with someone behind each
kind of NAT can go direct (hole punching) or will go through the server's relay.

It asks the rendezvous for your public address from one UDP socket, on its main port and
on its alternate port (the rendezvous's --alt-port, by default PORT+1), in the manner of
RFC 5780: the same public address for both means endpoint-independent mapping (easy to
punch); a new one per destination means a dependent, "symmetric" mapping. It asks the
server to answer from the other port, to see whether your NAT lets in a port you never
sent to (filtering). It also tells whether UDP gets out at all, and whether the relay
(TCP, ws://HOST:PORT/) is reachable. It takes 3 to 10 seconds.

Options:
  --server HOST:PORT   the rendezvous (required), as for chat; or its ws:// or wss:// URL
  --alt-port N         the server's alternate port, if it does not say (default PORT+1)
  --port N             local UDP port (default any)
  --bind ADDR          local address (default all)
  --timeout-ms N       wait this long for each test, retrying meanwhile (default ${NAT_CHECK_TIMEOUT_MS})
  --relay URL          the relay to check, if not the server's own ws://HOST:PORT/
  --no-relay-check     do not check the relay
  --json               print the report as one JSON object
  -h, --help           show this help

Exit status: 0 when the check ran (even if UDP is blocked: that is a finding), 1 when it
could not run (the local port is taken, or the server answered on neither UDP nor its
relay), 2 for bad options.

Example:
  punchline nat-check --server rdv.example.org:7000
`;

interface NatCheckArgs {
  options: NatCheckOptions;
  /** The server's host as given (resolved by runNatCheckCommand). */
  host: string;
  json: boolean;
}

/** Parse the flags; throws BAD_ARGUMENT (exit 2) on anything wrong. */
export function parseNatCheckArgs(argv: string[]): { help: true } | ({ help: false } & NatCheckArgs) {
  const f = parseFlags(argv, {
    server: { type: 'string' },
    'alt-port': { type: 'string' },
    port: { type: 'string' },
    bind: { type: 'string' },
    'timeout-ms': { type: 'string' },
    relay: { type: 'string' },
    'no-relay-check': { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (f.help) return { help: true };
  if (typeof f.server !== 'string') throw badArgument('--server HOST:PORT is required');
  const target = parseServer(f.server);
  if (typeof f.relay === 'string' && !/^wss?:\/\//.test(f.relay))
    throw badArgument('--relay must be a ws:// or wss:// URL');
  if (f.relay !== undefined && f['no-relay-check'])
    throw badArgument('--relay and --no-relay-check exclude each other');
  if (f.bind !== undefined && (typeof f.bind !== 'string' || f.bind === ''))
    throw badArgument('--bind needs an address');
  const altPort = f['alt-port'] === undefined ? undefined : intFlag(f['alt-port'], 'alt-port', 1, 65535, 0);
  if (altPort === target.port)
    throw badArgument(`--alt-port must differ from the server's port (${target.port})`);
  const options: NatCheckOptions = {
    server: { address: target.host, port: target.port },
    timeoutMs: intFlag(f['timeout-ms'], 'timeout-ms', 100, 60_000, NAT_CHECK_TIMEOUT_MS),
    relayUrl: f['no-relay-check'] ? false : typeof f.relay === 'string' ? f.relay : target.relayUrl,
    ...(altPort !== undefined ? { altPort } : {}),
    ...(f.port !== undefined ? { port: intFlag(f.port, 'port', 0, 65535, 0) } : {}),
    ...(typeof f.bind === 'string' ? { bind: f.bind } : {}),
  };
  return { help: false, options, host: target.host, json: f.json === true };
}

interface NatCheckIo {
  out: (text: string) => void;
}

/** Run the command; resolves with the exit code. Bad flags throw BAD_ARGUMENT (the dispatcher exits 2). */
export async function runNatCheckCommand(
  argv: string[],
  io: NatCheckIo = { out: (s) => void process.stdout.write(s) },
  components?: NatCheckComponents,
): Promise<number> {
  const args = parseNatCheckArgs(argv);
  if (args.help) {
    io.out(NAT_CHECK_HELP);
    return 0;
  }
  const options = {
    ...args.options,
    server: { ...args.options.server, address: await resolveHost(args.host) },
  };
  // A socket that cannot be bound throws IO (the dispatcher exits 1); findings, even "UDP
  // blocked", are a report (exit 0); a server that answers on neither transport is exit 1.
  const report = await runNatCheck(
    options,
    components ?? { network: nodeNetwork, streams: wsStreamNetwork, clock: new SystemClock() },
  );
  io.out(args.json ? formatJson(report) + '\n' : formatReport(report).join('\n') + '\n');
  return report.serverReachable === 'no' ? 1 : 0;
}
