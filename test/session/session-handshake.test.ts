import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import type { PunchlineError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import { Rng } from '../../common/net/sim/random.js';
import { MsgType } from '../../common/wire/constants.js';
import { SESSION_DEFAULTS } from '../../common/session/options.js';
import {
  SessionHandshake,
  freshConnectionId,
  initialConnectionId,
} from '../../common/session/session-handshake.js';
import type { SessionPath } from '../../common/session/session-path.js';
import { type DropCounts, type SessionStats, newDropCounts } from '../../common/session/stats.js';
import { orderedKeys, seededRandom } from './helpers.js';

const prologue = new Uint8Array([9, 9, 9]);
const initialCid = initialConnectionId(prologue);

/** One side's handshake with a host that records what it does; `peer` receives what it sends. */
class Side {
  state: SessionStats['state'] = 'idle';
  readonly sent: { type: number; at: number }[] = [];
  readonly dropped: DropCounts = newDropCounts();
  opened = 0;
  answered = 0;
  failure: PunchlineError | undefined;
  peer: Side | undefined;
  readonly hs: SessionHandshake;
  readonly path: SessionPath;

  constructor(
    readonly clock: VirtualClock,
    which: 0 | 1,
    roles: { initiator?: boolean; keyRuleFallbackMs?: number } = {},
  ) {
    const keys = orderedKeys(3);
    const random = seededRandom(new Rng(3, `side${which}`));
    this.path = {
      id: { kind: 'direct', remote: { address: '192.0.2.9', port: 9000 + which } },
      send: (d) => {
        this.sent.push({ type: d[1]!, at: clock.now() });
        const peer = this.peer;
        if (peer) clock.setTimeout(() => peer.hs.onPacket(d, peer.path), 10);
      },
    };
    const config = {
      staticKey: keys[which],
      expectedRemoteStatic: keys[1 - which]!.publicKey,
      prologue,
      localCid: freshConnectionId(random, initialCid),
      params: { receiveWindow: 1 << 20, maxAckDelayMs: 25 },
      randomBytes: random,
    };
    this.hs = new SessionHandshake(config, initialCid, roles, SESSION_DEFAULTS, {
      clock,
      log: silentLogger,
      dropped: this.dropped,
      state: () => this.state,
      path: () => this.path,
      sendRaw: (path, d) => path.send(d),
      opened: () => {
        this.state = 'open';
        this.opened++;
      },
      answerFinish: () => this.answered++,
      fail: (e) => {
        this.state = 'closed';
        this.failure = e;
        this.hs.close();
      },
    });
  }

  start(): void {
    this.state = 'handshaking';
    this.hs.start();
  }
}

function pair(
  o: { aInitiator?: boolean; bInitiator?: boolean; aFallbackMs?: number } = {},
): [Side, Side, VirtualClock] {
  const clock = new VirtualClock();
  const a = new Side(clock, 0, { initiator: o.aInitiator, keyRuleFallbackMs: o.aFallbackMs });
  const b = new Side(clock, 1, { initiator: o.bInitiator });
  a.peer = b;
  b.peer = a;
  return [a, b, clock];
}

describe('SessionHandshake', () => {
  it('a peer on the older key rule that asked with the higher key: both wait, unless the lower key falls back to initiating (keyRuleFallbackMs)', () => {
    // b holds the higher key and waits (the older rule); a did not ask, so the owner made it responder.
    const [a0, b0, clock0] = pair({ aInitiator: false, bInitiator: false });
    a0.start();
    b0.start();
    clock0.advance(40_000);
    expect([a0.opened, b0.opened]).toEqual([0, 0]); // a stall: nobody sends message 1
    const [a, b, clock] = pair({ aInitiator: false, bInitiator: false, aFallbackMs: 1_000 });
    a.start();
    b.start();
    clock.advance(999);
    expect(a.sent).toEqual([]);
    clock.advance(100);
    expect([a.opened, b.opened]).toEqual([1, 1]);
    expect(a.sent[0]).toEqual({ type: MsgType.SESSION_INIT, at: 1_000 });
    expect(a.hs.isInitiator).toBe(true);
  });

  it('with keyRuleFallbackMs, a responder that hears message 1 in time never starts one of its own', () => {
    const [a, b, clock] = pair({ aInitiator: false, bInitiator: true, aFallbackMs: 1_000 });
    a.start();
    b.start();
    clock.advance(5_000);
    expect([a.opened, b.opened]).toEqual([1, 1]);
    expect(a.sent.map((x) => x.type)).toEqual([MsgType.SESSION_RESPONSE]);
    expect(a.hs.isInitiator).toBe(false);
  });

  it('the lower key initiates; message 1 is retransmitted with backoff (1, 2, 4, 8, 8 s) until the 30 s deadline', () => {
    const [a, b, clock] = pair();
    a.peer = undefined; // nobody answers
    expect([a.hs.isInitiator, b.hs.isInitiator]).toEqual([true, false]);
    a.start();
    clock.advance(40_000);
    expect(a.sent.map((s) => s.at)).toEqual([0, 1_000, 3_000, 7_000, 15_000, 23_000]);
    expect(a.sent.every((s) => s.type === MsgType.SESSION_INIT)).toBe(true);
    expect(a.hs.retransmits).toBe(5);
    expect(a.failure?.code).toBe('TIMEOUT');
    expect(clock.timerCount).toBe(0);
  });

  it('three messages open both; the responder is confirmed at once, the initiator resends message 3 until confirm()', () => {
    const [a, b, clock] = pair();
    b.start();
    a.start();
    clock.advance(30);
    expect([a.opened, b.opened]).toEqual([1, 1]);
    expect([a.hs.confirmed, b.hs.confirmed]).toEqual([false, true]);
    b.peer = undefined; // the responder's packets (its confirmation) are lost
    clock.advance(1_000);
    expect(a.sent.map((s) => s.type)).toEqual([
      MsgType.SESSION_INIT,
      MsgType.SESSION_FINISH,
      MsgType.SESSION_FINISH, // resent after 1 s
    ]);
    expect(b.answered).toBe(1); // the open responder answers a repeated message 3 (with a PING)
    a.hs.confirm(); // an authenticated packet arrived
    clock.advance(60_000);
    expect(a.sent.length).toBe(3);
    expect(a.failure).toBeUndefined(); // confirmed: the deadline is gone
  });

  it('an unconfirmed initiator fails with TIMEOUT at the deadline', () => {
    const [a, b, clock] = pair();
    a.start();
    b.start();
    clock.advance(30);
    b.peer = undefined;
    clock.advance(30_000);
    expect(a.failure?.code).toBe('TIMEOUT');
    expect(b.failure).toBeUndefined();
  });

  it('simultaneous open (both forced to initiate): the higher key yields and answers; both open once', () => {
    const [a, b, clock] = pair({ aInitiator: true, bInitiator: true });
    a.start();
    b.start();
    clock.advance(100);
    expect([a.opened, b.opened]).toEqual([1, 1]);
    expect([a.hs.isInitiator, b.hs.isInitiator]).toEqual([true, false]);
    expect(a.dropped.stray).toBe(1); // b's message 1, ignored by the side that stays initiator
  });

  it('a handshake packet for another connection id is counted, not read', () => {
    const [a, b, clock] = pair();
    a.start();
    b.start();
    const bogus = new Uint8Array(40);
    bogus[0] = 0x51;
    bogus[1] = MsgType.SESSION_RESPONSE;
    a.hs.onPacket(bogus, b.path);
    expect([a.dropped.unknownCid, a.dropped.malformed]).toEqual([1, 0]);
    clock.advance(30);
    expect([a.opened, b.opened]).toEqual([1, 1]);
  });
});
