import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useProcesses } from '../support/proc.js';
import type { Proc } from '../support/proc.js';
import { HAVE_REDIS, NO_REDIS_REASON, RedisProcess } from '../support/redis.js';

/**
 * What docs/self-hosting.md (Cluster) tells an operator to run across hosts: Redis over TLS
 * (rediss://) with a password from a file. A redis-server with a self-signed certificate and
 * requirepass on a free loopback port; nodes trust the certificate through NODE_EXTRA_CA_CERTS.
 */
const HAVE_OPENSSL = ((): boolean => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const suite = HAVE_REDIS && HAVE_OPENSSL ? describe : describe.skip;
if (!HAVE_REDIS) console.warn(NO_REDIS_REASON);
else if (!HAVE_OPENSSL) console.warn('openssl is not installed: the Redis TLS test is skipped');

const PASSWORD = 'correct horse battery staple';

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** /metrics and /healthz of a node, polled until `done` (20 ms apart, at most 500 times). */
async function poll(port: number, done: (metrics: string) => boolean): Promise<string> {
  let metrics = '';
  for (let i = 0; i < 500; i++) {
    metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    if (done(metrics)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return metrics;
}

suite('a cluster on Redis over TLS with a password from a file (real processes)', () => {
  const { rendezvous, tmpDir } = useProcesses();
  let redis: RedisProcess;
  let tlsPort = 0;
  let certDir = '';

  beforeAll(async () => {
    const setup = new RedisProcess(); // only for its temp dir's lifetime: not started
    certDir = setup.dir;
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'],
        ...['-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem')],
        ...['-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'],
      ],
      { stdio: 'ignore' },
    );
    tlsPort = await freeTcpPort();
    redis = new RedisProcess([
      ...['--tls-port', String(tlsPort), '--tls-auth-clients', 'no'],
      ...['--tls-cert-file', path.join(certDir, 'cert.pem'), '--tls-key-file', path.join(certDir, 'key.pem')],
      ...['--requirepass', PASSWORD],
    ]);
    await redis.start();
    afterAll(() => setup.close());
  });
  afterAll(() => redis?.close());

  async function node(id: string, password: string, ca: boolean): Promise<{ port: number; proc: Proc }> {
    const dir = await tmpDir();
    const pwFile = path.join(dir, 'redis-password');
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    return rendezvous(
      [
        ...['--redis', `rediss://127.0.0.1:${tlsPort}`, '--redis-password-file', pwFile],
        ...['--node-id', id, '--key', path.join(dir, 'key.json')],
      ],
      ca ? { NODE_EXTRA_CA_CERTS: path.join(certDir, 'cert.pem') } : {},
    );
  }

  it('two nodes reach Redis over TLS with the password from the file and see each other', async () => {
    const a = await node('tls-a', PASSWORD, true);
    await node('tls-b', PASSWORD, true);
    const metrics = await poll(a.port, (m) => m.includes('punchline_cluster_nodes 2\n'));
    expect(metrics).toContain('punchline_cluster_redis_up 1\n');
    expect(metrics).toContain('punchline_cluster_nodes 2\n');
    expect(a.proc.stderr).toContain(`"redis":"rediss://127.0.0.1:${tlsPort}/0"`);
    expect(a.proc.stderr).not.toContain(PASSWORD);
  });

  it('a wrong password or an untrusted certificate: the node serves, says degraded, and never logs the password', async () => {
    for (const [id, pw, ca] of [
      ['tls-wrong-pw', 'not the password', true],
      ['tls-no-ca', PASSWORD, false],
    ] as const) {
      const n = await node(id, pw, ca);
      await poll(n.port, (m) => m.includes('punchline_cluster_redis_up 0\n'));
      const health = (await (await fetch(`http://127.0.0.1:${n.port}/healthz`)).json()) as Record<
        string,
        unknown
      >;
      expect(health.status, id).toBe('degraded');
      expect(String(health.reason), id).toMatch(/^redis: /);
      expect(n.proc.stderr, id).toContain('redis unavailable');
      expect(n.proc.stderr, id).not.toContain(pw);
    }
  });
});
