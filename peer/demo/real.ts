/**
 * `punchline demo --real`: the demo's story over real Linux NAT (root only). The lab
 * (common/lab, the same one the lab tests use) builds network namespaces: an internet bridge
 * (203.0.113.0/24) with the real `punchline rendezvous` on it, and two iptables MASQUERADE
 * routers with alice and bob behind them, each running the real `punchline chat --json
 * --log-level debug`. The story is told from their JSON events (stdout) and 'punch step' debug
 * logs (stderr), with real timestamps (ms since the demo started). Everything is torn down at the
 * end, also on Ctrl-C (common/lab/cleanup.ts).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  Lab,
  labUnavailableReason,
  parseJsonObject,
  type Host,
  type JsonObject,
  type LabProcess,
  type Router,
} from '../../common/lab/index.js';
import { natLabel } from '../../common/nat-behaviour.js';
import { predictDirect } from '../../common/path/predict-direct.js';
import { badArgument } from '../../common/errors.js';
import { topologyDiagram } from './diagram.js';
import type { Who } from './events.js';
import { RELAY_EXPLAINED, whyDirect, whyNoDirect, type SideFacts } from './explain.js';
import { ms, percent, step, wrap } from './format.js';
import type { NatKind, NatKindInfo } from './nat-kinds.js';

export const REAL_UNAVAILABLE =
  '--real needs root and network namespaces (ip netns); run `sudo npx punchline demo --real`, or drop --real ' +
  'for the simulated story';

/** The NAT kinds the lab has kernel routers for. */
export const REAL_NAT_KINDS: readonly NatKind[] = ['cone', 'symmetric'];

export interface RealDemoOptions {
  nat: [NatKindInfo, NatKindInfo];
  /** Random loss per direction in each router (the routers' loss option). */
  loss: number;
  /** Print only the summary. */
  quiet: boolean;
}

export interface RealDemoDeps {
  /** Why the lab cannot run here, or undefined when it can (default: the lab's own probe). */
  unavailable?: () => string | undefined;
  /** Path of the punchline CLI (default: dist/peer/bin/punchline.js next to this module). */
  cli?: string;
  /** Bound of each step's wait, ms (default 20 s). */
  stepTimeoutMs?: number;
}

export interface RealDemoIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Reject what --real cannot do; throws BAD_ARGUMENT (exit 2). */
export function checkRealArgs(nat: [NatKindInfo, NatKindInfo], given: readonly string[]): void {
  for (const n of nat)
    if (!REAL_NAT_KINDS.includes(n.kind))
      throw badArgument(
        `--real: no kernel router for NAT kind "${n.kind}"; --real supports ${REAL_NAT_KINDS.join(' and ')} ` +
          '(the simulated demo has them all)',
      );
  if (given.includes('delay'))
    throw badArgument(
      '--real does not support --delay: the kernel has no netem here (use --loss, or drop --real)',
    );
  for (const flag of ['seed', 'no-relay', 'json'])
    if (given.includes(flag)) throw badArgument(`--real does not support --${flag} (drop --real for it)`);
}

/** The CLI to run inside the namespaces: dist/peer/bin/punchline.js. */
function defaultCli(): string {
  const compiled = fileURLToPath(new URL('../bin/punchline.js', import.meta.url));
  if (existsSync(compiled)) return compiled;
  // Running from the sources (vitest): the build next to them.
  return fileURLToPath(new URL('../../dist/peer/bin/punchline.js', import.meta.url));
}

const SERVER_IP = '203.0.113.10';
const PORT = 7000;
const PROBES_SHOWN = 6;
const PROBES_IN_SHOWN = 3;
const WHO: readonly Who[] = ['alice', 'bob'];
const other = (w: Who): Who => (w === 'alice' ? 'bob' : 'alice');

class StepTimeout extends Error {}

interface PeerState {
  host: Host;
  router: Router;
  proc?: LabProcess;
  id?: string;
  udp?: string;
  tcp?: string;
  seesOther: boolean;
  introAt?: number;
  probes: number;
  probesIn: number;
  answers: number;
  chosen?: { remote: string; kind: string; ms: number };
  failed?: string;
  connected?: { path: string; remote: string; ms: number };
  path?: { path: string; remote: string };
  /** A port of the other side's router the rendezvous never saw (symmetric NAT). */
  newPortOfOther?: string;
  delivered: boolean;
  /** When the receipt came (ms since the start). */
  deliveredAt?: number;
  received: boolean;
  stats?: JsonObject;
}

