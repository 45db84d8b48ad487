/** `punchline demo`: the whole story of hole punching, told on a simulated network (docs/demo.md). */
import { intFlag, parseFlags } from '../../common/cli/args.js';
import { badArgument } from '../../common/errors.js';
import type { DemoEvent } from './events.js';
import { NAT_KIND_NAMES, parseNatPair } from './nat-kinds.js';
import { Narrator } from './narrator.js';
import { DEFAULT_DELAYS, runScenario } from './scenario.js';
import type { DemoOptions } from './scenario.js';
import { checkRealArgs, runRealDemo, type RealDemoDeps } from './real.js';

/**
 * --transfer's size when given without one, KiB: with --nat cone,symmetric and seed 1 its first
 * half goes over the relay and the rest direct (test/demo/demo.test.ts).
 */
export const DEFAULT_TRANSFER_KIB = 1024;
const MAX_TRANSFER_KIB = 16 * 1024;

export const DEMO_HELP = `Usage: punchline demo [options]

Watch two peers, alice and bob, each behind a home router (a NAT), get a direct encrypted
chat going: keys, registration with a rendezvous server, introduction, hole punching probe
by probe, the path chosen, and a message with its receipt. It all runs in this process on a
simulated network, instantly; the times shown are simulated time. No root, no network needed.

Options:
  --nat A,B      alice's and bob's NAT (default cone,cone; one kind sets both), each of:
                   cone        port-restricted cone (EIM/APDF), what most home routers do
                   full-cone   full cone (EIM/EIF)
                   restricted  restricted cone (EIM/ADF)
                   symmetric   symmetric (APDM/APDF, random ports), many mobile networks
                   none        no NAT: a public address
                 e.g. --nat cone,symmetric shows a port search, symmetric,symmetric the relay
  --loss P       share of packets lost on alice's and bob's links to the internet, both
                 ways, 0 to 0.5 (default 0)
  --delay MS     one-way delay of each internet link, 0 to 2000 ms (default ${DEFAULT_DELAYS.alice} ms alice,
                 ${DEFAULT_DELAYS.bob} ms bob, ${DEFAULT_DELAYS.rendezvous} ms rendezvous)
  --no-relay     no relay on the rendezvous: see what happens when punching fails alone
  --transfer [KIB]
                 after the message, alice sends bob KIB KiB of seeded bytes (default
                 ${DEFAULT_TRANSFER_KIB}, at most ${MAX_TRANSFER_KIB}) over the bulk path file transfers use, and bob
                 checks their SHA-256; with --nat cone,symmetric it starts on the relay and
                 ends on the direct path the search finds
  --seed N       seed for everything random (default 1): the same seed tells the same story
  --quiet        print only the summary
  --json         print the events, one JSON object per line, instead of the story
  --real         the same story over real Linux NAT, as root: network namespaces, iptables
                 routers, the real rendezvous and two real chat peers; real times. Takes
                 --nat (cone and symmetric only), --loss and --quiet; not --delay (no netem)
                 nor --transfer
  -h, --help     show this help

Examples:
  punchline demo
  punchline demo --nat cone,symmetric
  punchline demo --nat symmetric,symmetric --no-relay
  punchline demo --loss 0.2 --delay 40
  punchline demo --nat cone,symmetric --transfer
  sudo npx punchline demo --real --nat cone,symmetric
`;

/** --loss: a probability, 0 to 0.5 (beyond that even registering rarely works). */
function lossFlag(v: string | boolean | undefined): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (typeof v !== 'string' || !/^(\d+(\.\d*)?|\.\d+)$/.test(v) || !(n >= 0 && n <= 0.5))
    throw badArgument(`--loss must be a share of packets from 0 to 0.5 (e.g. 0.2), got ${JSON.stringify(v)}`);
  return n;
}

/**
 * `--transfer [KIB]`: the size is optional, so a bare `--transfer` (last, or before another
 * flag) becomes `--transfer=` for the strict parser; '' then means the default.
 */
