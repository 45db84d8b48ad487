import { execFileSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HAVE_OPENSSL, freeUdpPort, loopbackChat, useProcesses } from '../support/proc.js';

/**
 * A client pointed at the wrong thing says so once, clearly, with what to do (docs/cli.md,
 * RELAY_UNAVAILABLE and SERVER_UNREACHABLE): a wss:// relay whose certificate it does not trust,
 * an HTTP server that is not a rendezvous, a port where nothing listens. Real CLI on loopback.
 */
const { start, tmpDir, rendezvous } = useProcesses();

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** `chat` with debug logs, so each relay connection attempt can be counted on stderr. */
const relayAttempts = (stderr: string): number => stderr.split('"relay connect failed"').length - 1;

describe('the real client pointed at the wrong server', () => {
  it.skipIf(!HAVE_OPENSSL)(
    'a wss:// relay with an untrusted certificate: RELAY_UNAVAILABLE once, naming --ca-file; UDP still registers',
    async () => {
      const dir = await tmpDir();
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ], { stdio: 'ignore' }); // prettier-ignore
      const { port } = await rendezvous([
        '--tls-cert',
        path.join(dir, 'cert.pem'),
        '--tls-key',
        path.join(dir, 'key.pem'),
      ]);
      const alice = start(
        loopbackChat(
          port,
          'alice',
          path.join(dir, 'a'),
          '--relay',
          `wss://127.0.0.1:${port}/`,
          '--log-level',
          'debug',
        ),
      );
      await alice.event((e) => e.event === 'registered' && e.transport === 'udp');
      const err = await alice.event((e) => e.event === 'error' && e.code === 'RELAY_UNAVAILABLE');
      expect(String(err.message)).toMatch(/certificate this client does not trust .*--ca-file FILE/);
      // Two more attempts (1 s, then 2 s on the backoff) and still said only once.
      await alice.waitFor(
        () => (relayAttempts(alice.stderr) >= 3 ? true : undefined),
        20_000,
        'three attempts',
      );
      expect(alice.events((e) => e.event === 'error').map((e) => e.code)).toEqual(['RELAY_UNAVAILABLE']);

      // With the certificate trusted, the relay registers.
      const bob = start(
        loopbackChat(
          port,
          'bob',
          path.join(dir, 'b'),
          '--relay',
          `wss://127.0.0.1:${port}/`,
          '--ca-file',
          path.join(dir, 'cert.pem'),
        ),
      );
      await bob.event((e) => e.event === 'registered' && e.transport === 'ws');
      expect(bob.events((e) => e.event === 'error')).toEqual([]);
    },
  );

  it(
    'an HTTP server that is not a rendezvous: RELAY_UNAVAILABLE says so, SERVER_UNREACHABLE once with the reason',
    { timeout: 90_000 },
    async () => {
      const web = http.createServer((_req, res) => {
        res.writeHead(404).end('not here');
      });
      await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
      closers.push(() => new Promise<void>((r) => web.close(() => r())));
      const port = (web.address() as { port: number }).port;
      const dir = await tmpDir();
      const alice = start(loopbackChat(port, 'alice', path.join(dir, 'a'), '--log-level', 'debug'));
      const relay = await alice.event((e) => e.event === 'error' && e.code === 'RELAY_UNAVAILABLE', 15_000);
      expect(String(relay.message)).toMatch(
        /answered HTTP 404, not a WebSocket upgrade: is it a punchline rendezvous/,
      );
      const lost = await alice.event((e) => e.event === 'error' && e.code === 'SERVER_UNREACHABLE', 20_000);
      expect(String(lost.message)).toMatch(/no answer from the rendezvous .*answered HTTP 404.*; retrying$/);
      // The UDP client's next round of tries fails too: logged, not said again.
      await alice.waitFor(
        () => (alice.stderr.includes('"rendezvous still unreachable"') ? true : undefined),
        40_000,
        'a second unanswered round',
      );
      expect(alice.events((e) => e.event === 'error').map((e) => e.code)).toEqual([
        'RELAY_UNAVAILABLE',
        'SERVER_UNREACHABLE',
      ]);
      expect(alice.events((e) => e.event === 'server').map((e) => e.state)).toEqual(['connecting', 'lost']);
    },
  );

  it(
    "the rendezvous's STUN-only alternate port given as --server: SERVER_UNREACHABLE says it answers STUN, not punchline",
    {
      timeout: 90_000,
    },
    async () => {
      const alt = await freeUdpPort();
      await rendezvous(['--alt-port', String(alt)]);
      const dir = await tmpDir();
      const alice = start(loopbackChat(alt, 'alice', path.join(dir, 'a')));
      const lost = await alice.event((e) => e.event === 'error' && e.code === 'SERVER_UNREACHABLE', 30_000);
      expect(String(lost.message)).toMatch(
        new RegExp(
          `127\\.0\\.0\\.1:${alt} answers STUN but not punchline: .*alternate port \\(--alt-port\\)`,
        ),
      );
    },
  );

  it('once the server answers again, a later outage is said again', async () => {
    const { port, proc } = await rendezvous();
    const dir = await tmpDir();
    const alice = start(
      loopbackChat(port, 'alice', path.join(dir, 'a'), '--direct-only', '--keepalive-ms', '1000'),
    );
    await alice.event((e) => e.event === 'registered');
    await proc.kill();
    const first = await alice.event((e) => e.event === 'error' && e.code === 'SERVER_UNREACHABLE', 30_000);
    const again = start(['rendezvous', '--host', '127.0.0.1', '--port', String(port)]);
    await again.line(/listening on udp/);
    const n = alice.json.length;
    await alice.event((e) => e.event === 'registered', 40_000, n);
    await again.kill();
    await alice.event(
      (e) => e.event === 'error' && e.code === 'SERVER_UNREACHABLE' && e !== first,
      30_000,
      n,
    );
  }, 120_000);
});
