/**
 * Building a lab: an "internet" segment (a bridge in its own namespace, 203.0.113.0/24,
 * TEST-NET-3), NAT routers with a WAN address on some upstream segment and a LAN of their own
 * (a bridge in the router namespace, 10.x.y.0/24), and hosts on any segment. A router's upstream
 * may be another router's LAN: double NAT.
 *
 *   host a ──┐ lan (10.1.0.0/24)               ┌── server 203.0.113.10
 *            natA ── wan 203.0.113.101 ── [inet bridge] ── wan 203.0.113.102 ── natB ── host b
 *
 * Nothing is ever linked to the host's namespace: every veth is created with both ends already
 * inside lab namespaces (`ip -n A link add .. peer .. netns B`), and the internet namespace has no
 * route anywhere else.
 */
import { untrackPrefix, trackPrefix } from './cleanup.js';
import { run, tool, type RunOptions, type RunResult } from './command.js';
import { natRules, toCommands, toRestoreInput, type IptablesRule, type NatKind } from './nat.js';
import {
  addNamespace,
  deleteNamespacesWithPrefix,
  listNamespaces,
  newRunPrefix,
  nsRun,
  nsSysctl,
  sweepStaleNamespaces,
} from './netns.js';
import { LabProcess, type SpawnOptions } from './process.js';

export const INTERNET_SUBNET = '203.0.113.0/24';

/** A layer-2 segment: a bridge in some namespace, with a /24 and maybe a gateway on it. */
export class Segment {
  readonly name: string;
  /** Namespace holding the bridge. */
  readonly ns: string;
  readonly bridge: string;
  /** e.g. '10.1.0.0/24'. */
  readonly subnet: string;
  /** Address of the router on this segment (hosts' default route), if any. */
  readonly gateway: string | undefined;
  private readonly base: string;
  private readonly used = new Set<number>();
  private nextAuto: number;
  private ports = 0;

  constructor(
    name: string,
    ns: string,
    bridge: string,
    subnet: string,
    gateway: string | undefined,
    firstAuto: number,
  ) {
    const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet);
    if (!m) throw new Error(`lab: subnets are a.b.c.0/24, got ${subnet}`);
    this.name = name;
    this.ns = ns;
    this.bridge = bridge;
    this.subnet = subnet;
    this.gateway = gateway;
    this.base = m[1]!;
    this.nextAuto = firstAuto;
    if (gateway) this.claim(gateway);
  }

  /** Reserve an address: the given one (must be in the subnet and free) or the next free one. */
  claim(ip?: string): string {
    if (ip === undefined) {
      while (this.used.has(this.nextAuto)) this.nextAuto++;
      if (this.nextAuto > 254) throw new Error(`lab: segment ${this.name} is full`);
      ip = `${this.base}.${this.nextAuto}`;
    }
    const last = Number(ip.slice(this.base.length + 1));
    if (!ip.startsWith(this.base + '.') || !Number.isInteger(last) || last < 1 || last > 254)
      throw new Error(`lab: ${ip} is not a host address in ${this.subnet}`);
    if (this.used.has(last)) throw new Error(`lab: ${ip} is already taken on ${this.name}`);
    this.used.add(last);
    return ip;
  }

  /** Name for the next bridge port in this segment's namespace. */
  nextPort(): string {
    return `p${++this.ports}`;
  }
}

/** Anything that has a namespace: a host, a router, or the internet. */
export interface LabNode {
  readonly name: string;
  readonly ns: string;
  readonly lab: Lab;
}

export class Host implements LabNode {
  constructor(
    readonly lab: Lab,
    readonly name: string,
    readonly ns: string,
    /** Address on its segment (eth0). */
    readonly ip: string,
    readonly segment: Segment,
  ) {}

  exec(cmd: string, args: readonly string[] = [], opts?: RunOptions): Promise<RunResult> {
    return this.lab.exec(this, cmd, args, opts);
  }