function optionalTransferSize(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--transfer') out.push(argv[i]!);
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('-')) out.push(`--transfer=${argv[++i]}`);
    else out.push('--transfer=');
  }
  return out;
}

function transferFlag(v: string | boolean | undefined): number | undefined {
  if (v === undefined) return undefined;
  return v === '' ? DEFAULT_TRANSFER_KIB : intFlag(v, 'transfer', 1, MAX_TRANSFER_KIB, DEFAULT_TRANSFER_KIB);
}

/** Parse the demo's flags; throws BAD_ARGUMENT (exit 2) on anything wrong. */
function parseDemoArgs(
  argv: string[],
): { help: true } | { help: false; real: boolean; quiet: boolean; json: boolean; options: DemoOptions } {
  const f = parseFlags(optionalTransferSize(argv), {
    nat: { type: 'string' },
    loss: { type: 'string' },
    delay: { type: 'string' },
    seed: { type: 'string' },
    quiet: { type: 'boolean' },
    json: { type: 'boolean' },
    real: { type: 'boolean' },
    'no-relay': { type: 'boolean' },
    transfer: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (f.help) return { help: true };
  if (f.nat !== undefined && typeof f.nat !== 'string')
    throw badArgument(`--nat needs a value, e.g. cone,symmetric (kinds: ${NAT_KIND_NAMES.join(', ')})`);
  if (f.quiet && f.json) throw badArgument('--quiet and --json do not go together');
  const nat = parseNatPair(f.nat ?? 'cone,cone');
  if (f.real === true)
    checkRealArgs(
      nat,
      Object.keys(f).filter((k) => f[k] !== undefined),
    );
  const loss = lossFlag(f.loss);
  const delayMs = f.delay === undefined ? undefined : intFlag(f.delay, 'delay', 0, 2000, 0);
  const seed = intFlag(f.seed, 'seed', 0, 2 ** 31 - 1, 1);
  const transferKiB = transferFlag(f.transfer);
  return {
    help: false,
    real: f.real === true,
    quiet: f.quiet === true,
    json: f.json === true,
    options: {
      nat,
      loss,
      seed,
      relay: f['no-relay'] !== true,
      ...(delayMs !== undefined ? { delayMs } : {}),
      ...(transferKiB !== undefined ? { transferKiB } : {}),
    },
  };
}

/** One JSON line per event, in the style of the chat CLI's events ({"event": ...}). */
function jsonLine(e: DemoEvent): string {
  const { type, ...rest } = e;
  return JSON.stringify({ event: type, ...rest }) + '\n';
}

export interface DemoIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** stdout, where a closed pipe (`punchline demo | head`) ends the output quietly instead of crashing. */
function stdio(): DemoIo {
  let closed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    closed = true;
  });
  return {
    out: (s) => void (closed || process.stdout.write(s)),
    err: (s) => void process.stderr.write(s),
  };
}

/** Run the demo; resolves with the exit code. Bad flags throw BAD_ARGUMENT (the dispatcher exits 2). */
export async function runDemo(
  argv: string[],
  io: DemoIo = stdio(),
  real: RealDemoDeps = {},
): Promise<number> {
  const args = parseDemoArgs(argv);
  if (args.help) {
    io.out(DEMO_HELP);
    return 0;
  }
  // One narrator tells both stories: the simulated one and the one over real Linux NAT.
  const narrator = new Narrator(args.quiet);
  const tell = (e: DemoEvent): void => {
    for (const line of narrator.lines(e)) io.out(line + '\n');
  };
  if (args.real) return runRealDemo({ nat: args.options.nat, loss: args.options.loss }, tell, io, real);
  const emit = args.json ? (e: DemoEvent): void => io.out(jsonLine(e)) : tell;
  const outcome = await runScenario(args.options, emit);
  emit({ t: outcome.endMs, type: 'summary', outcome });
  return 0;
}
