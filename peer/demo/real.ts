/**
 * `punchline demo --real`: the demo's story over real Linux NAT (root only), in the lab that
 * real-lab.ts builds. The peers' JSON events and 'punch step' debug logs become demo events
 * (real-watch.ts), told by the same narrator as the simulated demo, with real timestamps (ms
 * since the demo started). Everything is torn down at the end, also on Ctrl-C
 * (common/lab/cleanup.ts).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Lab, labUnavailableReason } from '../../common/lab/index.js';
import { natLabel } from '../../common/nat-behaviour.js';
import { predictDirect } from '../../common/path/predict-direct.js';
import { badArgument } from '../../common/errors.js';
import type { DemoEvent } from './events.js';
import { MESSAGE_TEXT, PEERS } from './events.js';
import type { NatKind, NatKindInfo } from './nat-kinds.js';
import { SERVER, buildLab, labTopology, startChat, startRendezvous, type RealWorld } from './real-lab.js';
import { RealWatch } from './real-watch.js';

const REAL_UNAVAILABLE =
  '--real needs root and network namespaces (ip netns); run `sudo npx punchline demo --real`, or drop --real ' +
  'for the simulated story';

/** The NAT kinds the lab has kernel routers for. */
const REAL_NAT_KINDS: readonly NatKind[] = ['cone', 'symmetric'];

export interface RealDemoOptions {
  nat: [NatKindInfo, NatKindInfo];
  /** Random loss per direction in each router (the routers' loss option). */
  loss: number;
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
  /** Why the demo could not run or where it stopped. */
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
  if (given.includes('transfer'))
    throw badArgument('--transfer is not supported with --real: it is told on the simulated network only');
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

/** A step's bounded wait ran out. */
class StepTimeout extends Error {}

/**
 * Run the story, telling it as demo events; resolves with the exit code (0 done, 1 a step
 * failed or the lab is unavailable).
 */
export async function runRealDemo(
  opts: RealDemoOptions,
  tell: (e: DemoEvent) => void,
  io: RealDemoIo,
  deps: RealDemoDeps = {},
): Promise<number> {
  const reason = (deps.unavailable ?? labUnavailableReason)();
  if (reason !== undefined) {
    io.err(`punchline demo: ${REAL_UNAVAILABLE} (${reason})\n`);
    return 1;
  }
  const run = new RealRun(opts, tell, deps);
  try {
    await run.tellStory();
    return 0;
  } catch (err) {
    const why =
      err instanceof StepTimeout ? err.message : `failed while ${run.stage}: ${(err as Error).message}`;
    io.err(`punchline demo --real: ${why}\n`);
    const seen = run.seen();
    if (seen.length > 0) io.err(`last things seen:\n  ${seen.join('\n  ')}\n`);
    return 1;
  } finally {
    await run.close();
  }
}

/** One --real run: the lab, the processes in it, and the steps of the story in order. */
class RealRun {
  /** What the run is doing, for the report when something fails. */
  stage = 'building the lab';
  private readonly cli: string;
  private readonly stepMs: number;
  private readonly t0 = performance.now();
  private readonly labels: readonly [string, string];
  private readonly predicted: boolean;
  private lab: Lab | undefined;
  private dataDir: string | undefined;
  private watch: RealWatch | undefined;
  private closed = false;

  constructor(
    private readonly opts: RealDemoOptions,
    private readonly tell: (e: DemoEvent) => void,
    deps: RealDemoDeps,
  ) {
    this.cli = deps.cli ?? defaultCli();
    this.stepMs = deps.stepTimeoutMs ?? 20_000;
    const [a, b] = opts.nat;
    this.labels = [natLabel(a.type), natLabel(b.type)];
    this.predicted = predictDirect(a.type, b.type);
  }

  /** Milliseconds since the demo started, to a tenth. */
  private readonly now = (): number => Math.round((performance.now() - this.t0) * 10) / 10;

  seen(): string[] {
    return this.watch?.seen ?? [];
  }

  async tellStory(): Promise<void> {
    const { nat, loss } = this.opts;
    this.tell({
      t: this.now(),
      type: 'setup',
      nat: [nat[0].kind, nat[1].kind],
      labels: [...this.labels],
      predictedDirect: this.predicted,
      loss,
      real: true,
    });
    this.lab = await Lab.create();
    const world = await buildLab(nat, loss, this.lab);
    this.tell({
      t: this.now(),
      type: 'lab',
      namespaces: this.lab.namespaces().length,
      prefix: this.lab.prefix,
    });
    this.tell({ t: this.now(), type: 'topology', topology: labTopology(world, nat, this.labels, loss) });
    const watch = await this.startProcesses(world);
    await this.meet(watch);
    await this.sendMessage(watch);
    this.tell({ t: this.now(), type: 'summary', outcome: watch.outcome(this.predicted) });
  }

  /** The rendezvous, then both chat peers, each watched. */
  private async startProcesses(world: RealWorld): Promise<RealWatch> {
    this.stage = 'starting the rendezvous';
    await startRendezvous(world, this.cli, this.stepMs);
    this.tell({ t: this.now(), type: 'rendezvous-up', endpoint: SERVER });
    this.dataDir = mkdtempSync(path.join(os.tmpdir(), 'punchline-demo-real-'));
    this.tell({ t: this.now(), type: 'chat-started' });
    const ips = { alice: world.sides.alice.host.ip, bob: world.sides.bob.host.ip };
    const watch = (this.watch = new RealWatch(ips, this.now, this.tell));
    for (const w of PEERS) {
      const p = startChat(world, w, this.cli, this.dataDir);
      p.out.onLine((l) => watch.onEvent(w, l));
      p.err.onLine((l) => watch.onLog(w, l));
      watch.peers[w].proc = p;
    }
    return watch;
  }

  /** Both register, alice sees bob, asks for the introduction; both connect and punch. */
  private async meet(watch: RealWatch): Promise<void> {
    const [a, b] = [watch.peers.alice, watch.peers.bob];
    await this.waitFor('registration (udp and tcp) of both peers', () => watch.allRegistered());
    await this.waitFor('presence: alice seeing bob', () => a.seesOther);
    this.tell({ t: this.now(), type: 'connect', peer: 'alice', target: 'bob' });
    a.proc!.sendJson({ cmd: 'connect', peer: 'bob' });
    await this.waitFor(
      'connected event on both sides',
      () => a.connected !== undefined && b.connected !== undefined,
    );
    await this.waitFor(
      'direct path or end of punching on both sides',
      () => watch.settled('alice') && watch.settled('bob'),
    );
  }

  /** alice's message, its receipt, and alice's session stats. */
  private async sendMessage(watch: RealWatch): Promise<void> {
    const a = watch.peers.alice;
    this.tell({ t: this.now(), type: 'sent', peer: 'alice', to: 'bob', text: MESSAGE_TEXT });
    watch.sentAt = this.now();
    a.proc!.sendJson({ cmd: 'send', peer: 'bob', text: MESSAGE_TEXT });
    await this.waitFor('delivery receipt for the message', () => a.delivered);
    a.proc!.sendJson({ cmd: 'stats', peer: 'bob' });
    await this.waitFor('stats from alice', () => a.stats !== undefined);
  }

  /** Wait, a bounded while, for a step of the story. */
  private async waitFor(what: string, cond: () => boolean): Promise<void> {
    this.stage = what;
    const deadline = performance.now() + this.stepMs;
    while (!cond()) {
      if (performance.now() > deadline) throw new StepTimeout(`no ${what} within ${this.stepMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Tear the lab down and remove the data directories (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.lab?.close();
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
