import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SystemClock } from '../../common/clock.js';
import { generateIdentity } from '../../common/identity/identity.js';
import { nodeNetwork } from '../../common/net/udp-node.js';
import { toHex } from '../../common/wire/bytes.js';
import { RendezvousServer } from '../../rendezvous/server.js';
import { freeUdpPort, loopbackChat, useProcesses } from '../support/proc.js';
import type { Json, Proc } from '../support/proc.js';
import { hideFromPresence, lieAboutKeys } from '../support/raw-register.js';

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
      bobHex = (await bob.event((e) => e.event === 'registered')).peer_id as string;
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

  it('a rendezvous that introduces mallory as bob and hides her from the member list: what alice types to bob is held (KEY_CHANGED) until trust', async () => {
    const port = await freeUdpPort();
    const server = new RendezvousServer(
      { host: '127.0.0.1', port, altPort: 0 },
      { network: nodeNetwork, clock: new SystemClock() },
    );
    let malHex = '';
    hideFromPresence(server, (m) => m.name === 'mallory');
    const liar = lieAboutKeys(server, () => malHex, { name: 'bob' });
    await server.start();
    try {
      const dir = await tmp();
      const keysIn = async (d: string): Promise<{ sign_key: string; dh_key: string }> => {
        const f = JSON.parse(await readFile(path.join(dir, d, 'identity.json'), 'utf8')) as {
          ed25519: { publicKey: string };
          x25519: { publicKey: string };
        };
        return { sign_key: f.ed25519.publicKey, dh_key: f.x25519.publicKey };
      };
      const chat = (name: string, d: string): Proc =>
        start(loopbackChat(port, name, path.join(dir, d), '--direct-only'));
      const alice = chat('alice', 'a');
      const bob = chat('bob', 'b');
      const bobHex = (await bob.event((e) => e.event === 'registered')).peer_id as string;
      await alice.event(
        (e) => e.event === 'presence' && (e.peers as { peer_id: string }[]).some((p) => p.peer_id === bobHex),
      );
      alice.send({ cmd: 'send', peer: 'bob', text: 'hi bob' });
      // The connected event shows the keys the session proved: bob's own.
      expect(await alice.event((e) => e.event === 'connected')).toMatchObject({
        peer: 'bob',
        peer_id: bobHex,
        ...(await keysIn('b')),
      });
      await alice.event((e) => e.event === 'delivered');
      bob.send({ cmd: 'quit' });
      expect(await bob.exited).toBe(0);
      await alice.event((e) => e.event === 'presence' && (e.peers as unknown[]).length === 0);

      const mallory = chat('mallory', 'm');
      malHex = (await mallory.event((e) => e.event === 'registered')).peer_id as string;
      await mallory.event(
        (e) => e.event === 'presence' && (e.peers as { name: string }[]).some((p) => p.name === 'alice'),
      );
      mallory.send({ cmd: 'connect', peer: 'alice' });
      await alice.event((e) => e.event === 'connected' && e.peer_id === malHex);
      expect(liar.lies).toBeGreaterThan(0);
      expect(alice.json.some((e) => e.event === 'presence' && JSON.stringify(e).includes(malHex))).toBe(
        false,
      );

      const sentBefore = alice.events((e) => e.event === 'sent').length;
      alice.send({ cmd: 'send', peer: 'bob', text: 'for bob only' });
      const warn = await alice.event((e) => e.event === 'error' && e.code === 'KEY_CHANGED');
      expect(warn).toMatchObject({ peer: 'bob', message: expect.stringMatching(/key behind "bob" changed/) });
      // Answered as queued and held once its outbox record is on disk; then nothing waits in a
      // session to mallory (everything the send did is done before the next command's answer).
      await alice.event((e) => e.event === 'sent' && e.held === true);
      const sentNow = alice.events((e) => e.event === 'sent');
      expect(sentNow.length).toBe(sentBefore + 1);
      expect(sentNow.at(-1)).toMatchObject({ peer: 'bob', held: true });
      alice.send({ cmd: 'stats', peer: malHex });
      const stats = await alice.event((e) => e.event === 'stats');
      expect(stats).toMatchObject({ peer_id: malHex, pending: 0 });

      alice.send({ cmd: 'trust', peer: 'bob' });
      expect(await alice.event((e) => e.event === 'trusted')).toMatchObject({ peer: 'bob', peer_id: malHex });
      expect(await mallory.event((e) => e.event === 'message')).toMatchObject({ text: 'for bob only' });
      const released = sentNow.at(-1)!;
      await alice.event((e) => e.event === 'delivered' && e.id === released.id);
      const pins = JSON.parse(await readFile(path.join(dir, 'a', 'peers.json'), 'utf8')) as Json;
      const m = await keysIn('m');
      expect(pins).toEqual({
        version: 2,
        pins: {
          bob: { id: malHex, signKey: m.sign_key, dhKey: m.dh_key, since: expect.any(Number) },
        },
      });
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
