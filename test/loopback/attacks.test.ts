import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SystemClock } from '../../common/clock.js';
import { generateIdentity } from '../../common/identity.js';
import { nodeNetwork } from '../../common/net/udp-node.js';
import { toHex } from '../../common/wire/bytes.js';
import { RendezvousServer } from '../../rendezvous/server.js';
import { freeUdpPort, loopbackChat, useProcesses } from '../support/proc.js';
import { lieAboutKeys } from '../support/raw-register.js';

const { start, tmpDir: tmp, rendezvous } = useProcesses();

/**
 * Attacks on the real CLI over loopback (docs/security.md). The forged-source attacks need a
 * network that lets a sender lie about its address, and live in test/simnet/forged-server.test.ts.
 */
describe('loopback: the real client against a lying server and a replaced server key', () => {
  it('a rendezvous that puts another key behind bob: alice refuses it (KEY_MISMATCH), never connected', async () => {
    const port = await freeUdpPort();
    const mallory = generateIdentity();
    const server = new RendezvousServer(
      { host: '127.0.0.1', port, altPort: 0 },
      { network: nodeNetwork, clock: new SystemClock() },
    );
    let bobHex = '';
    const liar = lieAboutKeys(server, () => bobHex, { signKey: mallory.signPublic, dhKey: mallory.dhPublic });
    await server.start();
    try {
      const dir = await tmp();
      const alice = start(loopbackChat(port, 'alice', path.join(dir, 'a'), '--direct-only'));
      const bob = start(loopbackChat(port, 'bob', path.join(dir, 'b'), '--direct-only'));
      bobHex = (await bob.event((e) => e.event === 'registered')).id as string;
      await alice.event(
        (e) => e.event === 'presence' && (e.peers as { name: string }[]).some((p) => p.name === 'bob'),
      );
      alice.send({ cmd: 'send', peer: 'bob', text: 'for bob only' });
      const err = await alice.event((e) => e.event === 'error' && e.code === 'KEY_MISMATCH');
      expect(String(err.message)).toMatch(/do not belong to peer/);
      expect(liar.lies).toBeGreaterThan(0);
      expect(alice.json.some((e) => e.event === 'connected' || e.event === 'delivered')).toBe(false);
      expect(bob.json.some((e) => e.event === 'message')).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('the server key is pinned on first use; another key later stops the client with SERVER_KEY_CHANGED', async () => {
    const dir = await tmp();
    const key1 = path.join(dir, 'k1.json');
    const key2 = path.join(dir, 'k2.json');
    const first = await rendezvous(['--key', key1]);
    const fp = (await first.proc.line(/key fingerprint/)).match(/#([0-9a-f]{32})/)![1]!;
    const alice = start(loopbackChat(first.port, 'alice', path.join(dir, 'a')));
    await alice.event((e) => e.event === 'registered');
    const known = JSON.parse(await readFile(path.join(dir, 'a', 'servers.json'), 'utf8')) as {
      servers: Record<string, { fingerprint: string }>;
    };
    expect(known.servers[`127.0.0.1:${first.port}`]?.fingerprint).toBe(fp);
    alice.send({ cmd: 'quit' });
    expect(await alice.exited).toBe(0);
    await first.proc.kill();

    // Another server (another key) on the same address: the pinned client refuses it.
    const second = start(['rendezvous', '--host', '127.0.0.1', '--port', String(first.port), '--key', key2]);
    await second.line(/key fingerprint/);
    const again = start(loopbackChat(first.port, 'alice', path.join(dir, 'a'), '--relay-only'));
    const err = await again.event((e) => e.event === 'error' && e.code === 'SERVER_KEY_CHANGED');
    expect(String(err.message)).toMatch(/pinned .* now /);
    expect(again.json.some((e) => e.event === 'registered')).toBe(false);
    // A fingerprint given with --server wins over servers.json (the operator said it changed).
    const fp2 = (await second.line(/key fingerprint/)).match(/#([0-9a-f]{32})/)![1]!;
    const told = start([
      ...loopbackChat(first.port, 'alice2', path.join(dir, 'c')).map((a) =>
        a === `127.0.0.1:${first.port}` ? `${a}#${fp2}` : a,
      ),
    ]);
    await told.event((e) => e.event === 'registered');
    // A wrong one given with --server is refused the same way.
    const wrong = start([
      ...loopbackChat(first.port, 'alice3', path.join(dir, 'd')).map((a) =>
        a === `127.0.0.1:${first.port}` ? `${a}#${fp}` : a,
      ),
    ]);
    await wrong.event((e) => e.event === 'error' && e.code === 'SERVER_KEY_CHANGED');
  });

  it('a server key file other users can read, or whose halves disagree, is refused', async () => {
    const dir = await tmp();
    const key = path.join(dir, 'k.json');
    const made = await rendezvous(['--key', key]);
    await made.proc.kill();
    await chmod(key, 0o644);
    const open = start(['rendezvous', '--host', '127.0.0.1', '--port', '0', '--key', key]);
    expect(await open.exited).not.toBe(0);
    expect(open.stderr).toContain(`server key ${key} can be read or changed by other users (mode 0644)`);
    expect(open.stderr).toContain(`chmod 600 ${key}`);
    await chmod(key, 0o600);
    const stored = JSON.parse(await readFile(key, 'utf8')) as { x25519: { publicKey: string } };
    stored.x25519.publicKey = toHex(new Uint8Array(32).fill(7));
    await writeFile(key, JSON.stringify(stored), { mode: 0o600 });
    const bad = start(['rendezvous', '--host', '127.0.0.1', '--port', '0', '--key', key]);
    expect(await bad.exited).not.toBe(0);
    expect(bad.stderr).toContain(`the X25519 public key in ${key} does not match its private key`);
  });

  it('a peer identity file other users can read, or whose halves disagree, is refused by chat', async () => {
    const dir = await tmp();
    const data = path.join(dir, 'a');
    const file = path.join(data, 'identity.json');
    const { port } = await rendezvous();
    const first = start(loopbackChat(port, 'alice', data));
    await first.event((e) => e.event === 'registered');
    await first.kill();
    await chmod(file, 0o644);
    const open = start(loopbackChat(port, 'alice', data));
    expect(await open.exited).not.toBe(0);
    const said = (p: typeof open): string => p.stderr + p.lines.join('\n');
    expect(said(open)).toContain(`identity file ${file} can be read or changed by other users (mode 0644)`);
    expect(said(open)).toContain(`chmod 600 ${file}`);
    expect(open.json.some((e) => e.event === 'registered')).toBe(false);
    await chmod(file, 0o600);
    for (const section of ['ed25519', 'x25519'] as const) {
      const stored = JSON.parse(await readFile(file, 'utf8')) as Record<string, { publicKey: string }>;
      const good = stored[section]!.publicKey;
      stored[section]!.publicKey = toHex(new Uint8Array(32).fill(7));
      await writeFile(file, JSON.stringify(stored), { mode: 0o600 });
      const bad = start(loopbackChat(port, 'alice', data));
      expect(await bad.exited).not.toBe(0);
      const label = section === 'ed25519' ? 'Ed25519' : 'X25519';
      expect(said(bad)).toContain(`the ${label} public key in ${file} does not match its private key`);
      stored[section]!.publicKey = good;
      await writeFile(file, JSON.stringify(stored), { mode: 0o600 });
    }
  });
});
