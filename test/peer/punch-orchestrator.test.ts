/**
 * Punch orchestration (peer/punch-orchestrator.ts) on a virtual clock with fake links: what it does
 * without a way to the peer, with the relay to fall back on, and at the probe budget.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { Emitter } from '../../common/emitter.js';
import { PunchlineError } from '../../common/errors.js';
import { generateIdentity } from '../../common/identity/identity.js';
import { silentLogger } from '../../common/log.js';
import { PROBE_BUDGET } from '../../common/path/probe-budget.js';
import { toHex } from '../../common/wire/bytes.js';
import { MsgType } from '../../common/wire/constants.js';
import type { Introduce } from '../../common/wire/messages.js';
import type { PeerEvents } from '../../peer/peer-events.js';
import type { PeerLink } from '../../peer/peer-link.js';
import { newSearchCounters } from '../../peer/port-search.js';
import { PeerTable } from '../../peer/peer-table.js';
import { PunchOrchestrator } from '../../peer/punch-orchestrator.js';
import { PUNCH_DEFAULTS, newPunchCounters } from '../../peer/puncher.js';
import type { RendezvousClient } from '../../peer/rendezvous-client.js';

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
const PEER_ID = new Uint8Array(16).fill(7);

/** A link as orchestration sees it: every introduction starts a new session; nothing ever opens. */
class FakeLink extends Emitter<{ open: object; closed: { reason: string; error?: PunchlineError } }> {
  readonly idHex = toHex(PEER_ID);
  readonly id = PEER_ID;
  name = 'bob';
  present = true;
  pendingCount = 0;
  open = false;
  path: 'direct' | 'relay' | undefined = undefined;
  session: { state: string; isInitiator: boolean } | undefined;
  closes = 0;
  consider(): 'new-session' {
    return 'new-session';
  }
  adopt(): void {
    this.session = { state: 'handshaking', isInitiator: true };
  }
  candidate(): void {}
  begin(): void {}
  directFailed(): void {}
  shouldPunch(): boolean {
    return true;
  }
  useDirect(): void {}
  close(): void {
    this.closes++;
    this.session = { state: 'closed', isInitiator: true };
  }
}

let introSeq = 0;
const intro = (): Introduce => ({
  type: MsgType.INTRODUCE,
  txid: new Uint8Array(8),
  introId: new Uint8Array(8).fill(++introSeq),
  initiator: true,
  id: PEER_ID,
  name: 'bob',
  signKey: new Uint8Array(32),
  dhKey: new Uint8Array(32),
  observed: { address: '198.51.100.7', port: 4000 },
  lan: [],
});

function world(o: { udp?: boolean; relay?: 'none' | 'down' | 'up'; signalling?: Partial<RendezvousClient> }) {
  const clock = new VirtualClock();
  const link = new FakeLink();
  const table = new PeerTable(
    () => link as unknown as PeerLink,
    () => {},
  );
  const errors: PeerEvents['error'][] = [];
  const counters = newPunchCounters();
  const udp = o.udp
    ? ({ state: 'registered', observed: undefined } as unknown as RendezvousClient)
    : undefined;
  const relay = o.relay ?? 'none';
  const sent = { n: 0 };
  const p = new PunchOrchestrator({
    identity: generateIdentity(),
    clock,
    logger: silentLogger,
    randomBytes: () => Uint8Array.of(0x80, 0, 0, 0),
    counters,
    options: PUNCH_DEFAULTS,
    mode: 'auto',
    send: () => sent.n++,
    network: {
      createUdpSocket: () => {
        throw new Error('no port search here');
      },
      localAddresses: () => [],
    },
    searchCounters: newSearchCounters(),
    deliver: () => {},
    nat: () => ({ kind: 'unknown' }),
    udp: () => udp,
    signalling: () => o.signalling as RendezvousClient | undefined,
    relay: () => ({ configured: relay !== 'none', ready: relay === 'up' }),
    table,
    emit: (name, e) => {
      if (name === 'error') errors.push(e as PeerEvents['error']);
    },
  });
  return { clock, link, table, errors, counters, p, sent };
}

