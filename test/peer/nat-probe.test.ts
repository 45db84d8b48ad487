/**
 * The port behaviour measurement (peer/nat-probe.ts) on a virtual clock with fake sockets: its
 * schedule, what answers it takes, and that the temporary socket is always closed.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { silentLogger } from '../../common/log.js';
import type { PortBehaviour } from '../../common/nat-behaviour.js';
import type { DatagramHandler, DatagramSocket, Endpoint } from '../../common/net/types.js';
import { encodeBindingSuccess } from '../../common/wire/stun.js';
import { NatProbe } from '../../peer/nat-probe.js';
import type { RendezvousClient } from '../../peer/rendezvous-client.js';
import { ServerGate } from '../../peer/server-gate.js';

const SERVER: Endpoint = { address: '203.0.113.10', port: 7000 };
const ALT: Endpoint = { address: SERVER.address, port: 7001 };
const PUBLIC = '198.51.100.7';

interface Sent {
  at: number;
  via: 'main' | 'temp';
  to: Endpoint;
  txid: Uint8Array;
}

function setup() {
  const clock = new VirtualClock();
  let next = 0;
  const randomBytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => next++ & 255);
  const gate = new ServerGate(SERVER, randomBytes);
  const sent: Sent[] = [];
  const temp = { handler: undefined as DatagramHandler | undefined, closed: 0, made: 0 };
  const socket = (): DatagramSocket => {
    temp.made++;
    return {
      bind: () => Promise.resolve({ address: '0.0.0.0', port: 6000 }),
      send: (d, to) => sent.push({ at: clock.now(), via: 'temp', to, txid: d.slice(8, 20) }),
      onMessage: (h) => void (temp.handler = h),
      localEndpoint: () => ({ address: '0.0.0.0', port: 6000 }),
      close: () => void temp.closed++,
    };
  };
  const probe = new NatProbe({
    server: SERVER,
    clock,
    randomBytes,
    logger: silentLogger,
    gate,
    send: (d, to) => sent.push({ at: clock.now(), via: 'main', to, txid: d.slice(8, 20) }),
    network: { createUdpSocket: socket, localAddresses: () => [] },
    local: { address: '0.0.0.0', port: 5000 },
    bind: undefined,
  });
  const told: PortBehaviour[] = [];
  const client = {
    nat: { kind: 'unknown' } as PortBehaviour,
    tellNat: (nat: PortBehaviour) => {
      client.nat = nat;
      told.push(nat);
      return Promise.resolve(true);
    },
  };
  const register = (observed: Endpoint): void =>
    probe.registered(client as unknown as RendezvousClient, observed);
  return { clock, gate, sent, temp, probe, told, register };
}

/** Let the promise chains (bind, answers) run. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

const answer = (txid: Uint8Array, port: number): Uint8Array =>
  encodeBindingSuccess(txid, { address: PUBLIC, port });

describe('NatProbe: the port behaviour measurement', () => {
  it('unanswered: each request at 0, 250, 750 ms, given up at 1500 ms; unknown, told; socket closed, no timer left', async () => {
    const { clock, sent, temp, told, register } = setup();
    register({ address: PUBLIC, port: 5000 });
    await settle();
    await clock.advanceAsync(1_499);
    expect(told).toEqual([]);
    await clock.advanceAsync(1);
    await settle();
    const times = (via: string, to: Endpoint): number[] =>
      sent.filter((s) => s.via === via && s.to.port === to.port).map((s) => s.at);
    expect(times('main', ALT)).toEqual([0, 250, 750]);
    expect(times('temp', SERVER)).toEqual([0, 250, 750]);
    expect(times('temp', ALT)).toEqual([0, 250, 750]);
    expect(sent.filter((s) => s.via === 'main' && s.to.port === SERVER.port)).toEqual([]);
    expect(told).toEqual([{ kind: 'unknown' }]);
    expect(temp.closed).toBe(1);
    expect(clock.timerCount).toBe(0);
  });

  it('answers are taken only from the server’s address with a txid it sent; sequential ports are read off them', async () => {
    const { sent, gate, temp, told, register } = setup();
    register({ address: PUBLIC, port: 40000 });
    await settle();
    const [m2, m3, m4] = [
      sent.find((s) => s.via === 'main')!,
      sent.find((s) => s.via === 'temp' && s.to.port === SERVER.port)!,
      sent.find((s) => s.via === 'temp' && s.to.port === ALT.port)!,
    ];
    // Not from the server's address, or not a txid it sent: refused (the demux counts them).
    expect(gate.noteStunAnswer(answer(m2.txid, 40001), { address: '192.0.2.1', port: 7001 })).toBe(false);
    expect(gate.noteStunAnswer(answer(new Uint8Array(12).fill(0xee), 40001), ALT)).toBe(false);
    expect(gate.noteStunAnswer(answer(m2.txid, 40001), { address: SERVER.address, port: 7002 })).toBe(false);
    expect(gate.noteStunAnswer(answer(m2.txid, 40001), ALT)).toBe(true);
    temp.handler!(answer(m3.txid, 40002), SERVER);
    temp.handler!(answer(m4.txid, 40099), { address: '192.0.2.1', port: 7001 }); // ignored
    temp.handler!(answer(m4.txid, 40003), ALT);
    await settle();
    expect(told).toEqual([{ kind: 'sequential', step: 1, last: 40003 }]);
    expect(temp.closed).toBe(1);
    // A late duplicate answer is still ours: not counted as malformed.
    expect(gate.noteStunAnswer(answer(m2.txid, 40001), ALT)).toBe(true);
  });

  it('a re-registration from the same mapping tells again without measuring; a new mapping measures again', async () => {
    const { clock, temp, told, register } = setup();
    register({ address: PUBLIC, port: 5000 });
    register({ address: PUBLIC, port: 5000 }); // while measuring: told once, when it ends
    await settle();
    await clock.advanceAsync(1_500);
    await settle();
    expect(told).toHaveLength(1);
    register({ address: PUBLIC, port: 5000 });
    expect(told).toHaveLength(2);
    expect(temp.made).toBe(1);
    register({ address: PUBLIC, port: 6000 });
    await settle();
    expect(temp.made).toBe(2);
    await clock.advanceAsync(1_500);
    await settle();
    expect(told).toHaveLength(3);
  });

  it('close() mid-measurement: the temporary socket closes, no timer is left, nothing is told', async () => {
    const { clock, temp, told, probe, register } = setup();
    register({ address: PUBLIC, port: 5000 });
    await settle();
    await clock.advanceAsync(300);
    probe.close();
    probe.close();
    await settle();
    expect(temp.closed).toBeGreaterThanOrEqual(1);
    expect(clock.timerCount).toBe(0);
    await clock.advanceAsync(5_000);
    expect(told).toEqual([]);
  });
});
