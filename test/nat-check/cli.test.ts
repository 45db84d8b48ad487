/**
 * The real `punchline nat-check` CLI against a real `punchline rendezvous` on loopback (no NAT),
 * its exit codes, and the flags of both commands.
 */
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import type { NatCheckReport } from '../../peer/nat-check/types.js';
import { parseNatCheckArgs } from '../../peer/nat-check/main.js';
import { rendezvousOptionsFromFlags } from '../../rendezvous/main.js';
import { freeUdpPort, useProcesses } from '../support/proc.js';

const { start } = useProcesses();

/** Run to completion (bounded) and return the exit code with the output. */
async function run(
  args: string[],
  timeoutMs = 15_000,
): Promise<{ code: number | null; out: string; err: string }> {
  const p = start(args);
  const timer = setTimeout(() => void p.kill(), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, out: p.lines.join('\n'), err: p.stderr };
}

const badArgument = (f: () => unknown): void => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(isPunchlineError(err, 'BAD_ARGUMENT'), String(err)).toBe(true);
};

describe('nat-check flags', () => {
  it('parses the defaults and every option', () => {
    expect(parseNatCheckArgs(['--server', '203.0.113.10:7000'])).toEqual({
      help: false,
      host: '203.0.113.10',
      json: false,
      options: {
        server: { address: '203.0.113.10', port: 7000 },
        timeoutMs: 3000,
        relayUrl: 'ws://203.0.113.10:7000/',
      },
    });
    const all = parseNatCheckArgs([
      '--server',
      'rdv.example.org:7000',
      '--alt-port',
      '7100',
      '--port',
      '5000',
      '--bind',
      '10.0.0.2',
      '--timeout-ms',
      '1500',
      '--relay',
      'wss://relay.example.org/',
      '--json',
    ]);
    expect(all).toEqual({
      help: false,
      host: 'rdv.example.org',
      json: true,
      options: {
        server: { address: 'rdv.example.org', port: 7000 },
        altPort: 7100,
        port: 5000,
        bind: '10.0.0.2',
        timeoutMs: 1500,
        relayUrl: 'wss://relay.example.org/',
      },
    });
    expect(parseNatCheckArgs(['--server', '1.2.3.4:7000', '--no-relay-check'])).toMatchObject({
      options: { relayUrl: false },
    });
    expect(parseNatCheckArgs(['--server', 'wss://rdv.example.org/chat'])).toMatchObject({
      options: { server: { port: 443 }, relayUrl: 'wss://rdv.example.org/chat' },
    });
    expect(parseNatCheckArgs(['-h'])).toEqual({ help: true });
  });

  it.each([
    [[]],
    [['--server']],
    [['--server', 'nohost']],
    [['--server', '1.2.3.4:0']],
    [['--server', '1.2.3.4:7000', '--alt-port', '7000']],
    [['--server', '1.2.3.4:7000', '--alt-port', '70000']],
    [['--server', '1.2.3.4:7000', '--timeout-ms', '5']],
    [['--server', '1.2.3.4:7000', '--relay', 'http://x/']],
    [['--server', '1.2.3.4:7000', '--relay', 'ws://x/', '--no-relay-check']],
    [['--server', '1.2.3.4:7000', '--bogus']],
    [['--server', '1.2.3.4:7000', 'extra']],
  ])('refuses %j', (argv) => {
    badArgument(() => parseNatCheckArgs(argv));
  });
});

describe('rendezvous --alt-port', () => {
  it.each([
    [[], undefined],
    [['--alt-port', '0'], 0],
    [['--alt-port', '7100'], 7100],
  ])('%j gives altPort %s', (argv, altPort) => {
    expect(rendezvousOptionsFromFlags(argv).options.altPort).toBe(altPort);
  });

  it.each([
    [['--alt-port', '7000']],
    [['--port', '9000', '--alt-port', '9000']],
    [['--alt-port', '-1']],
    [['--alt-port', 'x']],
  ])('refuses %j', (argv) => {
    badArgument(() => rendezvousOptionsFromFlags(argv));
  });
});

