import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { silentLogger } from '../../common/log.js';
import { toHex } from '../../common/wire/bytes.js';
import { MsgType } from '../../common/wire/constants.js';
import { decode } from '../../common/wire/messages.js';
import type { Connect, IntroduceAck, Message } from '../../common/wire/messages.js';
import { AuthChannel } from '../../common/wire/server-auth.js';
import { Bindings } from '../../rendezvous/bindings.js';
import type { ServerCore } from '../../rendezvous/core.js';
import { IntroducedPairs } from '../../rendezvous/introduced.js';
import { Introducer } from '../../rendezvous/introductions.js';
import { LimitLog } from '../../rendezvous/limit-log.js';
import { RENDEZVOUS_DEFAULTS } from '../../rendezvous/options.js';
import { InMemoryRegistry } from '../../rendezvous/registry.js';
import type { ReplyContext } from '../../rendezvous/reply.js';
import { RendezvousStats } from '../../rendezvous/stats.js';
import { sealed } from '../support/raw-register.js';

/** One member: its record in the registry, its live binding, and its side of the channel. */
interface Member {
  id: Uint8Array;
  ctx: ReplyContext;
  /** What the server sent it, opened and decoded. */
  got: Message[];
  peer: AuthChannel;
}

/** An Introducer on virtual time, with the core the server would give it. */
function setup(): {
  intro: Introducer;
  core: ServerCore;
  clock: VirtualClock;
  join: (n: number, regTxid?: string) => Member;
} {
  const clock = new VirtualClock();
  let counter = 0;
  const core: ServerCore = {
    opts: { ...RENDEZVOUS_DEFAULTS },
    clock,
    log: silentLogger,
    random: (n) => Uint8Array.from({ length: n }, () => ++counter & 0xff),
    stats: new RendezvousStats(),
    registry: new InMemoryRegistry(),
    bindings: new Bindings(),
    limitLog: new LimitLog(clock, silentLogger),
  };
  const introduced = new IntroducedPairs({ ttlMs: 600_000, maxPerPeer: 256 });
  const join = (n: number, regTxid = '01'): Member => {
    const id = new Uint8Array(16).fill(n);
    const observed = { address: `203.0.113.${n}`, port: 4000 };
    const keys = { send: new Uint8Array(32).fill(n), recv: new Uint8Array(32).fill(n + 100) };
    const peer = new AuthChannel({ send: keys.recv, recv: keys.send });
    const got: Message[] = [];
    const send = (b: Uint8Array): void => {
      expect(peer.open(b)).toBe(true);
      got.push(decode(b));
    };
    core.registry.upsert({
      id,
      idHex: toHex(id),
      room: 'lobby',
      name: `m${n}`,
      signKey: new Uint8Array(32),
      dhKey: new Uint8Array(32),
      lan: [],
      udp: { observed, lastSeen: 0, regTxid, regTime: 0 },
    });
    core.bindings.set(toHex(id), 'udp', { send, auth: new AuthChannel(keys) });
    return { id, got, peer, ctx: { from: observed, transport: 'udp', reply: send } };
  };
  return { intro: new Introducer(core, introduced), core, clock, join };
}

const txid = (n: number): Uint8Array => new Uint8Array(8).fill(n);

function connect(intro: Introducer, from: Member, to: Member, t: Uint8Array): void {
  const raw = sealed(from.peer, { type: MsgType.CONNECT, txid: t, id: from.id, target: to.id });
  intro.connect(decode(raw) as Connect, from.ctx, raw);
}

const introductions = (m: Member): Extract<Message, { type: typeof MsgType.INTRODUCE }>[] =>
  m.got.filter(
    (x): x is Extract<Message, { type: typeof MsgType.INTRODUCE }> => x.type === MsgType.INTRODUCE,
  );

