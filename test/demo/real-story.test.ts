/**
 * The --real demo without the lab: the chat peers' JSON events and punch logs, as they would
 * print them, through RealWatch (peer/demo/real-watch.ts) into demo events, and the one
 * narrator telling them in the lab's words. Time is a counter the test moves.
 */
import { describe, expect, it } from 'vitest';
import type { DemoEvent, Topology } from '../../peer/demo/events.js';
import { Narrator } from '../../peer/demo/narrator.js';
import { RealWatch } from '../../peer/demo/real-watch.js';

const flat = (lines: string[]): string => lines.join('\n').replace(/\s+/g, ' ');
const json = (o: object): string => JSON.stringify(o);

function watch(): { w: RealWatch; events: DemoEvent[]; at: (ms: number) => void } {
  let t = 0;
  const events: DemoEvent[] = [];
  const w = new RealWatch(
    { alice: '10.1.0.2', bob: '10.2.0.2' },
    () => t,
    (e) => events.push(e),
  );
  return { w, events, at: (ms) => (t = ms) };
}

const topology: Topology = {
  rendezvous: '203.0.113.10:7000',
  rendezvousDelayMs: 0,
  rendezvousLink: 'veth',
  alice: {
    peer: 'alice',
    nat: 'cone',
    natLabel: 'EIM/APDF',
    local: '10.1.0.2',
    lan: '10.1.0.0/24',
    routerPublic: '203.0.113.101',
    delayMs: 0,
    loss: 0,
    link: 'veth',
  },
  bob: {
    peer: 'bob',
    nat: 'symmetric',
    natLabel: 'APDM/APDF',
    local: '10.2.0.2',
    lan: '10.2.0.0/24',
    routerPublic: '203.0.113.102',
    delayMs: 0,
    loss: 0,
    link: 'veth',
  },
};
const setup: DemoEvent = {
  t: 0,
  type: 'setup',
  nat: ['cone', 'symmetric'],
  labels: ['EIM/APDF', 'APDM/APDF'],
  predictedDirect: false,
  loss: 0,
  real: true,
};