  spawn(cmd: string, args: readonly string[] = [], opts?: SpawnOptions): LabProcess {
    return this.lab.spawn(this, cmd, args, opts);
  }

  /** Resolve once something listens on proto/port here (polls `ss`, bounded by timeoutMs). */
  waitForPort(proto: 'udp' | 'tcp', port: number, timeoutMs?: number): Promise<void> {
    return this.lab.waitForPort(this, proto, port, timeoutMs);
  }

  /** Run a node script here with the current node binary (process.execPath). */
  node(script: string, args: readonly string[] = [], opts?: SpawnOptions): LabProcess {
    return this.lab.spawn(this, process.execPath, [script, ...args], {
      label: `${this.name}:${basename(script)}`,
      ...opts,
    });
  }
}

export interface RouterOptions {
  nat: NatKind;
  /** Segment the WAN side plugs into; default the internet. Another router's `lan` = double NAT. */
  upstream?: Segment;
  /** WAN address; default the next free one on the upstream segment. */
  wanIp?: string;
  /** LAN subnet, 'a.b.c.0/24'; default 10.<n>.0.0/24 for the n-th router. The router is .1. */
  lan?: string;
  udpBlocked?: boolean;
  /** Random loss 0..1 per direction on traffic crossing the router. */
  loss?: number;
  /** The home-router rule (default true); see NatOptions.dropUnsolicited. */
  dropUnsolicited?: boolean;
  /** UDP conntrack timeouts in this router = NAT mapping lifetime (kernel defaults 30 s / 120 s). */
  mappingTimeoutSec?: number;
}

export interface ConntrackTuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

export interface ConntrackEntry {
  proto: string;
  /** As the packet that created it looked (e.g. LAN host -> peer). */
  orig: ConntrackTuple;
  /** As replies must look: reply.dport is the public (mapped) port for outbound flows. */
  reply: ConntrackTuple;
  line: string;
}

export class Router implements LabNode {
  constructor(
    readonly lab: Lab,
    readonly name: string,
    readonly ns: string,
    readonly kind: NatKind,
    /** Its WAN address (public if upstream is the internet). */
    readonly wanIp: string,
    readonly upstream: Segment,
    /** Its LAN: attach hosts (or inner routers) here. */
    readonly lan: Segment,
    /** The iptables rules applied. */
    readonly rules: readonly IptablesRule[],
  ) {}

  /** Drop all NAT mappings (`conntrack -F`): with 'symmetric' the next packet gets a new port. */
  conntrackFlush(): Promise<void> {
    return this.lab.conntrackFlush(this);
  }

  /** Current conntrack entries (mappings), parsed from `conntrack -L`. */
  async conntrack(proto: 'udp' | 'tcp' = 'udp'): Promise<ConntrackEntry[]> {
    const { stdout } = await this.lab.exec(this, tool('conntrack'), ['-L', '-p', proto]);
    return parseConntrack(stdout);
  }

  /** The iptables rules as commands, for messages and docs. */
  describeRules(): string[] {
    return toCommands(this.rules);
  }
}

export interface LabOptions {
  /** Copy every spawned process's output to stderr. */
  echo?: boolean;
}

/**
 * One lab run: a namespace prefix, the internet, and whatever is added to it. Call close()
 * (idempotent) in afterEach/afterAll; it also runs on exit/SIGINT/SIGTERM.
 */
export class Lab {
  readonly prefix: string;
  readonly internet: Segment;
  readonly hosts = new Map<string, Host>();
  readonly routers = new Map<string, Router>();
  private readonly processes = new Set<LabProcess>();
  private readonly names = new Set<string>();
  private readonly echo: boolean;
  private torn = false;

  private constructor(prefix: string, opts: LabOptions) {
    this.prefix = prefix;
    this.echo = opts.echo ?? process.env.PUNCHLINE_LAB_ECHO === '1';
    this.internet = new Segment('internet', prefix + 'inet', 'br0', INTERNET_SUBNET, undefined, 101);
  }