describe('Introducer: CONNECT -> INTRODUCE on virtual time', () => {
  it("the target's INTRODUCE is retransmitted with doubling gaps until its authenticated ACK", () => {
    const { intro, core, clock, join } = setup();
    const a = join(1);
    const b = join(2);
    connect(intro, a, b, txid(1));
    expect(introductions(a)).toHaveLength(1);
    expect(introductions(a)[0]!.initiator).toBe(true);
    expect(introductions(b)).toHaveLength(1);
    expect(introductions(b)[0]!.initiator).toBe(false);
    expect(toHex(introductions(b)[0]!.introId)).toBe(toHex(introductions(a)[0]!.introId));
    clock.advance(249);
    expect(introductions(b)).toHaveLength(1);
    clock.advance(1); // 250 ms
    clock.advance(500); // 750 ms
    expect(introductions(b)).toHaveLength(3);
    // An ACK that is not the target's (a's own key) changes nothing; the target's ends it.
    const toB = introductions(b)[0]!;
    const forged = sealed(a.peer, { type: MsgType.INTRODUCE_ACK, txid: toB.txid, id: a.id });
    intro.ack(decode(forged) as IntroduceAck, a.ctx, forged);
    clock.advance(1000); // 1750 ms
    expect(introductions(b)).toHaveLength(4);
    const ack = sealed(b.peer, { type: MsgType.INTRODUCE_ACK, txid: toB.txid, id: b.id });
    intro.ack(decode(ack) as IntroduceAck, b.ctx, ack);
    clock.advance(60_000);
    expect(introductions(b)).toHaveLength(4);
    expect(clock.timerCount).toBe(0);
    expect(core.stats.introductions).toBe(1);
  });

  it('without an ACK it gives up after introRetries retransmissions; close() stops them early', () => {
    const { intro, clock, join } = setup();
    const a = join(1);
    const b = join(2);
    connect(intro, a, b, txid(1));
    clock.advance(60_000);
    expect(introductions(b)).toHaveLength(1 + RENDEZVOUS_DEFAULTS.introRetries);
    const c = join(3);
    connect(intro, a, c, txid(2));
    intro.close();
    intro.close(); // idempotent
    clock.advance(60_000);
    expect(introductions(c)).toHaveLength(1);
    expect(clock.timerCount).toBe(0);
  });

  it('a retransmitted CONNECT gets the same introduction and makes no new one', () => {
    const { intro, core, join } = setup();
    const a = join(1);
    const b = join(2);
    connect(intro, a, b, txid(1));
    connect(intro, a, b, txid(1));
    expect(introductions(a).map((m) => toHex(m.introId))).toEqual([
      toHex(introductions(a)[0]!.introId),
      toHex(introductions(a)[0]!.introId),
    ]);
    expect(introductions(b)).toHaveLength(1);
    expect(core.stats.introductions).toBe(1);
  });

  it('crossing CONNECTs share one introduction within the window; later, or from a new registration, a fresh one', () => {
    const { intro, core, clock, join } = setup();
    const a = join(1);
    const b = join(2);
    connect(intro, a, b, txid(1));
    const first = toHex(introductions(a)[0]!.introId);
    connect(intro, b, a, txid(2)); // b asks too, before its INTRODUCE reached it
    expect(introductions(b).map((m) => toHex(m.introId))).toEqual([first, first]);
    expect(introductions(a)).toHaveLength(1); // a holds that introduction already
    expect(core.stats.introductions).toBe(1);
    // Past the window (and a sweep): a new introduction.
    clock.advance(2_001);
    intro.sweep(clock.now());
    connect(intro, b, a, txid(3));
    expect(core.stats.introductions).toBe(2);
    const second = toHex(introductions(a).at(-1)!.introId);
    expect(second).not.toBe(first);
    // Within the window, but from a restarted a (a new registration, which never received that
    // introduction): not a crossing, a fresh one.
    const a2 = join(1, '02');
    connect(intro, a2, b, txid(4));
    expect(core.stats.introductions).toBe(3);
    expect(toHex(introductions(a2)[0]!.introId)).not.toBe(second);
  });
});