describe('demo --real, told from the peers’ output', () => {
  it('chat events and punch logs become demo events, and the waits follow them', () => {
    const { w, events, at } = watch();
    at(10);
    w.onEvent(
      'alice',
      json({ event: 'registered', transport: 'udp', peer_id: 'a1', public: '203.0.113.101:5000' }),
    );
    w.onEvent(
      'alice',
      json({ event: 'registered', transport: 'ws', peer_id: 'a1', public: '203.0.113.101:6000' }),
    );
    w.onEvent(
      'bob',
      json({ event: 'registered', transport: 'udp', peer_id: 'b1', public: '203.0.113.102:7000' }),
    );
    expect(w.allRegistered()).toBe(false);
    w.onEvent(
      'bob',
      json({ event: 'registered', transport: 'ws', peer_id: 'b1', public: '203.0.113.102:7001' }),
    );
    expect(w.allRegistered()).toBe(true);
    w.onEvent('alice', json({ event: 'presence', peers: [{ name: 'bob' }] }));
    w.onEvent('alice', json({ event: 'presence', peers: [{ name: 'bob' }] }));
    w.onEvent('alice', 'not json');
    at(20);
    w.onLog('alice', json({ msg: 'punching', public: '203.0.113.102:7000', lan: ['10.2.0.2:7000'] }));
    w.onLog(
      'alice',
      json({ msg: 'punch step', type: 'probe', to: '203.0.113.102:7000', kind: 'public', seq: 0 }),
    );
    w.onLog('alice', json({ msg: 'something else' }));
    w.onEvent('alice', json({ event: 'connected', path: 'relay', remote: 'relay', ms: 30 }));
    w.onEvent('bob', json({ event: 'connected', path: 'relay', remote: 'relay', ms: 31 }));
    expect(w.settled('alice')).toBe(false);
    w.onLog('alice', json({ msg: 'punch step', type: 'failed', reason: 'no answer within 10000 ms' }));
    expect(w.settled('alice')).toBe(true);
    expect(events.map((e) => e.type)).toEqual([
      'registered',
      'registered',
      'registered',
      'registered',
      'presence',
      'introduced',
      'probe',
      'connected',
      'connected',
      'punch-failed',
    ]);
    expect(events[1]).toMatchObject({ transport: 'tcp', public: '203.0.113.101:6000', local: '10.1.0.2' });
    expect(events[5]).toEqual({
      t: 20,
      type: 'introduced',
      peer: 'alice',
      public: '203.0.113.102:7000',
      lan: ['10.2.0.2:7000'],
    });
    at(100);
    w.sentAt = 100;
    at(148);
    w.onEvent('alice', json({ event: 'delivered', id: 'm1', peer: 'bob' }));
    w.onEvent('alice', json({ event: 'stats', path: 'relay', rtt_ms: 6.9, min_rtt_ms: 4.6 }));
    expect(events.at(-2)).toMatchObject({ type: 'delivered', to: 'bob', rttMs: 48 });
    expect(events.at(-1)).toMatchObject({ type: 'stats', rttMs: 6.9, minRttMs: 4.6 });
    expect(w.outcome(false)).toMatchObject({
      path: 'relay',
      sessionMs: 30,
      probes: { alice: 1, bob: 0 },
      probesIn: { alice: 0, bob: 0 },
      rttMs: 48,
      sessionRttMs: 6.9,
      delivered: true,
      endMs: 148,
    });
    expect(w.seen.length).toBeLessThanOrEqual(12);
  });

  it('the narrator tells it in the lab’s words: probes one by one, a new port, the real summary', () => {
    const n = new Narrator();
    const tell = (e: DemoEvent): string[] => n.lines(e);
    const out = [
      setup,
      { t: 1, type: 'lab', namespaces: 6, prefix: 'pl-1-abc-' },
      { t: 1, type: 'topology', topology },
      { t: 2, type: 'rendezvous-up', endpoint: '203.0.113.10:7000' },
      { t: 3, type: 'chat-started' },
      {
        t: 4,
        type: 'registered',
        peer: 'bob',
        public: '203.0.113.102:7000',
        local: '10.2.0.2',
        transport: 'udp',
        id: 'b1',
      },
      {
        t: 5,
        type: 'registered',
        peer: 'bob',
        public: '203.0.113.102:7001',
        local: '10.2.0.2',
        transport: 'tcp',
        id: 'b1',
      },
      { t: 6, type: 'introduced', peer: 'alice', public: '203.0.113.102:7000', lan: ['10.2.0.2:7000'] },
      ...Array.from({ length: 8 }, (_, i): DemoEvent => ({
        t: 7 + i,
        type: 'probe',
        peer: 'alice',
        to: '203.0.113.102:7000',
        kind: 'public',
        seq: i,
      })),
      { t: 20, type: 'probe-in', peer: 'alice', from: '203.0.113.102:9999', known: false },
      { t: 21, type: 'punch-failed', peer: 'alice', reason: 'no answer' },
      { t: 22, type: 'sent', peer: 'alice', to: 'bob', text: 'hi' },
      {
        t: 30,
        type: 'summary',
        outcome: {
          path: 'relay',
          sessionMs: 40,
          probes: { alice: 8, bob: 8 },
          probesIn: { alice: 1, bob: 0 },
          refused: 0,
          lost: 0,
          rttMs: 41.4,
          sessionRttMs: 6.9,
          delivered: true,
          predictedDirect: false,
          endMs: 30,
        },
      },
    ].flatMap((e) => tell(e as DemoEvent));
    const text = flat(out);
    expect(text).toMatch(
      /punchline demo --real: alice behind a port-restricted cone \(EIM\/APDF\), bob behind a symmetric NAT/,
    );
    expect(text).toMatch(/Built the lab: 6 network namespaces.*namespaces pl-1-abc-\*/);
    expect(text).not.toMatch(/simulated/);
    expect(text).toMatch(
      /bob registers with the rendezvous over UDP.*bob id b1, udp 10\.2\.0\.2 -> public 203\.0\.113\.102:7000/,
    );
    expect(text).toMatch(
      /bob's relay stream \(a WebSocket over TCP\) to the rendezvous is up\. · tcp public 203\.0\.113\.102:7001/,
    );
    expect(text).toMatch(/alice gets the introduction to bob and starts punching/);
    expect(text).toMatch(
      /alice sends probe #5\. · -> 203\.0\.113\.102:7000 \(public: bob's public address\)/,
    );
    expect(text).not.toMatch(/alice sends probe #6/);
    expect(text.match(/alice keeps probing/g)).toHaveLength(1);
    expect(text).toMatch(/a port alice has never seen/);
    expect(text).toMatch(
      /alice gives up punching: none of the probes got an answer\. · no answer; 8 probes sent, 1 probes from bob got in/,
    );
    expect(text).toMatch(/leaves alice's namespace\. · "hi"/);
    expect(text).toMatch(/Summary \(real time, Linux NAT in network namespaces\)/);
    expect(text).toMatch(/probes sent alice 8, bob 8 \(got through the routers: alice 1, bob 0\)/);
    expect(text).toMatch(
      /round trip 6\.9 ms \(session rtt, smoothed\); message to receipt 41\.4 ms \(over the relay\)/,
    );
    expect(text).toMatch(
      /bob's router gives every new destination its own public port \(here 203\.0\.113\.102:9999\)/,
    );
  });
});
