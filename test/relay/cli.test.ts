import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { generateIdentity } from '../../common/identity/identity.js';
import { MsgType } from '../../common/wire/constants.js';
import { decode, encode } from '../../common/wire/messages.js';
import { rendezvousOptionsFromFlags } from '../../rendezvous/main.js';
import { MAX_LISTABLE_MEMBERS } from '../../rendezvous/presence.js';
import { RENDEZVOUS_DEFAULTS as D } from '../../rendezvous/server.js';
import type { RendezvousOptions } from '../../rendezvous/server.js';
import { freeUdpPort, useProcesses } from '../support/proc.js';
import { rawRegister } from '../support/raw-register.js';
import { getFrom, RawClients, within } from './support/raw-tcp.js';
import { wsPeer } from './support/ws-server.js';

const { start } = useProcesses();

describe('punchline rendezvous: the TCP side from the command line', () => {
  it('listens on udp and tcp on one port number, serves /healthz, relays, and stops on SIGTERM', async () => {
    const port = await freeUdpPort();
    const rdv = start([
      'rendezvous',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--relay-max-frame',
      '1000',
    ]);
    await rdv.line(/listening on udp 127\.0\.0\.1:\d+/);
    expect(await rdv.line(/listening on tcp/)).toBe(
      `punchline rendezvous listening on tcp 127.0.0.1:${port} (ws)`,
    );
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok', peers: 0, connections: 0 });
    const a = await wsPeer(`ws://127.0.0.1:${port}/`);
    const b = await wsPeer(`ws://127.0.0.1:${port}/`);
    await a.register('lobby', 'a');
    await b.register('lobby', 'b');
    await a.connect(b.id);
    a.relay(b.id, new Uint8Array(1000));
    a.relay(b.id, new Uint8Array(1001)); // over --relay-max-frame
    a.relay(b.id, new Uint8Array(10));
    await b.waitFor(() => b.relayedIn === 2, 5000);
    expect(b.relayedBytesIn).toBe(1010);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('punchline_relay_dropped_total{reason="too_big"} 1');
    // Logs are JSON lines on stderr.
    const first = rdv.stderr.split('\n').find((l) => l.includes('"listening"'));
    expect(JSON.parse(first!)).toMatchObject({
      level: 'info',
      msg: 'listening',
      svc: 'rendezvous',
      tls: false,
    });
    rdv.child.kill('SIGTERM');
    expect(await rdv.exited).toBe(0);
    await b.waitFor(() => b.closedReason !== undefined, 3000);
    expect(b.closedReason).toMatch(/1001/);
  });

  it('--no-tcp serves UDP only', async () => {
    const port = await freeUdpPort();
    const rdv = start(['rendezvous', '--host', '127.0.0.1', '--port', String(port), '--no-tcp']);
    await rdv.line(/listening on udp/);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    expect(rdv.lines.some((l) => l.includes('tcp'))).toBe(false);
  });

  it('a usage error (BAD_ARGUMENT from the flag parser) exits 2 and points to the usage text', async () => {
    const bad = start(['rendezvous', '--port', '0', '--relay-max-frame', '4090']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr).toContain(
      'punchline rendezvous: --max-message-bytes (4096) must hold a full relay frame',
    );
    expect(bad.stderr).toContain('Run "punchline rendezvous --help" for usage.');
  });

  // The process turns BAD_ARGUMENT into exit 2 (the test above); which flags are usage errors is
  // the parser's to say, checked here without a process per case.
  it.each([
    [['--tls-cert', '/nonexistent.pem', '--tls-key', '/nonexistent.pem']],
    [['--tls-key', '/etc/hostname']],
    [['--relay-max-frame', '4090']],
    [['--max-message-bytes', '1300']],
    [['--relay-queue-bytes', '100']],
    [['--ping-ms', 'soon']],
  ])('inconsistent limits and TLS flags are usage errors: %j', (args) => {
    let err: unknown;
    try {
      rendezvousOptionsFromFlags(['--port', '0', ...args]);
    } catch (e) {
      err = e;
    }
    expect(isPunchlineError(err, 'BAD_ARGUMENT'), args.join(' ')).toBe(true);
  });

  it('--max-conns-per-ip and --upgrade-timeout-ms bite on the real process: counted on /metrics, logged once per reason', async () => {
    const port = await freeUdpPort();
    const rdv = start([
      'rendezvous',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--max-conns-per-ip',
      '2',
      '--upgrade-timeout-ms',
      '300',
    ]);
    await rdv.line(/listening on tcp/);
    const raw = new RawClients();
    try {
      const N = 20;
      const socks = Array.from({ length: N }, () => raw.silent(port, '127.0.0.1'));
      await within(Promise.all(socks.map((s) => s.closed)), 10_000, 'every socket refused or cut');
      const metric = async (name: string): Promise<number> => {
        // From another address: 127.0.0.1 is the one at its limit.
        const text = (await getFrom(port, '/metrics', '127.0.0.3')).body;
        return Number(
          text
            .split('\n')
            .find((l) => l.startsWith(`${name} `))
            ?.split(' ')[1],
        );
      };
      // Each socket was either refused at accept or cut by the upgrade timeout. The loop ends on
      // the counters; the deadline is a hang guard only.
      const deadline = Date.now() + 20_000;
      let refused: number;
      let cut: number;
      for (;;) {
        refused = await metric('punchline_stream_refused_total{reason="ip_limit"}');
        cut = await metric('punchline_stream_timeouts_total{reason="upgrade"}');
        if (refused + cut === N || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50)); // the server's side closes a moment later
      }
      expect(refused + cut).toBe(N);
      expect(cut).toBeGreaterThanOrEqual(2);
      const limitLines = (): Record<string, unknown>[] =>
        rdv.stderr
          .split('\n')
          .filter((l) => l.includes('"msg":"limit"'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      // The first event of each reason is logged at once; the rest wait for the 10 s window.
      const byReason = (r: string): Record<string, unknown>[] => limitLines().filter((l) => l.reason === r);
      await rdv.waitFor(
        () => (byReason('upgrade_timeout').length > 0 ? true : undefined),
        5000,
        'the log line',
      );
      expect(byReason('ip_limit')).toEqual([
        expect.objectContaining({
          level: 'warn',
          svc: 'rendezvous',
          reason: 'ip_limit',
          count: 1,
          ip: '127.0.0.1',
        }),
      ]);
      expect(byReason('upgrade_timeout')).toHaveLength(1);
    } finally {
      raw.destroyAll();
    }
  });

  it('--help lists every relay flag', async () => {
    const p = start(['rendezvous', '--help']);
    expect(await p.exited).toBe(0);
    const help = p.lines.join('\n');
    for (const flag of [
      '--tls-cert',
      '--tls-key',
      '--no-tcp',
      '--relay-max-frame',
      '--relay-rate-bytes',
      '--relay-burst-bytes',
      '--relay-rate-frames',
      '--relay-burst-frames',
      '--relay-queue-bytes',
      '--relay-pair-ttl-ms',
      '--relay-max-pairs',
      '--max-conns-per-ip',
      '--max-connections',
      '--max-message-bytes',
      '--ping-ms',
      '--auth-timeout-ms',
      '--upgrade-timeout-ms',
      '--close-timeout-ms',
      '--register-rate',
      '--register-burst',
      '--max-ids-per-ip',
      '--connect-rate',
      '--connect-burst',
      '--max-rate-keys',
      '--presence-interval-ms',
      '--presence-burst',
      '--presence-resync-ms',
      '--max-room',
    ])
      // prettier-ignore
      expect(help).toContain(flag);
  });
});

/** Each cost-bound flag: its option, its default, a good value, and its range. */
const COST_FLAGS: [string, keyof RendezvousOptions, number, number, number][] = [
  ['--register-rate', 'registerRate', 25, 1, 1_000_000],
  ['--register-burst', 'registerBurst', 80, 1, 1_000_000],
  ['--max-ids-per-ip', 'maxIdsPerIp', 64, 1, 1_000_000],
  ['--connect-rate', 'connectRate', 5, 1, 1_000_000],
  ['--connect-burst', 'connectBurst', 50, 1, 1_000_000],
  ['--max-rate-keys', 'maxRateKeys', 1024, 16, 10_000_000],
  ['--presence-interval-ms', 'presenceIntervalMs', 500, 10, 60_000],
  ['--presence-burst', 'presenceBurst', 8, 1, 1000],
  ['--presence-resync-ms', 'presenceResyncMs', 5000, 100, 600_000],
  ['--max-room', 'maxRoomMembers', 200, 2, MAX_LISTABLE_MEMBERS],
];

describe('punchline rendezvous: the server cost-bound flags', () => {
  it.each(COST_FLAGS)(
    '%s parses, defaults, and refuses bad values with a clear error',
    (flag, key, good, min, max) => {
      expect(rendezvousOptionsFromFlags([]).options[key]).toBe(D[key as keyof typeof D]);
      expect(rendezvousOptionsFromFlags([flag, String(good)]).options[key]).toBe(good);
      for (const bad of ['', 'x', '-1', '1.5', String(min - 1), String(max + 1)]) {
        let err: unknown;
        try {
          rendezvousOptionsFromFlags([`${flag}=${bad}`]);
        } catch (e) {
          err = e;
        }
        expect(isPunchlineError(err, 'BAD_ARGUMENT'), `${flag} ${bad}`).toBe(true);
        expect((err as Error).message).toBe(
          `${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(bad)}`,
        );
      }
    },
  );

  it('the real process: --register-rate bites before the signature check, counted on /metrics, logged once', async () => {
    const port = await freeUdpPort();
    const rdv = start([
      'rendezvous',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--register-rate',
      '1',
      '--register-burst',
      '3',
    ]);
    await rdv.line(/listening on tcp/);
    const sock = dgram.createSocket('udp4');
    const got: Uint8Array[] = [];
    const wake: (() => void)[] = [];
    sock.on('message', (d) => {
      got.push(new Uint8Array(d));
      wake.splice(0).forEach((f) => f());
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const next = (n: number): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => (got.length >= n ? resolve() : void wake.push(check));
        check();
      });
    try {
      sock.send(encode({ type: MsgType.HELLO, txid: new Uint8Array(8) }), port, '127.0.0.1');
      await within(next(1), 10_000, 'COOKIE');
      const cookie = decode(got[0]!);
      if (cookie.type !== MsgType.COOKIE) throw new Error('no cookie');
      const bad = rawRegister(generateIdentity(), cookie, new Uint8Array(8).fill(1), {
        room: 'r',
        name: 'flood',
      }).bytes;
      bad[bad.length - 1]! ^= 0xff;
      const t0 = Date.now();
      for (let i = 0; i < 20; i++) sock.send(bad, port, '127.0.0.1');
      await within(next(21), 10_000, 'twenty answers');
      const elapsedS = (Date.now() - t0) / 1000;
      const metrics = (await getFrom(port, '/metrics', '127.0.0.3')).body;
      const value = (line: string): number =>
        Number(
          metrics
            .split('\n')
            .find((l) => l.startsWith(`${line} `))
            ?.split(' ')[1],
        );
      const checks = value('punchline_signature_checks_total');
      const limited = value('punchline_rate_limited_total{limit="register"}');
      expect(checks + limited).toBe(20);
      expect(checks).toBeGreaterThanOrEqual(3);
      expect(checks).toBeLessThanOrEqual(3 + Math.ceil(elapsedS));
      expect(value('punchline_rate_keys{limit="register"}')).toBe(1);
      const answers = got.slice(1).map((d) => decode(d));
      expect(answers.filter((m) => m.type === MsgType.ERROR && m.code === 8)).toHaveLength(limited);
      const lines = rdv.stderr
        .split('\n')
        .filter((l) => l.includes('"reason":"register_rate"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toEqual([expect.objectContaining({ msg: 'limit', count: 1, ip: '127.0.0.1' })]);
    } finally {
      sock.close();
    }
  });
});
