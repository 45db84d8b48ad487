/**
 * `punchline demo`: the story on the simulated network (peer/demo). Every run is in virtual
 * time, so each takes well under a second of real time.
 */
import { describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { DEMO_HELP, runDemo } from '../../peer/demo/main.js';

async function demo(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runDemo(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

/** The text with line wraps undone, for matching sentences that may wrap anywhere. */
const flat = (s: string): string => s.replace(/\s+/g, ' ');

/** `--json`'s lines as objects. */
async function jsonEvents(...argv: string[]): Promise<Record<string, unknown>[]> {
  const { out } = await demo(...argv, '--json');
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The steps, in this order, in `text`. */
function inOrder(text: string, steps: [string, RegExp][]): void {
  let at = 0;
  for (const [name, re] of steps) {
    const m = re.exec(text.slice(at));
    expect(m, `${name} (${re}) after "${text.slice(at, at + 60)}"`).not.toBeNull();
    at += m!.index + m![0].length;
  }
}

describe('punchline demo on the simulated network', () => {
  it('cone,cone: tells every step in order, with the diagram and a summary', async () => {
    const { code, out } = await demo();
    expect(code).toBe(0);
    expect(out).toContain('simulated time');
    const steps: [string, RegExp][] = [
      ['theory up front', /Theory \(predictDirect.*EIM\/APDF with EIM\/APDF can open a direct path/],
      ['diagram', /alice 10\.1\.0\.\d+:\d+ bob 10\.2\.0\.\d+:\d+ \| home network 10\.1\.0\.0\/24/],
      ['keys', /\[\+ 0\.0 ms\] alice and bob each create a key pair/],
      ['NAT mapping', /alice's router maps 10\.1\.0\.\d+:\d+ -> 203\.0\.113\.20:\d+/],
      ['registered', /alice registered: private 10\.1\.0\.\d+:\d+, public 203\.0\.113\.20:\d+/],
      ['registered', /bob registered: private 10\.2\.0\.\d+:\d+, public 203\.0\.113\.30:\d+/],
      ['introduction', /alice asks the rendezvous for an introduction to bob/],
      ['probes', /starts punching: a probe/],
      ['probe seq', /#0 -> 203\.0\.113\.\d+:\d+ \(public\)/],
      ['probe through', /A probe from \w+ gets through \w+'s router/],
      // The handshake races on the punched addresses: it opens as the first probe answer comes.
      ['encrypted session', /encrypted handshake \(Noise XX\)/],
      ['first answer', /gets \w+'s answer/],
      ['path chosen', /picks this path: direct/],
      ['message', /alice sends bob a message\. It is encrypted/],
      ['received', /bob receives it and decrypts it/],
      ['receipt', /alice gets bob's receipt: the message arrived\. Round trip: \d+(\.\d)? ms/],
      ['summary', /Summary \(simulated time\)/],
      ['summary path', /path direct, peer to peer/],
      ['summary time', /time to direct alice \d+ ms, bob \d+ ms after the introduction/],
      ['summary probes', /probes sent alice \d+, bob \d+/],
      ['summary rtt', /round trip \d+(\.\d)? ms: encrypted message out, receipt back/],
      ['summary theory', /theory EIM\/APDF with EIM\/APDF: a direct path predicted, and it opened/],
      ['meaning', /What it means: /],
    ];
    const text = flat(out);
    let at = 0;
    for (const [name, re] of steps) {
      const m = re.exec(text.slice(at));
      expect(m, `${name} (${re}) after "${text.slice(at, at + 60)}"`).not.toBeNull();
      at += m!.index + m![0].length;
    }
    const lines = out.split('\n');
    // Every step line carries a timestamp in simulated milliseconds.
    expect(lines.filter((l) => /^\[\+ +\d+\.\d ms\] /.test(l)).length).toBeGreaterThan(10);
  });

  it('the diagram shows the private, public and rendezvous addresses the story uses', async () => {
    const { out } = await demo('--json');
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const topo = events.find((e) => e.event === 'topology')!.topology as {
      alice: { local: string };
      bob: { local: string };
    };
    const reg = (who: string): string =>
      events.find((e) => e.event === 'registered' && e.peer === who)!.public as string;
    const text = (await demo()).out;
    const diagram = text.slice(text.indexOf('The network'), text.indexOf('What happens'));
    for (const s of [
      topo.alice.local,
      topo.bob.local,
      'home network 10.1.0.0/24',
      'home network 10.2.0.0/24',
      'public 203.0.113.20',
      'public 203.0.113.30',
      'rendezvous 203.0.113.10:7000',
      '[NAT]  cone (EIM/APDF)',
    ])
      expect(diagram).toContain(s);
    // The public addresses the rendezvous reports are the routers' in the diagram.
    expect(reg('alice')).toMatch(/^203\.0\.113\.20:\d+$/);
    expect(reg('bob')).toMatch(/^203\.0\.113\.30:\d+$/);
  });

  it('the same seed tells the same story; another seed changes the ports', async () => {
    const a = await demo('--seed', '3', '--loss', '0.2');
    const b = await demo('--seed', '3', '--loss', '0.2');
    expect(a.out).toBe(b.out);
    const c = await demo('--seed', '4', '--loss', '0.2');
    expect(c.out).not.toBe(a.out);
  });

  it('symmetric,symmetric without a relay: ends with a clear "no direct path" explanation, in bounded time', async () => {
    const started = Date.now();
    const r = await demo('--nat', 'symmetric,symmetric', '--no-relay');
    const { code } = r;
    const out = flat(r.out);
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(out).toContain('APDM/APDF with APDM/APDF cannot open a direct path');
    expect(out).toMatch(/router makes a new mapping for a new destination/);
    expect(out).toMatch(/gives up punching: none of the probes got an answer/);
    expect(r.out).toMatch(/^ {2}path +none: no direct path \(PUNCH_FAILED\)/m);
    expect(out).toMatch(/no direct path predicted, and none opened/);
    expect(out).toMatch(
      /What it means: No direct path is possible here\. Both routers give every new destination/,
    );
    expect(out).toMatch(/This is what a relay is for/);
  });

  it('cone,symmetric: a port search finds the direct path while the relay carries the first messages', async () => {
    const r = await demo('--nat', 'cone,symmetric');
    const text = flat(r.out);
    const steps: [string, RegExp][] = [
      // Both measured their routers before alice asked: the first introduction starts the search.
      [
        'search starts',
        /alice searches: it sprays small probes at random ports of bob's public address.*256 doors among 64,512 ports, half the time a hit comes within 174 probes/,
      ],
      ['budget', /port search \(probe-ports\): at most 1,500 PORT_PROBEs, 500 a second/],
      [
        'sockets',
        /bob opens 256 extra sockets and sends one small probe from each to alice's public address/,
      ],
      [
        'misses',
        /bob's router drops alice's probe: no mapping uses port \d+: nobody behind the router opened it/,
      ],
      ['relay', /The relay takes over/],
      ['receipt over the relay', /alice gets bob's receipt: the message arrived/],
      ['bob hit', /One of alice's probes lands on one of bob's open doors/],
      [
        'alice hit',
        /A probe from bob arrives from port \d+: one of the \d+ probes alice has sprayed so far went to exactly that port/,
      ],
      ['hit figures', /hit: 203\.0\.113\.30:\d+, after \d+ PORT_PROBEs in \d+(\.\d)? ms/],
      ['let in', /alice's router lets that probe in: alice had just sent a probe to that very port/],
      ['bob moves', /bob's session moves off the relay onto it, without losing a message/],
      ['alice moves', /alice's session moves off the relay onto it, without losing a message/],
      ['summary path', /path direct, peer to peer/],
      ['summary search', /port search 256 sockets opened, \d+ port probes sent; a hit after \d+(\.\d)? ms/],
      ['theory', /a direct path predicted, and it opened/],
      [
        'meaning',
        /they searched: bob opened up to 256 sockets.*The relay carried the session at first, while they tried/,
      ],
    ];
    let at = 0;
    for (const [name, re] of steps) {
      const m = re.exec(text.slice(at));
      expect(m, `${name} (${re}) after "${text.slice(at, at + 60)}"`).not.toBeNull();
      at += m!.index + m![0].length;
    }
    // Nothing lost on the move: the one message was delivered once, over the relay.
    expect(text.match(/bob receives it and decrypts it/g)).toHaveLength(1);
  });

  it('cone,symmetric --json: the search events, one side opening sockets and the other probing ports', async () => {
    const { out } = await demo('--nat', 'cone,symmetric', '--json');
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const of = (type: string) => events.filter((e) => e.event === type);
    expect(of('search')).toEqual([
      expect.objectContaining({ peer: 'alice', strategy: 'probe-ports', budget: 1500, perSecond: 500 }),
      expect.objectContaining({ peer: 'bob', strategy: 'open-sockets', budget: 256 }),
    ]);
    expect(of('search-hit').map((e) => e.peer)).toEqual(['bob', 'alice']);
    expect(of('search-end')).toEqual([
      expect.objectContaining({ peer: 'bob', found: true, sockets: 256 }),
      expect.objectContaining({ peer: 'alice', found: true }),
    ]);
    // The session opened on the relay and then moved: the first `connected` is relayed, the last `path` direct.
    expect(of('connected')[0]).toMatchObject({ peer: 'alice', path: 'relay' });
    expect(of('path').at(-1)).toMatchObject({ path: 'direct' });
    expect(of('summary')[0]!.outcome).toMatchObject({
      path: 'direct',
      relayedFirst: true,
      search: { found: true },
    });
  });

  it('symmetric,symmetric: no search (neither side keeps its port), the relay carries the chat', async () => {
    const r = await demo('--nat', 'symmetric,symmetric');
    const text = flat(r.out);
    expect(text).toMatch(/The relay takes over/);
    expect(text).toMatch(/alice gets bob's receipt: the message arrived/);
    expect(r.out).toMatch(/^ {2}path +relayed through the rendezvous/m);
    expect(text).toMatch(/no direct path predicted, and none opened/);
    expect(text).not.toMatch(/port search|searches/);
  });

  it('restricted,symmetric: connects through a peer-reflexive candidate, as the theory says', async () => {
    const r = await demo('--nat', 'restricted,symmetric');
    const out = flat(r.out);
    expect(out).toMatch(/a port alice has never seen/);
    expect(out).toMatch(/"peer-reflexive" candidate/);
    expect(r.out).toMatch(/^ {2}path +direct, peer to peer/m);
    expect(out).toMatch(/a direct path predicted, and it opened/);
  });

  it('--nat none,cone: a peer with a public address', async () => {
    const { out } = await demo('--nat', 'none,cone');
    expect(out).toMatch(/alice {2}203\.0\.113\.20:\d+/);
    expect(out).toContain('no NAT: a public address');
    expect(out).toMatch(/^ {2}path +direct/m);
  });

  it('--loss 0.2 still gets a message through', async () => {
    const { code, out } = await demo('--loss', '0.2', '--quiet');
    expect(code).toBe(0);
    expect(out.startsWith('Summary (simulated time)')).toBe(true);
    expect(out).toMatch(/^ {2}path +direct/m);
    expect(out).toMatch(/^ {2}round trip +\d+(\.\d)? ms/m);
    expect(out).toMatch(/lost on links: [1-9]\d*/);
  });

  it('--delay sets every internet link', async () => {
    const { out } = await demo('--delay', '40', '--json');
    const topo = out.split('\n').map((l) => (l ? (JSON.parse(l) as Record<string, unknown>) : {}))[1]!
      .topology as { alice: { delayMs: number }; bob: { delayMs: number }; rendezvousDelayMs: number };
    expect([topo.alice.delayMs, topo.bob.delayMs, topo.rendezvousDelayMs]).toEqual([40, 40, 40]);
  });

  it('--json prints one event per line, ending with the summary', async () => {
    const { out } = await demo('--json');
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; t: number });
    const kinds = events.map((e) => e.event);
    for (const k of [
      'setup',
      'topology',
      'keys',
      'registered',
      'connect',
      'probe',
      'chosen',
      'connected',
      'sent',
      'message',
      'delivered',
    ])
      expect(kinds).toContain(k);
    expect(kinds.at(-1)).toBe('summary');
    expect(events.every((e, i) => i === 0 || e.t >= events[i - 1]!.t)).toBe(true);
  });

  it('cone,symmetric --transfer: starts on the relay, ends on the direct path, every byte there once', async () => {
    const text = flat((await demo('--nat', 'cone,symmetric', '--transfer')).out);
    inOrder(text, [
      ['receipt first', /alice gets bob's receipt: the message arrived/],
      ['start', /alice sends bob a file's worth of data: 1024 KiB of random bytes.*It starts over the relay/],
      ['25% relayed', /25% of the transfer has reached bob \(256 KiB\), over the relay/],
      [
        'move, bytes so far',
        /bob's session moves off the relay onto it.*The transfer carries on from where it was: [\d.]+ KiB had reached bob so far/,
      ],
      ['75% direct', /75% of the transfer has reached bob \(768 KiB\), on the direct path/],
      [
        'end',
        /bob has all of it: 1024 KiB in [\d.]+ ms \(\d+ KiB\/s\), [\d.]+ KiB over the relay and [\d.]+ KiB direct\. SHA-256 matches: not a byte lost or doubled\./,
      ],
      [
        'summary',
        /transfer 1024 KiB in [\d.]+ ms \(\d+ KiB\/s\): [\d.]+ KiB over the relay and [\d.]+ KiB direct; SHA-256 matches/,
      ],
    ]);
    const events = await jsonEvents('--nat', 'cone,symmetric', '--transfer');
    const end = events.find((e) => e.event === 'transfer-end')!;
    expect(end).toMatchObject({ total: 1048576, bytes: 1048576, contiguous: true, matches: true });
    expect(end.sha256).toBe(end.senderSha256);
    expect(end.relayBytes).toBeGreaterThan(0);
    expect(end.directBytes).toBeGreaterThan(0);
    expect((end.relayBytes as number) + (end.directBytes as number)).toBe(1048576);
    // The move happened while the transfer was under way, and the figures agree with it.
    const moved = events.find((e) => e.event === 'path' && e.peer === 'bob' && e.path === 'direct')!;
    expect(moved.transferred).toBe(end.relayBytes);
  });

  it('--transfer on cone,cone: direct from the start, so every byte goes direct', async () => {
    const { out } = await demo('--transfer', '256');
    expect(flat(out)).toMatch(
      /bob has all of it: 256 KiB in [\d.]+ ms \(\d+ KiB\/s\), all 256 KiB direct\. SHA-256 matches/,
    );
    const end = (await jsonEvents('--transfer', '256')).find((e) => e.event === 'transfer-end')!;
    expect(end).toMatchObject({ total: 262144, relayBytes: 0, directBytes: 262144, matches: true });
  });

  it('--json --transfer: the transfer events in order, and the figures in the summary', async () => {
    const events = await jsonEvents('--nat', 'cone,symmetric', '--transfer');
    const kinds = events.map((e) => e.event).filter((k) => String(k).startsWith('transfer'));
    expect(kinds).toEqual([
      'transfer-start',
      'transfer-progress',
      'transfer-progress',
      'transfer-progress',
      'transfer-end',
    ]);
    expect(events.find((e) => e.event === 'transfer-start')).toMatchObject({
      peer: 'alice',
      to: 'bob',
      bytes: 1048576,
      path: 'relay',
    });
    expect(events.filter((e) => e.event === 'transfer-progress').map((e) => [e.percent, e.path])).toEqual([
      [25, 'relay'],
      [50, 'direct'], // the move comes at 352 KiB: the relay part is paced under the relay's policy
      [75, 'direct'],
    ]);
    const outcome = events.at(-1)!.outcome as { transfer: Record<string, unknown> };
    expect(outcome.transfer).toMatchObject({ total: 1048576, bytes: 1048576, matches: true });
    // Without the flag there is no transfer at all.
    expect(
      (await jsonEvents('--nat', 'cone,symmetric')).some((e) => String(e.event).startsWith('transfer')),
    ).toBe(false);
  });

  it('--help prints the usage; bad flags are BAD_ARGUMENT errors (exit 2) with a message', async () => {
    const h = await demo('--help');
    expect(h.code).toBe(0);
    expect(h.out).toBe(DEMO_HELP);
    expect(DEMO_HELP).toMatch(/--nat A,B/);
    expect(DEMO_HELP).toMatch(/--transfer \[KIB\]/);
    for (const [argv, msg] of [
      [['--nat', 'cone,moon'], /unknown NAT kind "moon"/],
      [['--nat', 'a,b,c'], /--nat takes two kinds/],
      [['--loss', '0.9'], /--loss must be a share of packets from 0 to 0\.5/],
      [['--loss', 'lots'], /--loss must be/],
      [['--delay', '-5'], /--delay/],
      [['--seed', 'x'], /--seed must be a whole number/],
      [['--bogus'], /Unknown option '--bogus'/],
      [['stray'], /unexpected argument "stray"/],
      [['--quiet', '--json'], /do not go together/],
      [['--transfer', '0'], /--transfer must be a whole number from 1 to 16384, got "0"/],
      [['--transfer', 'big'], /unexpected argument "big"|--transfer must be a whole number/],
    ] as [string[], RegExp][]) {
      const e = await demo(...argv).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(isPunchlineError(e, 'BAD_ARGUMENT'), argv.join(' ')).toBe(true);
      expect((e as Error).message, argv.join(' ')).toMatch(msg);
    }
  });

  it('--real without root or network namespaces refuses plainly (exit 1), before touching anything', async () => {
    let out = '';
    let err = '';
    const io = { out: (s: string) => (out += s), err: (s: string) => (err += s) };
    const code = await runDemo(['--real'], io, { unavailable: () => 'needs root (network namespaces)' });
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toContain(
      '--real needs root and network namespaces (ip netns); run `sudo npx punchline demo --real`, or drop ' +
        '--real for the simulated story',
    );
  });

  it('--real: NAT kinds without a kernel router, --delay and the simulation-only flags are bad arguments', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--real', '--nat', 'cone,full-cone'],
        /no kernel router for NAT kind "full-cone".*cone and symmetric/,
      ],
      [['--real', '--nat', 'none'], /no kernel router for NAT kind "none"/],
      [['--real', '--delay', '40'], /--real does not support --delay: the kernel has no netem here/],
      [['--real', '--seed', '3'], /--real does not support --seed/],
      [['--real', '--no-relay'], /--real does not support --no-relay/],
      [['--real', '--json'], /--real does not support --json/],
      [['--real', '--transfer'], /--transfer is not supported with --real/],
      [['--real', '--transfer', '64'], /--transfer is not supported with --real/],
    ];
    for (const [argv, msg] of cases) {
      const e = await runDemo(
        argv,
        { out: () => undefined, err: () => undefined },
        {
          unavailable: () => 'not here',
        },
      ).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(isPunchlineError(e, 'BAD_ARGUMENT'), argv.join(' ')).toBe(true);
      expect((e as Error).message, argv.join(' ')).toMatch(msg);
    }
  });
});