  /** Sweep stale namespaces of dead runs, then create the internet namespace and bridge. */
  static async create(opts: LabOptions = {}): Promise<Lab> {
    sweepStaleNamespaces();
    const lab = new Lab(newRunPrefix(), opts);
    trackPrefix(lab.prefix);
    try {
      lab.names.add('inet');
      await lab.newNamespace(lab.internet.ns);
      await lab.ip(lab.internet.ns, 'link', 'add', 'br0', 'type', 'bridge');
      await lab.ip(lab.internet.ns, 'link', 'set', 'br0', 'up');
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  /** A NAT router: WAN on opts.upstream (default the internet), LAN bridge with .1 on it. */
  async addRouter(name: string, opts: RouterOptions): Promise<Router> {
    const ns = this.reserve(name);
    const upstream = opts.upstream ?? this.internet;
    const lanSubnet = opts.lan ?? `10.${this.routers.size + 1}.0.0/24`;
    const gateway = lanSubnet.replace(/\.0\/24$/, '.1');
    const lan = new Segment(`${name}.lan`, ns, 'lan', lanSubnet, gateway, 2);
    const wanIp = upstream.claim(opts.wanIp);
    const rules = natRules({
      kind: opts.nat,
      udpBlocked: opts.udpBlocked,
      loss: opts.loss,
      dropUnsolicited: opts.dropUnsolicited,
    });

    await this.newNamespace(ns);
    const sysctls: Record<string, string | number> = { 'net.ipv4.ip_forward': 1 };
    if (opts.mappingTimeoutSec !== undefined) {
      sysctls['net.netfilter.nf_conntrack_udp_timeout'] = opts.mappingTimeoutSec;
      sysctls['net.netfilter.nf_conntrack_udp_timeout_stream'] = opts.mappingTimeoutSec;
    }
    await nsSysctl(ns, sysctls);
    await this.ip(ns, 'link', 'add', 'lan', 'type', 'bridge');
    await this.ip(ns, 'addr', 'add', `${gateway}/24`, 'dev', 'lan');
    await this.ip(ns, 'link', 'set', 'lan', 'up');
    await this.plug(ns, 'wan', upstream, wanIp);
    await nsRun(ns, tool('iptables-restore'), [], { input: toRestoreInput(rules) });

    const router = new Router(this, name, ns, opts.nat, wanIp, upstream, lan, rules);
    this.routers.set(name, router);
    return router;
  }

  /** A host on a segment (or a router's LAN); default route via the segment's gateway. */
  async addHost(name: string, opts: { on: Segment | Router; ip?: string }): Promise<Host> {
    const ns = this.reserve(name);
    const segment = opts.on instanceof Router ? opts.on.lan : opts.on;
    const ip = segment.claim(opts.ip);
    await this.newNamespace(ns);
    await this.plug(ns, 'eth0', segment, ip);
    const host = new Host(this, name, ns, ip, segment);
    this.hosts.set(name, host);
    return host;
  }

  /** Run a command in a node's namespace to completion (bounded; default 10 s). */
  exec(
    node: LabNode | string,
    cmd: string,
    args: readonly string[] = [],
    opts?: RunOptions,
  ): Promise<RunResult> {
    return nsRun(nsOf(node), cmd, args, opts);
  }

  /** Start a long-running process in a node's namespace; stopped by close(). */
  spawn(
    node: LabNode | string,
    cmd: string,
    args: readonly string[] = [],
    opts: SpawnOptions = {},
  ): LabProcess {
    if (this.torn) throw new Error('lab: already torn down');
    const p = new LabProcess(nsOf(node), cmd, args, { echo: this.echo, ...opts });
    this.processes.add(p);
    void p.exited.then(() => this.processes.delete(p));
    return p;
  }

  /** Resolve once something listens on proto/port in node's namespace (polls `ss` every 50 ms). */
  async waitForPort(
    node: LabNode | string,
    proto: 'udp' | 'tcp',
    port: number,
    timeoutMs = 5_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const args = ['-Hln', proto === 'udp' ? '-u' : '-t', `sport = :${port}`];
    for (let i = 0; i < 10_000; i++) {
      const { stdout } = await this.exec(node, tool('ss'), args, { timeoutMs: 2_000 });
      if (stdout.trim() !== '') return;
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`lab: nothing listens on ${proto}/${port} in ${nsOf(node)} after ${timeoutMs} ms`);
  }

  /** Drop all NAT mappings of a router (`conntrack -F`). */
  conntrackFlush(router: Router | string): Promise<void> {
    return this.exec(router, tool('conntrack'), ['-F']).then(() => undefined);
  }

  /** The namespaces of this lab that exist right now. */
  namespaces(): string[] {
    return listNamespaces().filter((n) => n.startsWith(this.prefix));
  }

  /** Stop every process (SIGTERM, SIGKILL after graceMs), delete every namespace. Idempotent. */
  async close(graceMs = 500): Promise<void> {
    this.torn = true;
    await Promise.all([...this.processes].map((p) => p.close(graceMs)));
    deleteNamespacesWithPrefix(this.prefix);
    untrackPrefix(this.prefix);
  }

  private reserve(name: string): string {
    if (!/^[A-Za-z0-9_-]{1,24}$/.test(name)) throw new Error(`lab: bad node name ${JSON.stringify(name)}`);
    if (this.names.has(name)) throw new Error(`lab: node name ${name} is taken`);
    if (this.torn) throw new Error('lab: already torn down');
    this.names.add(name);
    return this.prefix + name;
  }

  private async newNamespace(ns: string): Promise<void> {
    await addNamespace(ns);
    // No IPv6 chatter (router solicitations, DAD); bridged frames bypass iptables (br_netfilter
    // would otherwise apply the router's FORWARD rules to LAN-internal traffic).
    await nsSysctl(
      ns,
      {
        'net.ipv6.conf.all.disable_ipv6': 1,
        'net.ipv6.conf.default.disable_ipv6': 1,
        'net.bridge.bridge-nf-call-iptables': 0,
      },
      { ignoreMissing: true },
    );
  }

  /** A veth from `ns` (named ifname, with ip/24) to a port of segment's bridge; default route. */
  private async plug(ns: string, ifname: string, segment: Segment, ip: string): Promise<void> {
    const port = segment.nextPort();
    await this.ip(ns, 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', port, 'netns', segment.ns);
    await this.ip(segment.ns, 'link', 'set', port, 'master', segment.bridge, 'up');
    await this.ip(ns, 'addr', 'add', `${ip}/24`, 'dev', ifname);
    await this.ip(ns, 'link', 'set', ifname, 'up');
    if (segment.gateway) await this.ip(ns, 'route', 'add', 'default', 'via', segment.gateway);
  }

  private ip(ns: string, ...args: string[]): Promise<RunResult> {
    return run(tool('ip'), ['-n', ns, ...args]);
  }
}

function nsOf(node: LabNode | string): string {
  return typeof node === 'string' ? node : node.ns;
}

function basename(path: string): string {
  return path.split('/').pop() ?? path;
}

/** Parse `conntrack -L` lines: `udp 17 29 src=.. dst=.. sport=.. dport=.. [UNREPLIED] src=.. ...`. */
export function parseConntrack(out: string): ConntrackEntry[] {
  const entries: ConntrackEntry[] = [];
  for (const line of out.split('\n')) {
    const proto = line.trim().split(/\s+/)[0];
    const kv = [...line.matchAll(/\b(src|dst|sport|dport)=(\S+)/g)].map((m) => [m[1]!, m[2]!] as const);
    if (!proto || kv.length < 8) continue;
    const tuple = (at: number): ConntrackTuple => {
      const get = (k: string): string => kv.slice(at, at + 4).find(([key]) => key === k)?.[1] ?? '';
      return { src: get('src'), dst: get('dst'), sport: Number(get('sport')), dport: Number(get('dport')) };
    };
    entries.push({ proto, orig: tuple(0), reply: tuple(4), line: line.trim() });
  }
  return entries;
}
