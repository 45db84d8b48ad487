/**
 * The terminal client's view-model against the fake service: what the room and the server tell
 * you (renames, /trust on an unchanged key, who counts as in the room, server problems said once,
 * "server back", the server's close reason), the commands /me and /names, long pastes, the
 * count of new lines while scrolled up, dated rules, which conversations get a tab, and round
 * trips that change without an event.
 */
import { describe, expect, it } from 'vitest';
import { conversationKey } from '../../peer/chat/types.js';
import { lineText } from '../../peer/tui/theme.js';
import { ROOM } from '../../peer/chat/types.js';
import { ChatViewModel } from '../../peer/tui/view-model.js';
import { FakeChatService, fakeId } from './fake-service.js';
import { ROOM_PEERS, T0, log, setup, text, type } from './helpers.js';

const bobKey = conversationKey({ kind: 'peer', peerId: fakeId('bob') });
const status = (vm: ChatViewModel): string => lineText(vm.render().status);
const roomLog = async (vm: ChatViewModel): Promise<string[]> => {
  await vm.handleKey('M-1');
  return log(vm);
};

describe('what the room tells you', () => {
  it('a member who renames is announced, in the room and in your conversation with them', async () => {
    const { fake, vm } = setup();
    await type(vm, '/query bob');
    fake.rename('bob', 'robert');
    expect(log(vm).at(-1)).toBe('09:05 -!- bob is now known as robert');
    expect(vm.conversations[1]!.title).toBe('robert');
    expect((await roomLog(vm)).at(-1)).toBe('09:05 -!- bob is now known as robert');
    // The same list again says nothing more.
    fake.setPeer('robert', { rttMs: 30 });
    expect(log(vm).filter((l) => l.includes('known as'))).toHaveLength(1);
  });

  it('/trust on a key that did not change says so and does not call the service', async () => {
    const { fake, vm } = setup();
    await type(vm, '/trust bob');
    expect(log(vm).at(-1)).toBe('09:05 -!- the key of bob has not changed; nothing is held');
    expect(fake.calls).not.toContain('trust bob');
  });

  it('the room count is you and the members not offline', () => {
    const { fake, vm } = setup(); // bob direct, carol relay, dave offline
    expect(text(vm.render().peers)[0]).toMatch(/^lobby \(3\) +│$/);
    expect(status(vm)).toMatch(/ 3 in room $/);
    fake.setPeer('bob', { state: 'offline' });
    expect(text(vm.render().peers)[0]).toMatch(/^lobby \(2\) +│$/);
    expect(status(vm)).toMatch(/ 2 in room $/);
  });

  it('round trips the service measured show without an event (the client asks again)', () => {
    const { fake, vm } = setup();
    const bobRow = (): string => text(vm.render().peers).find((l) => l.startsWith(' bob'))!;
    expect(bobRow()).toMatch(/direct 23ms│$/);
    // The service's numbers move on; it sends no event for a new RTT sample.
    (fake as unknown as { list: { name: string; rttMs?: number }[] }).list.find(
      (p) => p.name === 'bob',
    )!.rttMs = 41;
    expect(bobRow()).toMatch(/direct 23ms│$/);
    vm.refreshPeers();
    expect(bobRow()).toMatch(/direct 41ms│$/);
  });

  it('a peer who only speaks in the room gets no tab; their path notices go to the room', () => {
    const { fake, vm } = setup();
    fake.receive('carol', 'hello room');
    fake.notice({ kind: 'peer', peerId: fakeId('carol') }, 'connected to carol: direct path');
    expect(vm.conversations.map((c) => c.title)).toEqual(['#lobby']);
    expect(log(vm).at(-1)).toBe('09:05 -!- connected to carol: direct path');
    // With a private conversation open, its notices go there.
    fake.receive('bob', 'psst', { direct: true });
    fake.notice({ kind: 'peer', peerId: fakeId('bob') }, 'bob: now direct');
    expect(vm.entries(bobKey).at(-1)).toMatchObject({ kind: 'system', text: 'bob: now direct' });
    expect(log(vm).join('\n')).not.toContain('now direct');
  });
});