describe('loopback: the real CLI against a real rendezvous', () => {
  it('no NAT: endpoint-independent mapping and filtering, relay reachable; --json and the human form', async () => {
    const port = await freeUdpPort();
    const alt = await freeUdpPort();
    const rdv = start([
      'rendezvous',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--alt-port',
      String(alt),
    ]);
    await rdv.line(new RegExp(`listening on udp 127\\.0\\.0\\.1:${port} \\(stun alt port ${alt}\\)`));
    await rdv.line(/listening on tcp/);

    const j = await run(['nat-check', '--server', `127.0.0.1:${port}`, '--json']);
    expect(j.code, j.err).toBe(0);
    const report = JSON.parse(j.out) as NatCheckReport;
    expect(report).toMatchObject({
      udp: 'ok',
      nat: 'none',
      altPort: alt,
      mapping: 'endpoint-independent',
      filtering: 'endpoint-independent-or-address-dependent',
      relay: { reachable: true },
    });
    expect(report.predictions.every((p) => p.path === 'direct')).toBe(true);

    const h = await run(['nat-check', '--server', `127.0.0.1:${port}`]);
    expect(h.code, h.err).toBe(0);
    expect(h.out).toMatch(/^udp: +works \(answer from 127\.0\.0\.1:\d+ in \d+ ms/m);
    expect(h.out).toMatch(/^public: +127\.0\.0\.1:\d+ \(no NAT/m);
    expect(h.out).toMatch(
      new RegExp(
        `^mapping: +endpoint-independent \\(127\\.0\\.0\\.1:\\d+ seen by both ${port} and ${alt}\\)`,
        'm',
      ),
    );
    expect(h.out).toMatch(/^relay: +reachable/m);
  });

  it('no server at all: "server unreachable" on both transports, no predictions, exit 1, the URL once', async () => {
    const port = await freeUdpPort();
    const r = await run(['nat-check', '--server', `127.0.0.1:${port}`, '--timeout-ms', '300', '--json']);
    expect(r.code, r.err).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({
      udp: 'blocked',
      serverReachable: 'no',
      relay: { reachable: false },
      predictions: [],
    });
    const h = await run(['nat-check', '--server', `127.0.0.1:${port}`, '--timeout-ms', '300']);
    expect(h.code, h.err).toBe(1);
    expect(h.out).toMatch(/^server: +unreachable \(no answer over UDP and no connection to its relay/m);
    expect(h.out).not.toMatch(/a chat would go/);
    const url = `ws://127.0.0.1:${port}/`;
    expect(h.out.split(url).length - 1, h.out).toBe(1);
  });

  it('UDP unanswered with the relay check off: "UDP blocked" is a finding (exit 0)', async () => {
    const port = await freeUdpPort();
    const r = await run([
      'nat-check',
      '--server',
      `127.0.0.1:${port}`,
      '--timeout-ms',
      '300',
      '--no-relay-check',
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ udp: 'blocked', serverReachable: 'unknown', relay: null });
  });

  it('exit codes: 2 for bad flags, 1 when the local port is taken, 0 for --help', async () => {
    const bad = await run(['nat-check', '--server', '127.0.0.1:7000', '--timeout-ms', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--timeout-ms must be a whole number.*\n.*nat-check --help/);

    const taken = dgram.createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, r));
    try {
      const busy = await run([
        'nat-check',
        '--server',
        '127.0.0.1:7000',
        '--port',
        String(taken.address().port),
        '--no-relay-check',
      ]);
      expect(busy.code).toBe(1);
      expect(busy.err).toMatch(/cannot use a UDP socket .*EADDRINUSE/);
    } finally {
      taken.close();
    }

    const help = await run(['nat-check', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: punchline nat-check --server HOST:PORT/);
    const top = await run(['--help']);
    expect(top.out).toMatch(/nat-check +what kind of NAT am I behind/);
  });
});
