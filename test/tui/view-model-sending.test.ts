/** The view model against the fake service: sending, and the conversations messages land in. */
import { describe, expect, it } from 'vitest';
import { conversationKey } from '../../peer/chat/types.js';
import { lineText } from '../../peer/tui/theme.js';
import { fakeId } from './fake-service.js';
import { T0, bobKey, last, log, setup, tabs, text, type } from './helpers.js';

describe('sending', () => {
  it('a line goes to the active conversation and shows with a pending mark', async () => {
    const { fake, vm } = setup();
    await type(vm, 'hello room');
    expect(fake.calls).toEqual(['send room hello room']);
    expect(last(vm)).toBe('09:05 <alice> hello room … 0/3');
    expect(vm.input).toEqual({ text: '', cursor: 0 });
    // The service's own message event and send()'s return value make one line, not two.
    expect(log(vm).filter((l) => l.includes('hello room'))).toHaveLength(1);
  });

  it('/msg switches to (creating) the private conversation and sends there', async () => {
    const { fake, vm } = setup();
    await type(vm, '/msg bob psst');
    expect(fake.calls).toEqual([`send ${bobKey} psst`]);
    expect(conversationKey(vm.activeConversation)).toBe(bobKey);
    expect(tabs(vm)).toBe(' 1:#lobby  2:bob');
    expect(last(vm)).toBe('09:05 <alice> psst …');
    // The next plain line stays in that conversation.
    await type(vm, 'again');
    expect(fake.calls.at(-1)).toBe(`send ${bobKey} again`);
    // Back in the room, the room has neither line.
    await vm.handleKey('M-1');
    expect(log(vm).join('\n')).not.toContain('psst');
  });

  it('/msg to an unknown peer, and a refused send, explain themselves in one line', async () => {
    const { vm } = setup();
    await type(vm, '/msg zed hi');
    expect(last(vm)).toBe('09:05 -!- no peer "zed" in the room');
    await type(vm, 'x'.repeat(1001));
    expect(last(vm)).toBe('09:05 -!- message too long: at most 1000 bytes');
  });

  it('delivery marks follow the service: pending, sent, delivered', async () => {
    const { fake, vm } = setup();
    await type(vm, '/msg bob one');
    expect(last(vm)).toBe('09:05 <alice> one …');
    fake.advance();
    expect(last(vm)).toBe('09:05 <alice> one ✓');
    fake.advance();
    expect(last(vm)).toBe('09:05 <alice> one ✓✓');
  });

  it('room messages show per-recipient delivery compactly', async () => {
    const { fake, vm } = setup();
    await type(vm, 'to all');
    const id = fake.store.at(-1)!.id;
    fake.deliver(id, 'bob', 'delivered');
    fake.deliver(id, 'carol', 'sent');
    fake.deliver(id, 'dave', 'sent');
    expect(last(vm)).toBe('09:05 <alice> to all ✓ 1/3');
    fake.deliver(id, 'carol', 'delivered');
    fake.deliver(id, 'dave', 'delivered');
    expect(last(vm)).toBe('09:05 <alice> to all ✓✓ 3/3');
  });

  it('ASCII marks when the locale is not UTF-8', async () => {
    const { fake, vm } = setup({}, { unicode: false });
    await type(vm, '/msg bob one');
    expect(last(vm)).toBe('09:05 <alice> one -');
    fake.advance();
    expect(last(vm)).toBe('09:05 <alice> one +');
    fake.advance();
    expect(last(vm)).toBe('09:05 <alice> one ++');
  });
});

describe('conversations', () => {
  it('unread counts grow in the background, clear on switch, and a "new" rule marks the first', async () => {
    const { fake, vm } = setup();
    await type(vm, '/msg bob hi');
    fake.receive('carol', 'first in the room');
    fake.receive('bob', 'second in the room');
    fake.receive('bob', 'and hi in private', { direct: true });
    expect(vm.conversations.map((c) => [c.title, c.unread])).toEqual([
      ['#lobby', 2],
      ['bob', 0],
    ]);
    const tabLine = vm.render().tabs;
    expect(lineText(tabLine)).toContain('1:#lobby(2)');
    expect(tabLine.find((s) => s.text.includes('#lobby'))!.role).toBe('bar-unread');
    await vm.handleKey('M-1');
    expect(vm.conversations[0]!.unread).toBe(0);
    const [rule, ...rest] = log(vm).slice(-3);
    expect(rule).toMatch(/^─{20,} new ─{20,}$/);
    expect(rest).toEqual(['09:05 <carol> first in the room', '09:05 <bob> second in the room']);
    // Leaving and coming back: the rule is gone.
    await vm.handleKey('M-2');
    await vm.handleKey('M-1');
    expect(log(vm).join('\n')).not.toContain(' new ');
  });

  it('a message that names you flags its conversation', async () => {
    const { fake, vm } = setup();
    await type(vm, '/query bob');
    fake.receive('carol', 'ALICE, look');
    fake.receive('carol', 'malice is not a mention');
    expect(vm.conversations[0]).toMatchObject({ unread: 2, mention: true });
    expect(tabs(vm)).toContain('1:#lobby(2!)');
  });

  it('Alt-n, Ctrl-N and Ctrl-P switch, wrapping around; out-of-range Alt-n does nothing', async () => {
    const { vm } = setup();
    await type(vm, '/query bob');
    await type(vm, '/query carol');
    const active = (): string => vm.conversations.find((c) => c.active)!.title;
    expect(active()).toBe('carol');
    await vm.handleKey('M-1');
    expect(active()).toBe('#lobby');
    await vm.handleKey('M-3');
    expect(active()).toBe('carol');
    await vm.handleKey('C-n');
    expect(active()).toBe('#lobby');
    await vm.handleKey('C-p');
    expect(active()).toBe('carol');
    await vm.handleKey('C-p');
    expect(active()).toBe('bob');
    await vm.handleKey('M-9');
    expect(active()).toBe('bob');
  });

  it('/close closes a private conversation but not the room', async () => {
    const { vm } = setup();
    await type(vm, '/query bob');
    await type(vm, '/close');
    expect(vm.conversations.map((c) => c.title)).toEqual(['#lobby']);
    await type(vm, '/close');
    expect(last(vm)).toBe('09:05 -!- the room conversation cannot be closed; /quit leaves');
  });

  it('notices from the service are system lines in their conversation', () => {
    const { fake, vm } = setup();
    fake.join({ name: 'erin', state: 'connecting' });
    fake.setPeer('carol', { state: 'direct', rttMs: 61 });
    expect(log(vm).slice(-2)).toEqual(['09:05 -!- erin joined', '09:05 -!- carol: relay -> direct (61 ms)']);
  });

  it('history is loaded when a conversation opens', async () => {
    const { fake, vm } = setup();
    fake.seed({
      conversation: { kind: 'peer', peerId: fakeId('bob') },
      fromId: fakeId('bob'),
      fromName: 'bob',
      text: 'from yesterday',
      ts: T0,
      outgoing: false,
    });
    await type(vm, '/query bob');
    expect(log(vm)).toEqual(['09:05 <bob> from yesterday']);
  });

  it('text from peers cannot reach the terminal as escape sequences', () => {
    const { fake, vm } = setup();
    fake.receive('bob', '\x1b]0;pwned\x07\x1b[2J{red-fg}');
    const rendered = text(vm.render().log).join('\n');
    expect(rendered).not.toContain('\x1b');
    expect(rendered).toContain('\ufffd]0;pwned\ufffd\ufffd[2J{red-fg}');
  });
});
