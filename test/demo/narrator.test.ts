/**
 * The narrator on its own, fed events by hand: what it says when the relay fallback reports a
 * relayed session (`connected` with path 'relay', then a `path` event), which the simulated
 * story cannot produce until the peer gains the relay.
 */
import { describe, expect, it } from 'vitest';
import type { DemoEvent, Outcome } from '../../peer/demo/events.js';
import { Narrator } from '../../peer/demo/narrator.js';

const flat = (lines: string[]): string => lines.join('\n').replace(/\s+/g, ' ');

const setup: DemoEvent = {
  t: 0,
  type: 'setup',
  seed: 1,
  nat: ['cone', 'symmetric'],
  labels: ['EIM/APDF', 'APDM/APDF'],
  predictedDirect: false,
  loss: 0,
};

function tell(events: DemoEvent[]): string {
  const n = new Narrator();
  return flat(events.flatMap((e) => n.lines(e)));
}

const base: Outcome = {
  path: 'none',
  probes: { alice: 52, bob: 52 },
  refused: 52,
  lost: 0,
  delivered: false,
  predictedDirect: false,
  endMs: 10_146,
};

describe('demo narrator', () => {
  it('tells the relay taking over, the round trip over it, and why', () => {
    const out = tell([
      setup,
      { t: 140, type: 'connected', peer: 'alice', path: 'relay', remote: 'relay', ms: 36 },
      { t: 150, type: 'connected', peer: 'bob', path: 'relay', remote: 'relay', ms: 40 },
      { t: 150, type: 'sent', peer: 'alice', to: 'bob', id: 'm1', text: 'hi' },
      { t: 200, type: 'delivered', peer: 'alice', to: 'bob', id: 'm1', rttMs: 50 },
      {
        t: 10_200,
        type: 'summary',
        outcome: { ...base, path: 'relay', sessionMs: 36, rttMs: 50, delivered: true },
      },
    ]);
    expect(out).toMatch(/The relay takes over: the rendezvous forwards alice's and bob's packets/);
    expect(out).toMatch(/still encrypted end to end/);
    expect(out).toMatch(/bob's side of the relayed session is open too/);
    expect(out).toMatch(/path relayed through the rendezvous: no direct path opened/);
    expect(out).toMatch(/round trip 50 ms: encrypted message out, receipt back \(over the relay\)/);
    expect(out).toMatch(/No direct path is possible here\..*So the relay carried the chat/);
  });

  it('tells a move from the relay to a direct path', () => {
    const out = tell([
      setup,
      { t: 140, type: 'connected', peer: 'alice', path: 'relay', remote: 'relay', ms: 36 },
      { t: 400, type: 'path', peer: 'alice', path: 'direct', remote: '203.0.113.30:53835' },
    ]);
    expect(out).toMatch(/The direct path works, so alice's session moves off the relay onto it/);
    const again = tell([
      setup,
      { t: 140, type: 'connected', peer: 'alice', path: 'relay', remote: 'relay', ms: 36 },
      { t: 400, type: 'connected', peer: 'alice', path: 'direct', remote: '203.0.113.30:53835', ms: 300 },
      { t: 10_146, type: 'error', peer: 'bob', code: 'PUNCH_FAILED', message: 'no answer' },
    ]);
    expect(again).toMatch(
      /alice's session moves off the relay onto it.*alice: path direct to 203\.0\.113\.30:53835/,
    );
    expect(again).toMatch(/Punching gives up, so the chat stays on the relay/);
  });

  it('without a relay (--no-relay), says what a relay would do', () => {
    const out = tell([
      setup,
      { t: 10_146, type: 'summary', outcome: { ...base, error: { code: 'PUNCH_FAILED', message: 'x' } } },
    ]);
    expect(out).toMatch(/path none: no direct path \(PUNCH_FAILED\), and no relay/);
    expect(out).toMatch(/This is what a relay is for/);
    expect(out).toMatch(/This run had no relay \(--no-relay\)/);
  });
});