/** Run the story; resolves with the exit code (0 done, 1 a step failed or the lab is unavailable). */
export async function runRealDemo(
  opts: RealDemoOptions,
  io: RealDemoIo,
  deps: RealDemoDeps = {},
): Promise<number> {
  const reason = (deps.unavailable ?? labUnavailableReason)();
  if (reason !== undefined) {
    io.err(`punchline demo: ${REAL_UNAVAILABLE} (${reason})\n`);
    return 1;
  }
  const cli = deps.cli ?? defaultCli();
  const stepMs = deps.stepTimeoutMs ?? 20_000;
  const t0 = performance.now();
  const now = (): number => Math.round((performance.now() - t0) * 10) / 10;
  const say = (sentence: string, detail?: string): void => {
    if (!opts.quiet) for (const l of step(now(), sentence, detail)) io.out(l + '\n');
  };
  const print = (text: string): void => {
    if (!opts.quiet) io.out(text + '\n');
  };

  const [natA, natB] = opts.nat;
  const labels = [natLabel(natA.type), natLabel(natB.type)] as const;
  const predicted = predictDirect(natA.type, natB.type);
  print(
    wrap(
      `punchline demo --real: alice behind a ${natA.name} (${labels[0]}), bob behind a ${natB.name} ` +
        `(${labels[1]}), in Linux network namespaces with iptables NAT: the real rendezvous and two real ` +
        'chat peers. Times are real: milliseconds since the demo started.',
      '',
    ).join('\n') + '\n',
  );
  print(
    wrap(
      `Theory (predictDirect, docs/nat-traversal.md): ${labels[0]} with ${labels[1]} ` +
        (predicted ? 'can open a direct path.' : 'cannot open a direct path; the relay will carry the chat.'),
      '',
    ).join('\n') + '\n',
  );

  let lab: Lab | undefined;
  let dataDir: string | undefined;
  const state = new Map<Who, PeerState>();
  const seen: string[] = [];
  let stage = 'building the lab';
  let sendAt = 0;

  const waitFor = async (what: string, cond: () => boolean): Promise<void> => {
    stage = what;
    const deadline = performance.now() + stepMs;
    while (!cond()) {
      if (performance.now() > deadline) throw new StepTimeout(`no ${what} within ${stepMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  try {
    lab = await Lab.create();
    const server = await lab.addHost('server', { on: lab.internet, ip: SERVER_IP });
    const routers = [
      await lab.addRouter('natA', { nat: natA.kind as 'cone' | 'symmetric', loss: opts.loss }),
      await lab.addRouter('natB', { nat: natB.kind as 'cone' | 'symmetric', loss: opts.loss }),
    ] as const;
    const hosts = [
      await lab.addHost('alice', { on: routers[0] }),
      await lab.addHost('bob', { on: routers[1] }),
    ] as const;
    WHO.forEach((w, i) =>
      state.set(w, {
        host: hosts[i]!,
        router: routers[i]!,
        seesOther: false,
        probes: 0,
        probesIn: 0,
        answers: 0,
        delivered: false,
        received: false,
      }),
    );
    const st = (w: Who): PeerState => state.get(w)!;
    const link = opts.loss > 0 ? `veth, ${percent(opts.loss)} loss each way` : 'veth, no added delay';
    const side = (w: Who, i: 0 | 1) => ({
      peer: w,
      nat: opts.nat[i].kind,
      natLabel: labels[i],
      local: st(w).host.ip,
      lan: st(w).router.lan.subnet,
      routerPublic: st(w).router.wanIp,
      delayMs: 0,
      loss: opts.loss,
      link,
    });
    say(
      `Built the lab: ${lab.namespaces().length} network namespaces, the routers' NAT in iptables ` +
        '(MASQUERADE; conntrack keeps the mappings).',
      `namespaces ${lab.prefix}*`,
    );
    if (!opts.quiet) {
      print('');
      for (const l of topologyDiagram({
        rendezvous: `${SERVER_IP}:${PORT}`,
        rendezvousDelayMs: 0,
        rendezvousLink: 'veth',
        alice: side('alice', 0),
        bob: side('bob', 1),
      }))
        print(l);
      print('');
    }

    // Who an address belongs to, for the narration.
    const whose = (addr: string): string => {
      const ip = addr.split(':')[0];
      for (const w of WHO) {
        const s = st(w);
        if (addr === s.udp) return `${w}'s public address`;
        if (ip === s.host.ip) return `${w}'s private address`;
        if (ip === s.router.wanIp) return `${w}'s router, a port the rendezvous never saw`;
      }
      return 'an unknown address';
    };

    const onEvent = (w: Who, line: string): void => {
      const e = parseJsonObject(line);
      if (!e || typeof e.event !== 'string') return;
      seen.push(`${w} ${line}`);
      const s = st(w);
      const o = other(w);
      switch (e.event) {
        case 'registered':
          s.id = String(e.id);
          if (e.transport === 'udp') {
            s.udp = String(e.public);
            say(
              `${w} registers with the rendezvous over UDP. The rendezvous sees ${w}'s packets come from ` +
                `${s.udp}: the mapping ${w}'s router made.`,
              `${w} id ${s.id}, udp ${s.host.ip} -> public ${s.udp}`,
            );
          } else {
            s.tcp = String(e.public);
            say(`${w}'s relay stream (a WebSocket over TCP) to the rendezvous is up.`, `tcp public ${s.tcp}`);
          }
          break;
        case 'presence':
          if (!s.seesOther && JSON.stringify(e.peers).includes(`"${o}"`)) {
            s.seesOther = true;
            say(`The rendezvous tells ${w} that ${o} is online in the same room.`);
          }
          break;
        case 'connected':
          s.connected = { path: String(e.path), remote: String(e.remote), ms: Number(e.ms) };
          say(
            `${w}'s encrypted session with ${o} is open (Noise XX), ` +
              (e.path === 'direct'
                ? 'directly, peer to peer.'
                : 'over the relay: the rendezvous forwards the encrypted packets, which it cannot read.'),
            `path ${String(e.path)}, remote ${String(e.remote)}, ${String(e.ms)} ms after the introduction`,
          );
          break;
        case 'path':
          s.path = { path: String(e.path), remote: String(e.remote) };
          say(
            e.path === 'direct'
              ? `${w}'s session moves from the relay to the direct path.`
              : `${w}'s session moves to the ${String(e.path)} path.`,
            `path ${String(e.path)}, remote ${String(e.remote)}`,
          );
          break;
        case 'message':
          s.received = true;
          say(
            `${w} receives the message and decrypts it, then sends back a receipt.`,
            `from ${String(e.from)}: "${String(e.text)}"`,
          );
          break;
        case 'delivered':
          s.delivered = true;
          s.deliveredAt = now();
          say(
            `${w} gets ${o}'s receipt: the message arrived.`,
            `receipt for ${String(e.id)}, ${ms(s.deliveredAt - sendAt)} after sending`,
          );
          break;
        case 'stats':
          s.stats = e;
          say(
            `${w}'s session stats: the round trip, measured by the session itself.`,
            `path ${String(e.path)}, rtt ${String(e.rtt_ms ?? '?')} ms (smoothed), min ${String(e.min_rtt_ms ?? '?')} ms`,
          );
          break;
        case 'error':
          say(`${w} reports an error.`, `${String(e.code)}: ${String(e.message)}`);
          break;
      }
    };

    const onLog = (w: Who, line: string): void => {
      const e = parseJsonObject(line);
      if (!e) return;
      const s = st(w);
      const o = other(w);
      if (e.msg === 'punching') {
        const again = s.introAt !== undefined;
        s.introAt = now();
        const lan = Array.isArray(e.lan) ? e.lan.map(String).join(', ') : '';
        say(
          again
            ? `${w} gets a new introduction to ${o} (a retry of the direct path) and punches again.`
            : `${w} gets the introduction to ${o} and starts punching: probes (small signed packets) to each ` +
                `address ${o} might be reached at. Each probe also opens ${w}'s router for replies from there.`,
          `${o}: public ${String(e.public)}${lan ? `, private ${lan}` : ''}`,
        );
        return;
      }
      if (e.msg !== 'punch step') return;
      seen.push(`${w} ${line}`);
      switch (e.type) {
        case 'probe':
          s.probes++;
          if (s.probes <= PROBES_SHOWN)
            say(
              `${w} sends probe #${String(e.seq)}.`,
              `-> ${String(e.to)} (${String(e.kind)}: ${whose(String(e.to))})`,
            );
          else if (s.probes === PROBES_SHOWN + 1)
            say(`${w} keeps probing (every probe is counted in the summary).`);
          break;
        case 'probe-in': {
          s.probesIn++;
          const from = String(e.from);
          const ip = from.split(':')[0];
          if (ip === st(o).router.wanIp && from !== st(o).udp) s.newPortOfOther = from;
          if (s.probesIn <= PROBES_IN_SHOWN)
            say(
              e.known
                ? `A probe from ${o} gets through ${w}'s router: ${w} has sent to that address, so the router ` +
                    `takes it for a reply. ${w} answers it.`
                : `A probe from ${o} arrives from an address ${w} was not told about (peer-reflexive); ${w} answers it.`,
              `probe from ${from} (${whose(from)})`,
            );
          break;
        }
        case 'answer':
          s.answers++;
          if (s.answers <= 2)
            say(
              `${w} gets ${o}'s answer: packets get through both routers, both ways.`,
              `answer from ${String(e.from)} (${String(e.kind)}), probe round trip ${String(e.rttMs)} ms`,
            );
          break;
        case 'chosen':
          s.chosen = { remote: String(e.remote), kind: String(e.kind), ms: Number(e.ms) };
          say(
            `${w} picks the direct path, peer to peer, with no server in between.`,
            `direct to ${s.chosen.remote} (${whose(s.chosen.remote)}), ${s.chosen.ms} ms after the introduction`,
          );
          break;
        case 'failed':
          s.failed = String(e.reason);
          say(
            `${w} gives up punching: no direct path answered. The relay keeps carrying the chat.`,
            `${s.failed}; ${s.probes} probes sent, ${s.probesIn} probes from ${o} got in`,
          );
          break;
      }
    };

    stage = 'starting the rendezvous';
    const rdv = server.node(cli, ['rendezvous', '--host', SERVER_IP, '--port', String(PORT)]);
    await rdv.waitForLine(/listening on udp/, stepMs);
    await rdv.waitForLine(/listening on tcp/, stepMs);
    say(
      `The rendezvous is up on the lab internet: \`punchline rendezvous\`, UDP and a WebSocket relay on port ${PORT}.`,
      `${SERVER_IP}:${PORT}`,
    );

    dataDir = mkdtempSync(path.join(os.tmpdir(), 'punchline-demo-real-'));
    say(
      'alice and bob each start `punchline chat` with a fresh data directory: each creates a key pair, ' +
        'its identity in the room.',
    );
    for (const w of WHO) {
      const s = st(w);
      const p = s.host.node(cli, [
        'chat',
        '--server',
        `${SERVER_IP}:${PORT}`,
        '--name',
        w,
        '--json',
        '--log-level',
        'debug',
        '--data-dir',
        path.join(dataDir, w),
      ]);
      p.out.onLine((l) => onEvent(w, l));
      p.err.onLine((l) => onLog(w, l));
      s.proc = p;
    }
    const a = st('alice');
    const b = st('bob');
    await waitFor('registration (udp and tcp) of both peers', () => WHO.every((w) => st(w).udp && st(w).tcp));
    await waitFor('presence: alice seeing bob', () => a.seesOther);

    say('alice asks the rendezvous for an introduction to bob.', '{"cmd":"connect","peer":"bob"}');
    a.proc!.sendJson({ cmd: 'connect', peer: 'bob' });
    await waitFor(
      'connected event on both sides',
      () => a.connected !== undefined && b.connected !== undefined,
    );
    const settled = (s: PeerState): boolean =>
      s.connected?.path === 'direct' || s.path?.path === 'direct' || s.failed !== undefined;
    await waitFor('direct path or end of punching on both sides', () => settled(a) && settled(b));

    const text = 'hello bob, this is alice';
    say(`alice sends bob a message. It is encrypted before it leaves alice's namespace.`, `"${text}"`);
    sendAt = now();
    a.proc!.sendJson({ cmd: 'send', peer: 'bob', text });
    await waitFor('delivery receipt for the message', () => a.delivered);
    const receiptMs = Math.round(((a.deliveredAt ?? now()) - sendAt) * 10) / 10;
    a.proc!.sendJson({ cmd: 'stats', peer: 'bob' });
    await waitFor('stats from alice', () => a.stats !== undefined);

    // Summary
    const finalPath = (s: PeerState): string => s.path?.path ?? s.connected?.path ?? 'none';
    const direct = finalPath(a) === 'direct';
    const remote = a.path?.remote ?? a.connected?.remote ?? '?';
    const row = (name: string, value: string): string[] => wrap(value, `  ${name.padEnd(16)}`);
    const lines = ['', 'Summary (real time, Linux NAT in network namespaces)'];
    lines.push(
      ...row(
        'path',
        direct
          ? `direct, peer to peer: alice sends straight to bob at ${remote} (${whose(remote)})`
          : 'relayed through the rendezvous: no direct path opened',
      ),
    );
    if (direct) {
      const t = WHO.filter((w) => st(w).chosen).map((w) => `${w} ${st(w).chosen!.ms} ms`);
      lines.push(
        ...row(
          'time to direct',
          `${t.join(', ') || '?'} after the introduction; encrypted session open after ` +
            `${a.connected!.ms} ms (alice, over ${a.connected!.path})`,
        ),
      );
    } else {
      lines.push(...row('session open', `${a.connected!.ms} ms after the introduction (over the relay)`));
    }
    lines.push(
      ...row(
        'probes sent',
        `alice ${a.probes}, bob ${b.probes} (got through the routers: alice ${a.probesIn}, bob ${b.probesIn})`,
      ),
    );
    const rtt = a.stats!.rtt_ms;
    lines.push(
      ...row(
        'round trip',
        `${rtt === undefined ? '?' : ms(Number(rtt))} (session rtt, smoothed); message to receipt ` +
          `${ms(receiptMs)}${direct ? '' : ' (over the relay)'}`,
      ),
    );
    lines.push(
      ...row(
        'theory',
        `${labels[0]} with ${labels[1]}: ` +
          (predicted && direct
            ? 'a direct path predicted, and it opened'
            : predicted
              ? `a direct path predicted, but none opened here${opts.loss ? ` (${percent(opts.loss)} loss)` : ''}`
              : direct
                ? 'no direct path predicted, yet one opened (please report this: the theory is wrong)'
                : 'no direct path predicted, and none opened'),
      ),
    );
    lines.push(...row('ended at', `+${now().toFixed(1)} ms`));
    const facts = (w: Who, i: 0 | 1): SideFacts => ({
      who: w,
      kind: opts.nat[i].kind,
      ...(st(other(w)).newPortOfOther ? { newPort: st(other(w)).newPortOfOther } : {}),
    });
    const [fa, fb] = [facts('alice', 0), facts('bob', 1)];
    const meaning = direct
      ? `${whyDirect(fa, fb)} After the introduction the rendezvous carried nothing: the chat goes straight ` +
        'between alice and bob, encrypted.'
      : predicted
        ? `These NATs allow a direct path, but the probes did not get through in time. ${RELAY_EXPLAINED}`
        : `No direct path is possible here. ${whyNoDirect(fa, fb)} So the relay carried the chat: the ` +
          'rendezvous forwarded the encrypted packets, which it cannot read.';
    lines.push('', ...wrap(meaning, 'What it means: ', ''));
    for (const l of lines) io.out(l + '\n');
    return 0;
  } catch (err) {
    const why = err instanceof StepTimeout ? err.message : `failed while ${stage}: ${(err as Error).message}`;
    io.err(`punchline demo --real: ${why}\n`);
    if (seen.length > 0) io.err(`last things seen:\n  ${seen.slice(-12).join('\n  ')}\n`);
    return 1;
  } finally {
    await lab?.teardown();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}
