import { describe, expect, it } from 'vitest';
import { freeUdpPort, useProcesses } from '../support/proc.js';
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

  it('--no-tcp serves UDP only; inconsistent limits and TLS flags are usage errors (exit 2)', async () => {
    const port = await freeUdpPort();
    const rdv = start(['rendezvous', '--host', '127.0.0.1', '--port', String(port), '--no-tcp']);
    await rdv.line(/listening on udp/);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    expect(rdv.lines.some((l) => l.includes('tcp'))).toBe(false);
    for (const args of [
      ['--tls-cert', '/nonexistent.pem', '--tls-key', '/nonexistent.pem'],
      ['--tls-key', '/etc/hostname'],
      ['--relay-max-frame', '4090'],
      ['--max-message-bytes', '1300'],
      ['--relay-queue-bytes', '100'],
      ['--ping-ms', 'soon'],
    ]) {
      const bad = start(['rendezvous', '--port', '0', ...args]);
      expect(await bad.exited, args.join(' ')).toBe(2);
    }
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
      // Each socket was either refused at accept or cut by the upgrade timeout.
      const deadline = Date.now() + 5000;
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
    ])
      // prettier-ignore
      expect(help).toContain(flag);
  });
});
