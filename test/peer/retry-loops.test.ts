/** The node's two backoff loops (peer/retry-loops.ts) on a virtual clock, with fake peers. */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { silentLogger } from '../../common/log.js';
import type { Introduce } from '../../common/wire/messages.js';
import type { PathMode, PeerLink } from '../../peer/peer-link.js';
import type { PeerEntry } from '../../peer/peer-table.js';
import { DIRECT_RETRY, RECONNECT_BACKOFF, RetryLoops } from '../../peer/retry-loops.js';

/** A draw of exactly 0.5: every delay is its backoff's base, without jitter. */
const half = (): Uint8Array => Uint8Array.of(0x80, 0, 0, 0);
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

interface FakeLink {
  name: string;
  open: boolean;
  present: boolean;
  path: 'direct' | 'relay' | undefined;
  session: { isInitiator: boolean } | undefined;
}

function entry(link: Partial<FakeLink> = {}): PeerEntry & { link: FakeLink } {
  const l: FakeLink = {
    name: 'bob',
    open: false,
    present: true,
    path: undefined,
    session: undefined,
    ...link,
  };
  return {
    link: l as FakeLink & PeerLink,
    connecting: undefined,
    reconnectTimer: undefined,
    reconnectTries: 0,
    directTimer: undefined,
    directTries: 0,
    punchStarts: [],
    openMs: 0,
  } as unknown as PeerEntry & { link: FakeLink };
}

function loops(entries: PeerEntry[], mode: PathMode = 'auto') {
  const clock = new VirtualClock();
  const log = { connects: 0, asks: 0, punches: 0, udp: true, introFails: false };
  const r = new RetryLoops({
    clock,
    logger: silentLogger,
    randomBytes: half,
    mode,
    connect: () => {
      log.connects++;
      return Promise.resolve();
    },
    udpRegistered: () => log.udp,
    reintroduce: () => {
      log.asks++;
      return log.introFails ? Promise.reject(new Error('no')) : Promise.resolve({} as Introduce);
    },
    introduce: () => {
      log.asks++;
      return log.introFails ? Promise.reject(new Error('no')) : Promise.resolve({} as Introduce);
    },
    punch: () => {
      log.punches++;
      return Promise.resolve();
    },
    entries: () => entries,
  });
  return { clock, log, r };
}

describe('retry loops', () => {
  it('reconnect: 1 s, then 2 s, one timer at a time; nothing when the session opened or the peer left', () => {
    const e = entry();
    const { clock, log, r } = loops([e]);
    expect(RECONNECT_BACKOFF.initialMs).toBe(1_000);
    r.scheduleReconnect(e);
    r.scheduleReconnect(e); // already pending: no second timer
    clock.advance(999);
    expect(log.connects).toBe(0);
    clock.advance(1);
    expect(log.connects).toBe(1);
    r.scheduleReconnect(e);
    clock.advance(1_999);
    expect(log.connects).toBe(1);
    clock.advance(1);
    expect(log.connects).toBe(2);
    // Opened meanwhile, or gone: the timer fires and does nothing.
    r.scheduleReconnect(e);
    e.link.open = true;
    clock.advance(4_000);
    expect(log.connects).toBe(2);
    e.link.open = false;
    e.link.present = false;
    r.scheduleReconnect(e);
    clock.advance(8_000);
    expect(log.connects).toBe(2);
    // Connected: the loop starts over from 1 s.
    r.connected(e);
    expect(e.reconnectTries).toBe(0);
    e.link.present = true;
    r.scheduleReconnect(e);
    clock.advance(1_000);
    expect(log.connects).toBe(3);
  });

  it('direct path: the relayed initiator asks again after 5 s, then 10 s when that fails; only in auto mode', async () => {
    const e = entry({ open: true, path: 'relay', session: { isInitiator: true } });
    const { clock, log, r } = loops([e]);
    expect(DIRECT_RETRY.initialMs).toBe(5_000);
    log.introFails = true;
    r.scheduleDirect(e);
    clock.advance(5_000);
    expect(log.asks).toBe(1);
    await flush();
    expect(log.punches).toBe(0);
    log.introFails = false;
    clock.advance(9_999);
    expect(log.asks).toBe(1);
    clock.advance(1);
    expect(log.asks).toBe(2);
    await flush();
    expect(log.punches).toBe(1);
    // The responder never asks (no crossing introductions); nor does any peer outside auto mode.
    const responder = entry({ open: true, path: 'relay', session: { isInitiator: false } });
    r.scheduleDirect(responder);
    expect(responder.directTimer).toBeUndefined();
    const other = entry({ open: true, path: 'relay', session: { isInitiator: true } });
    const relayOnly = loops([other], 'relay-only');
    relayOnly.r.scheduleDirect(other);
    expect(other.directTimer).toBeUndefined();
  });

  it('without UDP the retry waits for the next turn; a direct path or a new network resets the loop', () => {
    const e = entry({ open: true, path: 'relay', session: { isInitiator: true } });
    const { clock, log, r } = loops([e]);
    log.udp = false;
    r.scheduleDirect(e);
    clock.advance(5_000);
    expect(log.asks).toBe(0);
    expect(e.directTries).toBe(2); // rescheduled: the next wait is 10 s
    r.directFound(e);
    expect([e.directTimer, e.directTries]).toEqual([undefined, 0]);
    log.udp = true;
    r.scheduleDirect(e);
    r.retryDirectNow(); // our endpoint changed: at once, and the next wait starts over at 5 s
    expect(log.asks).toBe(1);
    expect(e.directTries).toBe(0);
  });

  it('close stops both loops', () => {
    const e = entry({ open: true, path: 'relay', session: { isInitiator: true } });
    const gone = entry();
    const { clock, log, r } = loops([e, gone]);
    r.scheduleDirect(e);
    r.scheduleReconnect(gone);
    r.close();
    r.scheduleReconnect(gone);
    clock.advance(60_000);
    expect([log.asks, log.connects]).toEqual([0, 0]);
  });
});
