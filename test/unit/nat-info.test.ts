import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { silentLogger } from '../../common/log.js';
import type { PortBehaviour } from '../../common/nat-behaviour.js';
import { toHex } from '../../common/wire/bytes.js';
import { MsgType, WireError } from '../../common/wire/constants.js';
import { decode } from '../../common/wire/messages.js';
import type { Connect, Introduce, Message, NatInfo } from '../../common/wire/messages.js';
import { AuthChannel } from '../../common/wire/server-auth.js';
import { Bindings } from '../../rendezvous/bindings.js';
import type { ServerCore } from '../../rendezvous/core.js';
import { IntroducedPairs } from '../../rendezvous/introduced.js';
import { Introducer } from '../../rendezvous/introductions.js';
import { LimitLog } from '../../rendezvous/limit-log.js';
import { takeNatInfo } from '../../rendezvous/nat-info.js';
import { RENDEZVOUS_DEFAULTS } from '../../rendezvous/options.js';
import { InMemoryRegistry } from '../../rendezvous/registry.js';
import type { ReplyContext } from '../../rendezvous/reply.js';
import { RendezvousStats } from '../../rendezvous/stats.js';
import { sealed } from '../support/raw-register.js';

interface Member {
  id: Uint8Array;
  ctx: ReplyContext;
  got: Message[];
  /** Raw bytes of everything the server sent it. */
  raw: Uint8Array[];
  peer: AuthChannel;
}

/** The server's NAT_INFO handler and introducer on one core, with members joined by hand. */
function setup(): { core: ServerCore; intro: Introducer; join: (n: number, regTxid?: string) => Member } {
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
  const join = (n: number, regTxid = '01'): Member => {
    const id = new Uint8Array(16).fill(n);
    const observed = { address: `203.0.113.${n}`, port: 4000 };
    const keys = { send: new Uint8Array(32).fill(n), recv: new Uint8Array(32).fill(n + 100) };
    const peer = new AuthChannel({ send: keys.recv, recv: keys.send });
    const got: Message[] = [];
    const raw: Uint8Array[] = [];
    const send = (b: Uint8Array): void => {
      raw.push(b);
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
    return { id, got, raw, peer, ctx: { from: observed, transport: 'udp', reply: send } };
  };
  return {
    core,
    intro: new Introducer(core, new IntroducedPairs({ ttlMs: 600_000, maxPerPeer: 256 })),
    join,
  };
}

let t = 0;
const txid = (): Uint8Array => new Uint8Array(8).fill(++t);

function natInfo(core: ServerCore, m: Member, nat: PortBehaviour, ctx = m.ctx): Uint8Array {
  const tx = txid();
  const raw = sealed(m.peer, { type: MsgType.NAT_INFO, txid: tx, id: m.id, nat });
  takeNatInfo(core, decode(raw) as NatInfo, ctx, raw);
  return tx;
}

function connect(intro: Introducer, from: Member, to: Member): void {
  const raw = sealed(from.peer, { type: MsgType.CONNECT, txid: txid(), id: from.id, target: to.id });
  intro.connect(decode(raw) as Connect, from.ctx, raw);
}

const lastIntro = (m: Member): Introduce =>
  m.got.filter((x): x is Introduce => x.type === MsgType.INTRODUCE).at(-1)!;

const SEQ: PortBehaviour = { kind: 'sequential', step: 2, last: 40100 };

describe('NAT_INFO on the rendezvous (rendezvous/nat-info.ts, introductions.ts)', () => {
  it('is stored on the UDP registration and answered with a sealed KEEPALIVE_ACK of the same txid', () => {
    const { core, join } = setup();
    const a = join(1);
    const tx = natInfo(core, a, SEQ);
    expect(core.registry.get(toHex(a.id))!.udp!.nat).toEqual(SEQ);
    expect(core.stats.natInfo).toBe(1);
    expect(a.got).toHaveLength(1);
    const ack = a.got[0]!;
    expect(ack.type).toBe(MsgType.KEEPALIVE_ACK);
    expect(toHex((ack as { txid: Uint8Array }).txid)).toBe(toHex(tx));
    expect(a.peer.open(a.raw[0]!)).toBe(true);
  });

  it('INTRODUCE carries the other side’s behaviour only to a peer that sent NAT_INFO itself', () => {
    const { core, intro, join } = setup();
    const a = join(1);
    const b = join(2);
    const old = join(3); // an older peer: never sends NAT_INFO
    natInfo(core, a, SEQ);
    natInfo(core, b, { kind: 'random' });
    connect(intro, a, b);
    expect(lastIntro(a).nat).toEqual({ kind: 'random' }); // b's, to a
    expect(lastIntro(b).nat).toEqual(SEQ); // a's, to b
    connect(intro, a, old);
    expect('nat' in lastIntro(a)).toBe(false); // old's behaviour is not known
    expect('nat' in lastIntro(old)).toBe(false); // old did not say it understands the field
    // The older peer's copy is byte for byte the older format: no field between lan and trailer.
    expect(old.raw.at(-1)!.length).toBe(128 + 2); // 128 + N + 7k (docs/protocol.md), name "m3", no lan
  });

  it('a peer whose behaviour is unknown gets no field, and nobody gets one about it', () => {
    const { core, intro, join } = setup();
    const a = join(1);
    const b = join(2);
    natInfo(core, a, { kind: 'unknown' });
    natInfo(core, b, { kind: 'consistent', preserved: true });
    connect(intro, b, a);
    expect('nat' in lastIntro(b)).toBe(false);
    expect(lastIntro(a).nat).toEqual({ kind: 'consistent', preserved: true });
  });

  it('a re-registration forgets it until the next NAT_INFO', () => {
    const { core, intro, join } = setup();
    const a = join(1);
    const b = join(2);
    natInfo(core, a, SEQ);
    natInfo(core, b, { kind: 'random' });
    join(1, '02'); // a registers again: a new UDP binding
    expect(core.registry.get(toHex(a.id))!.udp!.nat).toBeUndefined();
    connect(intro, b, a);
    expect('nat' in lastIntro(b)).toBe(false);
  });

  it('from an unknown id: the unsealed NOT_REGISTERED a KEEPALIVE gets, no larger than the request', () => {
    const { core, join } = setup();
    const a = join(1);
    core.registry.remove(toHex(a.id));
    const raw = sealed(a.peer, { type: MsgType.NAT_INFO, txid: txid(), id: a.id, nat: { kind: 'random' } });
    takeNatInfo(core, decode(raw) as NatInfo, a.ctx, raw);
    const err = a.got[0]!;
    expect(err.type === MsgType.ERROR && err.code).toBe(WireError.NOT_REGISTERED);
    expect(a.raw[0]!.length).toBeLessThanOrEqual(raw.length);
    expect(core.stats.natInfo).toBe(0);
  });

  it('a forged one (bad MAC) and one over a stream are dropped, unanswered', () => {
    const { core, join } = setup();
    const a = join(1);
    const b = join(2);
    const forged = sealed(b.peer, { type: MsgType.NAT_INFO, txid: txid(), id: a.id, nat: SEQ });
    takeNatInfo(core, decode(forged) as NatInfo, a.ctx, forged);
    natInfo(core, a, SEQ, { ...a.ctx, transport: 'ws', connection: 1 });
    expect(a.got).toHaveLength(0);
    expect(core.registry.get(toHex(a.id))!.udp!.nat).toBeUndefined();
    expect(core.stats.dropped.bad_mac).toBe(1);
    expect(core.stats.dropped.unexpected).toBe(1);
  });
});
