/**
 * The real product through the kernel's NAT: `punchline rendezvous` on the lab internet, two
 * `punchline chat --json` peers behind Linux MASQUERADE routers (port-restricted cone), and a
 * standard STUN client (coturn's turnutils_stunclient) asking the rendezvous for its address.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { CLI } from '../support/proc.js';
import { Lab, type Host, type LabProcess } from '../../common/lab/index.js';
import { describeLab } from './describe-lab.js';

const SERVER_IP = '203.0.113.10';
const PORT = 7000;

let lab: Lab | undefined;
let dataDir: string | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

async function rendezvous(l: Lab): Promise<Host> {
  const server = await l.addHost('server', { on: l.internet, ip: SERVER_IP });
  const p = server.node(CLI, ['rendezvous', '--host', SERVER_IP, '--port', String(PORT)]);
  await p.waitForLine(/listening on udp/, 10_000);
  return server;
}

function chat(host: Host, name: string): LabProcess {
  dataDir ??= mkdtempSync(path.join(os.tmpdir(), 'punchline-lab-'));
  return host.node(CLI, [
    'chat',
    '--server',
    `${SERVER_IP}:${PORT}`,
    '--name',
    name,
    '--json',
    '--data-dir',
    path.join(dataDir, name),
  ]);
}

describeLab('real-NAT lab: punchline through Linux NAT', () => {
  it('cone/cone: two peers behind port-restricted cone NATs connect directly and chat', async () => {
    lab = await Lab.create();
    await rendezvous(lab);
    const natA = await lab.addRouter('natA', { nat: 'cone' });
    const natB = await lab.addRouter('natB', { nat: 'cone' });
    const a = chat(await lab.addHost('a', { on: natA }), 'alice');
    const b = chat(await lab.addHost('b', { on: natB }), 'bob');
    const regA = await a.nextJson({ event: 'registered', transport: 'udp' }, 10_000);
    const regB = await b.nextJson({ event: 'registered', transport: 'udp' }, 10_000);
    expect(String(regA.public)).toMatch(new RegExp(`^${natA.wanIp.replace(/\./g, '\\.')}:\\d+$`));
    expect(String(regB.public)).toMatch(new RegExp(`^${natB.wanIp.replace(/\./g, '\\.')}:\\d+$`));
    await a.nextJson((e) => e.event === 'presence' && JSON.stringify(e.peers).includes('"bob"'), 10_000);

    a.sendJson({ cmd: 'connect', peer: 'bob' });
    const ca = await a.nextJson({ event: 'connected' }, 10_000);
    const cb = await b.nextJson({ event: 'connected' }, 10_000);
    // The session opens on the relay or directly, whichever finishes first; it must end direct.
    const direct = async (p: typeof a, c: Record<string, unknown>): Promise<Record<string, unknown>> =>
      c.path === 'direct' ? c : p.nextJson((e) => e.event === 'path' && e.path === 'direct', 10_000);
    expect(await direct(a, ca)).toMatchObject({ peer: 'bob', path: 'direct', remote: regB.public });
    expect(await direct(b, cb)).toMatchObject({ peer: 'alice', path: 'direct', remote: regA.public });
    // How fast is printed, not asserted (a loaded machine stretches the clock); the waits above
    // bound it. The counted form of "direct within 2 s" is relay-upgrade.test.ts.
    console.log(`lab cone/cone: direct in ${String(ca.ms)} ms (alice) / ${String(cb.ms)} ms (bob)`);

    for (let i = 0; i < 5; i++) {
      a.sendJson({ cmd: 'send', peer: 'bob', text: `a->b ${i}` });
      b.sendJson({ cmd: 'send', peer: 'alice', text: `b->a ${i}` });
    }
    for (let i = 0; i < 5; i++) {
      expect(await b.nextJson({ event: 'message' }, 5000)).toMatchObject({
        from: 'alice',
        text: `a->b ${i}`,
      });
      expect(await a.nextJson({ event: 'message' }, 5000)).toMatchObject({ from: 'bob', text: `b->a ${i}` });
    }
  });

  it('a standard STUN client behind a NAT gets its public address from the rendezvous', async () => {
    lab = await Lab.create();
    await rendezvous(lab);
    const nat = await lab.addRouter('nat', { nat: 'cone' });
    const host = await lab.addHost('c', { on: nat });
    const r = await host.exec('turnutils_stunclient', ['-p', String(PORT), SERVER_IP], { timeoutMs: 10_000 });
    const m = /UDP reflexive addr: ([\d.]+):(\d+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(m![1]).toBe(nat.wanIp);
  });
});