describe('the server', () => {
  it('the same failure reported again and again is said once, in the room, not in the open conversation', async () => {
    const { fake, vm } = setup();
    await type(vm, '/query bob');
    for (let i = 0; i < 5; i++)
      fake.fail('SERVER_UNREACHABLE', 'hello: no answer from the rendezvous after 5 tries');
    fake.setSelf({ server: 'lost' });
    expect(log(vm).join('\n')).not.toContain('no answer');
    expect(status(vm)).toContain('SERVER LOST');
    const room = await roomLog(vm);
    expect(room.filter((l) => l.includes('no answer from the rendezvous'))).toEqual([
      '09:05 -!- hello: no answer from the rendezvous after 5 tries',
    ]);
    expect(room.join('\n')).not.toContain('server lost');
    // Back: one line says so, and the next outage is said again.
    fake.setSelf({ server: 'registered' });
    expect(log(vm).at(-1)).toBe('09:05 -!- server back: registered as alice');
    expect(status(vm)).toContain('server ok');
    fake.setSelf({ server: 'lost' });
    expect(log(vm).at(-1)).toBe('09:05 -!- server lost; reconnecting');
  });

  it("the server's close reason is shown", () => {
    const { fake, vm } = setup();
    fake.setSelf({ server: 'lost', serverClosed: 'server shutting down' });
    expect(log(vm).at(-1)).toBe('09:05 -!- the server closed the connection: server shutting down');
    expect(log(vm).filter((l) => l.includes('server'))).toHaveLength(1);
  });

  it('NAME_TAKEN and ROOM_FULL are said once, with the /nick hint, and the status bar keeps it', () => {
    const { fake, vm } = setup();
    fake.fail('NAME_TAKEN', 'the name alice is taken'); // the UDP client
    fake.fail('NAME_TAKEN', 'the name alice is taken'); // and the relay stream's
    fake.setSelf({ server: 'lost' });
    expect(log(vm).filter((l) => l.includes('taken'))).toEqual([
      '09:05 -!- the name alice is taken; /nick NEWNAME to join under another name',
    ]);
    expect(status(vm)).toContain('SERVER LOST: name taken: /nick NEWNAME');
    fake.fail('ROOM_FULL', 'the room lobby is full');
    fake.fail('ROOM_FULL', 'the room lobby is full');
    expect(log(vm).filter((l) => l.includes('full'))).toEqual([
      '09:05 -!- the room lobby is full; /nick NEWNAME to join under another name',
    ]);
  });
});

describe('/me and /names', () => {
  it('/me sends an action, shown as "* alice waves"; a received action reads the same way', async () => {
    const { fake, vm } = setup();
    await type(vm, '/me waves at "everyone"');
    expect(fake.calls).toEqual(['send room /me waves at "everyone"']);
    expect(log(vm).at(-1)).toBe('09:05 * alice waves at "everyone" … 0/3');
    fake.receive('bob', 'waves back', { action: true });
    expect(log(vm).at(-1)).toBe('09:05 * bob waves back');
    await type(vm, '/me');
    expect(log(vm).at(-1)).toBe('09:05 -!- usage: /me ACTION');
  });

  it('/names lists who is online and who is offline', async () => {
    const { vm } = setup();
    await type(vm, '/names');
    expect(log(vm).slice(-2)).toEqual([
      '09:05 -!- 3 online in #lobby: alice (you), bob, carol',
      '          offline: dave',
    ]);
  });
});

