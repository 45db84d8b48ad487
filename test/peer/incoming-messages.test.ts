/** One peer's incoming messages (peer/incoming-messages.ts): store, acknowledge, drop resends, retry. */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { silentLogger } from '../../common/log.js';
import type { Session } from '../../common/session/session.js';
import { encodeApp } from '../../peer/app-message.js';
import type { AppMessage } from '../../peer/app-message.js';
import { IncomingMessages } from '../../peer/incoming-messages.js';

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
const msg = (id: string): Uint8Array => encodeApp({ id, ts: 1, room: false, text: `text of ${id}` });

function fakeSession(): Session & { released: number[] } {
  const released: number[] = [];
  return { state: 'open', released, release: (sid: number) => released.push(sid) } as unknown as Session & {
    released: number[];
  };
}

function incoming() {
  const clock = new VirtualClock();
  const shown: AppMessage[] = [];
  let current: Session | undefined;
  const inbox = new IncomingMessages({
    clock,
    logger: silentLogger,
    peer: 'aa',
    retryMs: 2_000,
    current: () => current,
    emit: (m) => shown.push(m),
  });
  return { clock, shown, inbox, use: (s: Session) => (current = s) };
}

describe('incoming messages', () => {
  it('without a store: shown at once, a resend is acknowledged and not shown again, garbage is acknowledged', () => {
    const { shown, inbox, use } = incoming();
    const s = fakeSession();
    use(s);
    inbox.receive(s, 1, msg('m1'), undefined);
    expect(shown.map((m) => m.id)).toEqual(['m1']);
    inbox.receive(s, 2, msg('m1'), undefined);
    inbox.receive(s, 3, Uint8Array.of(0xff, 0x00), undefined);
    expect(shown).toHaveLength(1);
    expect(s.released).toEqual([2, 3]);
  });

  it('with a store: acknowledged only once stored; a failed store is offered again after retryMs', async () => {
    const { clock, inbox, use } = incoming();
    const s = fakeSession();
    use(s);
    let fail = true;
    const stored: string[] = [];
    const store = (m: AppMessage): Promise<void> => {
      if (fail) return Promise.reject(new Error('disk full'));
      stored.push(m.id);
      return Promise.resolve();
    };
    inbox.receive(s, 7, msg('m7'), store);
    await flush();
    expect(s.released).toEqual([]);
    fail = false;
    clock.advance(1_999);
    await flush();
    expect(stored).toEqual([]);
    clock.advance(1);
    await flush();
    expect(stored).toEqual(['m7']);
    expect(s.released).toEqual([7]);
    // Stored once: a resend on a later session is acknowledged without storing again.
    const s2 = fakeSession();
    use(s2);
    inbox.receive(s2, 1, msg('m7'), store);
    expect(stored).toEqual(['m7']);
    expect(s2.released).toEqual([1]);
  });

  it("a failed store of a session that ended is the sender's to resend: no retry", async () => {
    const { clock, inbox, use } = incoming();
    const s = fakeSession();
    use(s);
    let calls = 0;
    const store = (): Promise<void> => {
      calls++;
      return Promise.reject(new Error('io'));
    };
    inbox.receive(s, 1, msg('x'), store);
    await flush();
    inbox.sessionDropped();
    use(fakeSession());
    clock.advance(10_000);
    await flush();
    expect(calls).toBe(1);
    inbox.close();
  });
});
