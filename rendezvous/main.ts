import { SystemClock } from '../common/clock.js';
import { PunchlineError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { endpointKey } from '../common/net/types.js';
import { nodeNetwork } from '../common/net/udp-node.js';
import { intFlag, logLevelFlag, parseFlags } from '../common/cli/args.js';
import { RENDEZVOUS_DEFAULTS, RendezvousServer } from './server.js';

export const RENDEZVOUS_HELP = `Usage: punchline rendezvous [options]

Run the rendezvous server: peers register here, learn their public UDP address as
their NAT shows it, see who is in their room, and get introduced so both punch at once.
It also answers standard STUN Binding requests (RFC 8489) on the same port.

Options:
  --host ADDR          address to listen on (default ${RENDEZVOUS_DEFAULTS.host})
  --port N             UDP port (default ${RENDEZVOUS_DEFAULTS.port})
  --keepalive-ms N     keepalive interval told to peers (default ${RENDEZVOUS_DEFAULTS.keepaliveMs})
  --expiry-ms N        drop a peer not heard from for this long (default ${RENDEZVOUS_DEFAULTS.expiryMs})
  --max-room N         members per room (default ${RENDEZVOUS_DEFAULTS.maxRoomMembers})
  --log-level L        debug, info, warn, error, silent (default info); logs are JSON lines on stderr
  -h, --help           show this help

Prints "punchline rendezvous listening on udp HOST:PORT" on stdout when ready.
`;

export async function runRendezvous(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    host: { type: 'string' },
    port: { type: 'string' },
    'keepalive-ms': { type: 'string' },
    'expiry-ms': { type: 'string' },
    'max-room': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (f.help) {
    process.stdout.write(RENDEZVOUS_HELP);
    return 0;
  }
  const keepaliveMs = intFlag(
    f['keepalive-ms'],
    'keepalive-ms',
    1000,
    3_600_000,
    RENDEZVOUS_DEFAULTS.keepaliveMs,
  );
  const server = new RendezvousServer(
    {
      host: typeof f.host === 'string' ? f.host : RENDEZVOUS_DEFAULTS.host,
      port: intFlag(f.port, 'port', 0, 65535, RENDEZVOUS_DEFAULTS.port),
      keepaliveMs,
      expiryMs: intFlag(
        f['expiry-ms'],
        'expiry-ms',
        keepaliveMs,
        86_400_000,
        Math.max(RENDEZVOUS_DEFAULTS.expiryMs, keepaliveMs * 3 + 5000),
      ),
      maxRoomMembers: intFlag(f['max-room'], 'max-room', 2, 100_000, RENDEZVOUS_DEFAULTS.maxRoomMembers),
    },
    {
      network: nodeNetwork,
      clock: new SystemClock(),
      logger: createLogger(logLevelFlag(f['log-level'], 'info'), { svc: 'rendezvous' }),
    },
  );
  let bound;
  try {
    bound = await server.start();
  } catch (e) {
    throw new PunchlineError(
      'IO',
      `cannot listen on udp ${String(f.host ?? RENDEZVOUS_DEFAULTS.host)}:${String(f.port ?? RENDEZVOUS_DEFAULTS.port)}: ${(e as Error).message}`,
    );
  }
  process.stdout.write(`punchline rendezvous listening on udp ${endpointKey(bound)}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  server.close();
  return 0;
}
