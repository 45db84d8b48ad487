/**
 * The relay outcomes through real Linux NAT: the real `punchline rendezvous` (UDP and its
 * WebSocket relay on the same port) on the lab internet, real `punchline chat --json` peers
 * behind iptables routers (relay-kit.ts).
 *
 * - symmetric/symmetric: punching cannot work, the session rides the relay, quietly;
 * - UDP blocked on one side: that peer registers over TCP only and chats over the relay;
 * - --relay-only stays on the relay; --direct-only between symmetric NATs reports PUNCH_FAILED.
 *
 * The move from the relay to a punched path is in relay-upgrade.test.ts. Each scenario prints
 * one line (`lab relay:`), and the file ends with a markdown summary.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { describeLab } from './describe-lab.js';
import {
  World,
  exchange,
  expectExactlyOnce,
  firstMessage,
  isError,
  pathOf,
  relaySummary,
  report,
} from './relay-kit.js';

describeLab('real-NAT lab: the relay', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });
  afterAll(() => {
    const table = relaySummary();
    if (table) console.log(table);
  });

  it('symmetric/symmetric: the session rides the relay, both ways, exactly once; punching fails quietly', async () => {
    world = await World.create();
    // A short punch deadline so the failure comes inside the test; info logs show it on stderr.
    const flags = ['--punch-timeout-ms', '2000', '--log-level', 'info'];
    const { a, b } = await world.pair({ nat: 'symmetric' }, { nat: 'symmetric' }, flags);
    await a.ready('bob', ['udp', 'ws']);
    await b.ready('alice', ['udp', 'ws']);

    const first = await firstMessage(a, b, 'sym first');
    const ca = (await a.wait('connected', (e) => e.event === 'connected', 5_000)).e;
    const cb = (await b.wait('connected', (e) => e.event === 'connected', 5_000)).e;
    expect(ca).toMatchObject({ peer: 'bob', path: 'relay', remote: 'relay' });
    expect(cb).toMatchObject({ peer: 'alice', path: 'relay', remote: 'relay' });

    const [ab, ba] = await exchange(a, b, 'sym', 10, 20);
    await expectExactlyOnce(a, b, ['sym first', ...ab], ba);

    // Both sides punched (the introduction reaches both) and gave up, saying so only in the log.
    for (const p of [a, b]) await p.proc.err.waitForLine(/no direct path yet; staying on the relay/, 6_000);
    expect(a.all().filter(isError)).toEqual([]);
    expect(b.all().filter(isError)).toEqual([]);
    expect([...a.all('path'), ...b.all('path')]).toEqual([]);
    const sa = await a.stats('bob');
    expect(sa).toMatchObject({ state: 'relay', path: 'relay', remote: 'relay', pending: 0 });

    report(a, b, {
      scenario: 'symmetric/symmetric',
      topology: 'A and B each behind `--random-fully` MASQUERADE',
      firstMessageMs: first,
      connect: `${pathOf(ca)} / ${pathOf(cb)}`,
      final: pathOf(sa),
      note: `connect ${String(ca.ms)} ms; punch failed on both sides in the log only, no error event`,
    });
  });

  it('UDP blocked on one side: that peer registers over TCP only, sees presence and chats over the relay', async () => {
    world = await World.create();
    const t0 = performance.now();
    // A logs at info so that its UDP client's give-up shows on stderr (the event waited for below).
    const { a, b, natA } = await world.pair(
      { nat: 'cone', udpBlocked: true },
      { nat: 'cone' },
      ['--log-level', 'info'],
      [],
    );
    const [regA] = await a.ready('bob', ['ws']);
    // Over the relay stream `public` is the TCP source as the server saw it: natA's WAN address.
    expect(String(regA!.public)).toMatch(new RegExp(`^${natA.wanIp.replace(/\./g, '\\.')}:\\d+$`));
    await b.ready('alice', ['udp', 'ws']);

    const first = await firstMessage(a, b, 'blocked first');
    const ca = (await a.wait('connected', (e) => e.event === 'connected', 5_000)).e;
    const cb = (await b.wait('connected', (e) => e.event === 'connected', 5_000)).e;
    expect(ca).toMatchObject({ peer: 'bob', path: 'relay' });
    expect(cb).toMatchObject({ peer: 'alice', path: 'relay' });
    const [ab, ba] = await exchange(a, b, 'blocked', 10, 20);
    await expectExactlyOnce(a, b, ['blocked first', ...ab], ba);

    // The UDP registration gives up after 5 tries (~8 s), which A logs (peer/peer-node.ts): still
    // no error event, no UDP registration. The stats round trips after it prove each side's
    // stdout is read up to there.
    await a.proc.err.waitForLine(/rendezvous unreachable over UDP; using the relay stream/, 20_000);
    const gaveUpMs = Math.round(performance.now() - t0);
    const sa = await a.stats('bob');
    const sb = await b.stats('alice');
    expect(a.all('registered').map((e) => e.transport)).toEqual(['ws']);
    expect(a.all().filter(isError)).toEqual([]);
    expect(b.all().filter(isError)).toEqual([]);
    expect(sa).toMatchObject({ path: 'relay', pending: 0 });
    expect(sb).toMatchObject({ path: 'relay', pending: 0 });

    report(a, b, {
      scenario: 'UDP blocked / cone',
      topology: 'A behind a cone router dropping all UDP in FORWARD; B behind a cone',
      firstMessageMs: first,
      connect: `${pathOf(ca)} / ${pathOf(cb)}`,
      final: `${pathOf(sa)} / ${pathOf(sb)}`,
      note:
        `A registered over the WebSocket only (${String(regA!.public)}); ` +
        `UDP gave up ${gaveUpMs} ms after the start, no error event`,
    });
  });

  it('--relay-only between cone peers stays on the relay', async () => {
    world = await World.create();
    const { a, b } = await world.pair({ nat: 'cone' }, { nat: 'cone' }, ['--relay-only']);
    await a.ready('bob', ['udp', 'ws']);
    await b.ready('alice', ['udp', 'ws']);
    const first = await firstMessage(a, b, 'ro first');
    const [ab, ba] = await exchange(a, b, 'ro', 10, 100);
    await expectExactlyOnce(a, b, ['ro first', ...ab], ba);
    const ca = a.all('connected')[0];
    const cb = b.all('connected')[0];
    expect(ca).toMatchObject({ path: 'relay' });
    expect(cb).toMatchObject({ path: 'relay' });
    expect([...a.all('path'), ...b.all('path')]).toEqual([]);
    const sa = await a.stats('bob');
    expect(sa).toMatchObject({ path: 'relay' });
    expect(sa.punch).toBeUndefined();
    report(a, b, {
      scenario: '--relay-only cone/cone',
      topology: 'as cone/cone, both peers `--relay-only`',
      firstMessageMs: first,
      connect: `${pathOf(ca)} / ${pathOf(cb)}`,
      final: pathOf(sa),
      note: 'no `path` event and no punch result over ~1.2 s of chat',
    });
  });

  it('--direct-only between symmetric peers reports PUNCH_FAILED and keeps the message', async () => {
    world = await World.create();
    const flags = ['--direct-only', '--punch-timeout-ms', '2000'];
    const { a, b } = await world.pair({ nat: 'symmetric' }, { nat: 'symmetric' }, flags);
    await a.ready('bob', ['udp']);
    await b.ready('alice', ['udp']);
    const t0 = performance.now();
    a.send('bob', 'do first');
    const err = await a.wait('PUNCH_FAILED', (e) => isError(e) && e.code === 'PUNCH_FAILED', 8_000);
    expect(err.e).toMatchObject({ peer: 'bob' });
    expect(String(err.e.message)).toMatch(/1 message waiting/);
    expect([...a.all('connected'), ...b.all('connected'), ...b.all('message')]).toEqual([]);
    // No relay at all: not even a TCP registration.
    expect([...a.all('registered'), ...b.all('registered')].map((e) => e.transport)).not.toContain('ws');
    const sa = await a.stats('bob');
    expect(sa).toMatchObject({ pending: 1 });
    report(a, b, {
      scenario: '--direct-only symmetric/symmetric',
      topology: 'as symmetric/symmetric, both peers `--direct-only --punch-timeout-ms 2000`',
      firstMessageMs: undefined,
      connect: '- / -',
      final: `none (${String(sa.state)}, pending ${String(sa.pending)})`,
      note: `PUNCH_FAILED after ${Math.round(err.t - t0)} ms: "${String(err.e.message)}"`,
    });
  });
});