const failure = async (pr: Promise<unknown>): Promise<string | undefined> =>
  pr.then(
    () => undefined,
    (e: unknown) => (e instanceof PunchlineError ? `${e.code}: ${e.message}` : String(e)),
  );

describe('punch orchestration', () => {
  it('no UDP and no relay: PUNCH_FAILED at once, the session closed', async () => {
    const { link, errors, p } = world({});
    expect(await failure(p.punch(intro()))).toBe('PUNCH_FAILED: cannot reach bob: no UDP path and no relay');
    expect(link.closes).toBe(1);
    expect(errors).toEqual([
      { code: 'PUNCH_FAILED', message: 'cannot reach bob: no UDP path and no relay', peer: 'bob' },
    ]);
  });

  it('punching finds nothing: with the relay up the session stays there and the direct path is retried', async () => {
    const { clock, link, errors, p, table, sent } = world({ udp: true, relay: 'up' });
    const done = p.punch(intro());
    done.catch(() => {});
    clock.advance(PUNCH_DEFAULTS.deadlineMs);
    expect(sent.n).toBeGreaterThan(0); // probes went out
    await flush();
    expect(errors).toEqual([]);
    expect(link.closes).toBe(0);
    expect(table.get(link.idHex)!.directTimer).toBeDefined();
    p.close();
  });

  it('punching finds nothing and there is no relay: the failure says what waits, and a reconnect follows', async () => {
    const { clock, link, errors, p, table } = world({ udp: true });
    link.pendingCount = 2;
    const done = failure(p.punch(intro()));
    clock.advance(PUNCH_DEFAULTS.deadlineMs);
    expect(await done).toMatch(/^PUNCH_FAILED: /);
    expect(errors[0]!.message).toMatch(/\(2 messages waiting; will retry\)$/);
    expect(link.closes).toBe(1);
    expect(table.get(link.idHex)!.reconnectTimer).toBeDefined();
    p.close();
  });

  it(`at most ${PROBE_BUDGET.attemptsPerWindow} attempts a window per peer; later ones ride the relay or fail`, async () => {
    const { errors, counters, p } = world({ udp: true });
    for (let i = 0; i < PROBE_BUDGET.attemptsPerWindow; i++) p.punch(intro()).catch(() => {});
    expect(counters.attemptsLimited).toBe(0);
    expect(await failure(p.punch(intro()))).toBe(
      `PUNCH_FAILED: cannot reach bob: ${PROBE_BUDGET.attemptsPerWindow} punch attempts in 60 s already, and no relay`,
    );
    expect(counters.attemptsLimited).toBe(1);
    expect(errors.at(-1)!.code).toBe('PUNCH_FAILED');
    p.close();
  });

  it('probes of no attempt are refused; connect needs a server to introduce us, and reports its refusal', async () => {
    const { link, errors, p, table } = world({
      signalling: { connect: () => Promise.reject(new PunchlineError('UNKNOWN_PEER', 'no such peer')) },
    });
    const probe = { type: MsgType.PROBE, introId: new Uint8Array(8).fill(0xee) } as Parameters<
      typeof p.probe
    >[0];
    expect(p.probe(probe, { address: '198.51.100.7', port: 4000 }, 100)).toBe(false);
    const e = table.entry(link.id, link.name);
    link.pendingCount = 1;
    expect(await failure(p.connect(e))).toBe('UNKNOWN_PEER: no such peer');
    expect(errors).toEqual([
      { code: 'UNKNOWN_PEER', message: 'no such peer (1 message waiting; will retry)', peer: 'bob' },
    ]);
    expect(e.connecting).toBeUndefined();
    const none = world({});
    expect(await failure(none.p.connect(none.table.entry(PEER_ID, 'bob')))).toBe('CLOSED: not started');
    p.close();
  });
});
