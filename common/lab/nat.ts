/**
 * The iptables rules that turn a router namespace into a NAT of a given kind. Pure: the rules are
 * data (with the reason for each), rendered for iptables-restore to apply and as commands for
 * people (docs/lab.md, failure messages).
 *
 * Interfaces inside a router namespace: `wan` (towards the upstream segment) and `lan` (the bridge
 * of its own LAN).
 */

/**
 * 'cone': MASQUERADE keeps the source port when it can, so one internal endpoint gets one public
 * endpoint whatever the destination (endpoint-independent mapping, RFC 4787 §4.1); conntrack lets
 * in only replies from the exact ip:port sent to (address-and-port-dependent filtering): a
 * "port-restricted cone".
 * 'symmetric': MASQUERADE --random-fully picks a fresh random port for every new destination
 * (address-and-port-dependent mapping).
 */
export type NatKind = 'cone' | 'symmetric';

export interface NatOptions {
  kind: NatKind;
  /** Drop UDP from LAN to WAN (TCP still passes): a network that only lets TCP out. */
  udpBlocked?: boolean;
  /** Drop this fraction (0..1) of packets crossing the router, each direction separately. */
  loss?: number;
  /**
   * The home-router rule (default true): the router drops unsolicited traffic from the WAN to
   * itself and to the LAN. Without it, a punch probe that arrives before our own outbound packet
   * leaves a conntrack entry for (peer -> router:port); MASQUERADE must then pick a different
   * port for our outbound mapping, and punching fails.
   */
  dropUnsolicited?: boolean;
}

export interface IptablesRule {
  table: 'nat' | 'filter';
  /** Arguments after `iptables -t <table>`, e.g. ['-A', 'FORWARD', ...]. */
  args: string[];
  why: string;
}

export function natRules(opts: NatOptions): IptablesRule[] {
  const loss = opts.loss ?? 0;
  if (!(loss >= 0 && loss <= 1)) throw new Error(`lab: loss must be within 0..1, got ${loss}`);
  return [
    masquerade(opts.kind),
    ...lossRules(loss),
    // Copies of the shared rules: a caller may extend one rule's arguments for one router.
    ...[
      ...(opts.udpBlocked ? [UDP_BLOCKED] : []),
      ...((opts.dropUnsolicited ?? true) ? HOME_ROUTER : []),
    ].map((r) => ({ ...r, args: [...r.args] })),
  ];
}

function masquerade(kind: NatKind): IptablesRule {
  return {
    table: 'nat',
    args: [
      '-A',
      'POSTROUTING',
      '-o',
      'wan',
      '-j',
      'MASQUERADE',
      ...(kind === 'symmetric' ? ['--random-fully'] : []),
    ],
    why:
      kind === 'symmetric'
        ? 'symmetric NAT: a new random public port for every new destination'
        : 'cone NAT: keep the source port, one mapping for all destinations',
  };
}

/**
 * First in FORWARD, so replies of established flows are lost too. Matching on -i/-o wan keeps
 * LAN-internal traffic lossless; each crossing packet matches exactly one of the two.
 */
function lossRules(loss: number): IptablesRule[] {
  if (loss <= 0) return [];
  return ['-i', '-o'].map((dir) => ({
    table: 'filter',
    args: [
      '-A',
      'FORWARD',
      dir,
      'wan',
      '-m',
      'statistic',
      '--mode',
      'random',
      '--probability',
      String(loss),
      '-j',
      'DROP',
    ],
    why: `random loss ${loss} ${dir === '-i' ? 'inbound' : 'outbound'} (the kernel has no netem here)`,
  }));
}

const UDP_BLOCKED: IptablesRule = {
  table: 'filter',
  args: ['-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-p', 'udp', '-j', 'DROP'],
  why: 'UDP blocked towards the WAN; TCP still passes',
};

const ESTABLISHED = ['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'];

/** NatOptions.dropUnsolicited: what a home router does with traffic nobody inside asked for. */
const HOME_ROUTER: readonly IptablesRule[] = [
  {
    table: 'filter',
    args: ['-A', 'INPUT', '-i', 'wan', ...ESTABLISHED],
    why: 'home router: replies to the router itself are let in',
  },
  {
    table: 'filter',
    args: ['-A', 'INPUT', '-i', 'wan', '-j', 'DROP'],
    why: 'home router: unsolicited WAN traffic to the router is dropped before conntrack confirms an entry for it, so an early punch probe cannot steal the port of our outbound mapping',
  },
  {
    table: 'filter',
    args: ['-A', 'FORWARD', '-i', 'wan', '-o', 'lan', ...ESTABLISHED],
    why: 'home router: replies to LAN flows are forwarded',
  },
  {
    table: 'filter',
    args: ['-A', 'FORWARD', '-i', 'wan', '-o', 'lan', '-j', 'DROP'],
    why: 'home router: nothing unsolicited is routed into the LAN',
  },
];

/** The rules as iptables-restore input (applied atomically, replacing both tables). */
export function toRestoreInput(rules: readonly IptablesRule[]): string {
  const chains: Record<IptablesRule['table'], string[]> = {
    nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
    filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  };
  const out: string[] = [];
  for (const table of ['nat', 'filter'] as const) {
    out.push(`*${table}`, ...chains[table].map((c) => `:${c} ACCEPT [0:0]`));
    for (const r of rules) if (r.table === table) out.push(r.args.join(' '));
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}

/** The rules as shell commands, one a line, for people. */
export function toCommands(rules: readonly IptablesRule[]): string[] {
  return rules.map((r) => `iptables -t ${r.table} ${r.args.join(' ')}`);
}
