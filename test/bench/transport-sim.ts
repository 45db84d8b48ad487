/**
 * Punchline alone on the simulated network (common/net/sim): the session pair of
 * test/session/sim-harness.ts (A behind a NAT, B on the simulated internet), A's access link
 * losing `loss` of the packets in each direction, 10 ms one-way on it (1 ms on B's: a 22 ms
 * round trip), no bandwidth limit. Virtual time on the simulator's
 * VirtualClock: one seed gives the same figures on any machine, however loaded.
 *
 *  - bulk: `mib` MiB in 64 KiB messages; goodput = bytes / virtual seconds until the last arrived.
 *  - chat: 20 messages/s of 100 bytes for 10 s; one-way latency p50/p99 in virtual ms.
 */
import type { Simulator } from '../../common/net/sim/simulator.js';
import type { Session } from '../../common/session/session.js';
import { drive, simPair } from '../session/sim-harness.js';

export interface SimFigures {
  seed: number;
  loss: number;
  bulkMib: number;
  /** MiB per virtual second; NaN when the transfer did not finish within 10 virtual minutes. */
  goodputMibPerS: number;
  chatP50Ms: number;
  chatP99Ms: number;
  chatReceived: number;
}

async function simSessions(seed: number, loss: number): Promise<{ sim: Simulator; a: Session; b: Session }> {
  const { sim, a, b } = await simPair({ seed, linkA: { loss, delayMs: 10 } });
  if (!drive(sim, () => a.state === 'open' && b.state === 'open', 60_000))
    throw new Error('sim: no handshake');
  return { sim, a, b };
}

async function simBulk(seed: number, loss: number, mib: number): Promise<number> {
  const { sim, a, b } = await simSessions(seed, loss);
  const total = mib * 1024 * 1024;
  const chunk = new Uint8Array(64 * 1024);
  let sent = 0;
  let got = 0;
  const pump = (): void => {
    while (sent < total && a.send(chunk) !== false) sent += chunk.length;
  };
  a.on('writable', pump);
  b.on('message', (m) => void (got += m.data.length));
  const t0 = sim.clock.now();
  pump();
  const ok = drive(sim, () => got >= total, 600_000);
  const secs = (sim.clock.now() - t0) / 1000;
  a.close();
  b.close();
  return ok ? mib / secs : NaN;
}

async function simChat(seed: number, loss: number): Promise<{ p50: number; p99: number; received: number }> {
  const { sim, a, b } = await simSessions(seed, loss);
  const lat: number[] = [];
  b.on('message', (m) =>
    lat.push(sim.clock.now() - new DataView(m.data.buffer, m.data.byteOffset).getFloat64(0)),
  );
  const total = 200;
  for (let i = 0; i < total; i++)
    sim.clock.setTimeout(() => {
      const r = new Uint8Array(100);
      new DataView(r.buffer).setFloat64(0, sim.clock.now());
      a.send(r);
    }, i * 50);
  drive(sim, () => lat.length >= total, total * 50 + 30_000);
  a.close();
  b.close();
  lat.sort((x, y) => x - y);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { p50: q(0.5), p99: q(0.99), received: lat.length };
}

export async function simFigures(seed: number, loss: number, mib: number): Promise<SimFigures> {
  const chat = await simChat(seed, loss);
  return {
    seed,
    loss,
    bulkMib: mib,
    goodputMibPerS: await simBulk(seed, loss, mib),
    chatP50Ms: chat.p50,
    chatP99Ms: chat.p99,
    chatReceived: chat.received,
  };
}