describe('pasting', () => {
  it('a few lines are sent as they are; what follows the last newline stays in the input', async () => {
    const { fake, vm } = setup();
    vm.setInput('first: ');
    await vm.paste('one\ntwo\r\nthree\npartial');
    expect(fake.calls).toEqual(['send room first: one', 'send room two', 'send room three']);
    expect(vm.input.text).toBe('partial');
  });

  it('more than five lines ask first: y sends them all, anything else sends nothing', async () => {
    const { fake, vm } = setup();
    const twelve = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
    await vm.paste(twelve);
    expect(fake.calls).toEqual([]);
    expect(log(vm).at(-1)).toBe('09:05 -!- paste 12 lines as 12 messages? y/n');
    expect(vm.pasteWaiting).toBe(12);
    await vm.handleKey('y', 'y');
    expect(fake.calls).toHaveLength(12);
    expect(fake.calls.at(-1)).toBe('send room line 12');
    await vm.paste(twelve);
    await vm.handleKey('n', 'n');
    expect(fake.calls).toHaveLength(12);
    expect(log(vm).at(-1)).toBe('09:05 -!- paste not sent (12 lines)');
    expect(vm.input.text).toBe('');
  });
});

describe('scrolling and dates', () => {
  it('while scrolled up the status bar counts the lines that arrived below', () => {
    const { fake, vm } = setup();
    for (let i = 0; i < 40; i++) fake.receive('bob', `filler ${i}`);
    vm.scrollPage(1);
    expect(status(vm)).toContain('-- more below --');
    fake.receive('carol', 'one');
    fake.receive('carol', 'two');
    fake.receive('carol', 'three');
    expect(status(vm)).toContain('-- more below: 3 new --');
    vm.scrollRows(-1000);
    expect(status(vm)).not.toContain('more below');
    vm.scrollPage(1);
    expect(status(vm)).toContain('-- more below --');
    expect(status(vm)).not.toContain('new --');
  });

  it('a dated rule where reloaded history ends, and one where the day changes', () => {
    const day = 24 * 3600 * 1000;
    const fake = new FakeChatService({ peers: ROOM_PEERS, now: () => T0 });
    const seed = (t: string, ts: number): void => {
      fake.seed({ conversation: ROOM, fromId: fakeId('bob'), fromName: 'bob', text: t, ts, outgoing: false });
    };
    seed('two days ago', T0 - 2 * day);
    seed('yesterday', T0 - day);
    const vm = new ChatViewModel(fake, { now: () => T0, cols: 120, rows: 24 });
    fake.receive('bob', 'today, live');
    fake.receive('bob', 'a clock behind', { ts: T0 - day });
    fake.receive('bob', 'tomorrow', { ts: T0 + day });
    const rule = /^─+ (.+) ─+$/;
    expect(log(vm).map((l) => rule.exec(l)?.[1] ?? l)).toEqual([
      '09:05 <bob> two days ago',
      'day changed to Wed 1 Jan 2025',
      '09:05 <bob> yesterday',
      'end of history, Thu 2 Jan 2025',
      '09:05 <bob> today, live',
      '09:05 <bob> a clock behind',
      'day changed to Fri 3 Jan 2025',
      '09:05 <bob> tomorrow',
    ]);
  });
});

describe('the input line with wide and joined characters', () => {
  it('moves and deletes a flag, a joined emoji and e + U+0301 whole; the cursor column counts cells', async () => {
    const { vm } = setup({}, { cols: 60 });
    for (const ch of ['a', '🇫🇷', '👨‍👩‍👧', 'e', '\u0301', '漢']) await vm.handleKey(ch, ch);
    expect(vm.input).toEqual({ text: 'a🇫🇷👨‍👩‍👧e\u0301漢', cursor: 5 });
    // "[#lobby] " is 9 cells, then a(1) flag(2) family(2) é(1) 漢(2).
    expect(vm.render().cursor).toBe(9 + 8);
    await vm.handleKey('left');
    await vm.handleKey('left');
    expect(vm.render().cursor).toBe(9 + 5);
    await vm.handleKey('backspace');
    expect(vm.input).toEqual({ text: 'a🇫🇷e\u0301漢', cursor: 2 });
    await vm.handleKey('backspace');
    expect(vm.input).toEqual({ text: 'ae\u0301漢', cursor: 1 });
    await vm.handleKey('delete');
    expect(vm.input).toEqual({ text: 'a漢', cursor: 1 });
  });
});
