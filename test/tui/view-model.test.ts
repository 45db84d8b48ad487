import { describe, expect, it } from 'vitest';
import { PunchlineError } from '../../common/errors.js';
import { conversationKey } from '../../peer/chat/types.js';
import { strWidth } from '../../peer/tui/text.js';
import { lineText, styleOf } from '../../peer/tui/theme.js';
import type { Line } from '../../peer/tui/theme.js';
import type { ChatViewModel, Rect } from '../../peer/tui/view-model.js';
import { fakeId } from './fake-service.js';
import { T0, log, setup, text, type } from './helpers.js';

const bobKey = conversationKey({ kind: 'peer', peerId: fakeId('bob') });
const last = (vm: ChatViewModel): string => log(vm).at(-1) ?? '';
const tabs = (vm: ChatViewModel): string => lineText(vm.render().tabs).trimEnd();
const status = (vm: ChatViewModel): string => lineText(vm.render().status);

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

describe('input line', () => {
  it('Up/Down walk the history and come back to the draft', async () => {
    const { vm } = setup();
    await type(vm, 'one');
    await type(vm, 'two');
    vm.insert('dra');
    await vm.handleKey('up');
    expect(vm.input.text).toBe('two');
    await vm.handleKey('up');
    expect(vm.input.text).toBe('one');
    await vm.handleKey('up');
    expect(vm.input.text).toBe('one');
    await vm.handleKey('down');
    expect(vm.input.text).toBe('two');
    await vm.handleKey('down');
    expect(vm.input).toEqual({ text: 'dra', cursor: 3 });
    await vm.handleKey('down');
    expect(vm.input.text).toBe('dra');
  });

  it('Tab completes nicks ("nick: " at the start), cycles on repeated Tab, and leaves no match alone', async () => {
    const { fake, vm } = setup();
    fake.join({ name: 'dan' });
    vm.insert('d');
    await vm.handleKey('tab');
    expect(vm.input.text).toBe('dan: ');
    await vm.handleKey('tab');
    expect(vm.input.text).toBe('dave: ');
    await vm.handleKey('tab');
    expect(vm.input.text).toBe('dan: ');
    vm.setInput('hi CA');
    await vm.handleKey('tab');
    expect(vm.input).toEqual({ text: 'hi carol ', cursor: 9 });
    vm.setInput('hi zz');
    await vm.handleKey('tab');
    expect(vm.input).toEqual({ text: 'hi zz', cursor: 5 });
    vm.setInput('/in');
    await vm.handleKey('tab');
    expect(vm.input.text).toBe('/info ');
    await vm.handleKey('b', 'b');
    await vm.handleKey('tab');
    expect(vm.input.text).toBe('/info bob ');
  });

  it('Tab completes in the middle of a line and a typed key ends the cycle', async () => {
    const { vm } = setup();
    vm.setInput('ping  now');
    for (let i = 0; i < 4; i++) await vm.handleKey('left');
    await vm.handleKey('c', 'c');
    await vm.handleKey('tab');
    expect(vm.input).toEqual({ text: 'ping carol  now', cursor: 11 });
    await vm.handleKey('x', 'x');
    await vm.handleKey('tab');
    expect(vm.input.text).toBe('ping carol x now');
  });

  it('editing keys: arrows, Home/End, Backspace, Delete, Ctrl-U/K/W', async () => {
    const { vm } = setup();
    vm.insert('hello big world');
    await vm.handleKey('C-w');
    expect(vm.input.text).toBe('hello big ');
    await vm.handleKey('home');
    await vm.handleKey('delete');
    expect(vm.input).toEqual({ text: 'ello big ', cursor: 0 });
    await vm.handleKey('end');
    await vm.handleKey('backspace');
    await vm.handleKey('left');
    await vm.handleKey('C-k');
    expect(vm.input.text).toBe('ello bi');
    await vm.handleKey('S-x', 'X');
    await vm.handleKey('space', ' ');
    await vm.handleKey('é', 'é');
    expect(vm.input.text).toBe('ello biX é');
    await vm.handleKey('C-u');
    expect(vm.input).toEqual({ text: '', cursor: 0 });
  });

  it('a long input scrolls sideways and keeps the cursor on screen', async () => {
    const { vm } = setup({}, { cols: 40, rows: 10 });
    vm.insert(`START${'x'.repeat(60)}END`);
    let f = vm.render();
    let shown = lineText(f.input);
    expect(shown).toHaveLength(40);
    expect(shown.startsWith('[#lobby] ')).toBe(true);
    // The cursor is at the end: the window shows the end, and the cursor right after it.
    expect(shown.trimEnd().endsWith('END')).toBe(true);
    expect(f.cursor).toBe(shown.trimEnd().length);
    await vm.handleKey('home');
    f = vm.render();
    shown = lineText(f.input);
    expect(shown).toContain('[#lobby] STARTxxx');
    expect(f.cursor).toBe('[#lobby] '.length);
  });
});

describe('scrollback', () => {
  async function busy(): Promise<ReturnType<typeof setup>> {
    const s = setup();
    for (let i = 1; i <= 60; i++) s.fake.receive('bob', `line ${i}`);
    return s;
  }

  it('PgUp/PgDn move by a page and stop at both ends', async () => {
    const { vm } = await busy();
    const height = vm.layout().log.height; // 21 at 80x24
    expect(last(vm)).toBe('09:05 <bob> line 60');
    await vm.handleKey('pageup');
    expect(vm.scrollOffset).toBe(height - 2);
    expect(last(vm)).toBe(`09:05 <bob> line ${60 - (height - 2)}`);
    expect(status(vm)).toContain('-- more below --');
    for (let i = 0; i < 10; i++) await vm.handleKey('pageup');
    expect(vm.scrollOffset).toBe(60 - height);
    expect(log(vm)[0]).toBe('09:05 <bob> line 1');
    for (let i = 0; i < 10; i++) await vm.handleKey('pagedown');
    expect(vm.scrollOffset).toBe(0);
    expect(last(vm)).toBe('09:05 <bob> line 60');
  });

  it('new lines do not move a scrolled-up view; sending jumps back to the bottom', async () => {
    const { fake, vm } = await busy();
    await vm.handleKey('pageup');
    const before = log(vm);
    fake.receive('carol', 'meanwhile');
    expect(log(vm)).toEqual(before);
    await type(vm, 'back');
    expect(vm.scrollOffset).toBe(0);
    expect(last(vm)).toContain('back');
  });

  it('a short conversation does not scroll', async () => {
    const { vm } = setup();
    await vm.handleKey('pageup');
    expect(vm.scrollOffset).toBe(0);
  });
});

describe('commands', () => {
  it('/clear empties the active conversation only', async () => {
    const { fake, vm } = setup();
    fake.receive('bob', 'in the room');
    fake.receive('bob', 'in private', { direct: true });
    await type(vm, '/clear');
    expect(log(vm)).toEqual([]);
    expect(vm.entries(bobKey)).toHaveLength(1);
  });

  it('/info shows path, candidates, RTT, loss, retransmits and the fingerprint', async () => {
    const { fake, vm } = setup({
      peers: [
        {
          name: 'bob',
          state: 'direct',
          rttMs: 23,
          info: {
            path: 'direct',
            remote: '203.0.113.7:41234',
            candidates: [
              { endpoint: '192.168.1.20:41234', kind: 'host', answered: false },
              { endpoint: '203.0.113.7:41234', kind: 'srflx', answered: true },
            ],
            lossPct: 0.4,
            retransmits: 3,
            connectMs: 184,
          },
        },
      ],
    });
    await type(vm, '/info bob');
    expect(fake.calls).toEqual(['info bob']);
    const out = log(vm).join('\n');
    for (const want of [
      `fingerprint ${fake.info('bob').fingerprint}`,
      'path direct to 203.0.113.7:41234',
      'rtt 23 ms',
      'loss 0.4%',
      'retransmits 3',
      '✗ host 192.168.1.20:41234 no answer',
      '✓ srflx 203.0.113.7:41234 answered',
    ])
      expect(out).toContain(want);
    // Without a name it is about the private conversation's peer, and in the room it says how.
    await type(vm, '/info');
    expect(last(vm)).toBe('09:05 -!- usage: /info NAME (or use it in a private conversation)');
    await type(vm, '/query bob');
    await type(vm, '/info');
    expect(fake.calls.at(-1)).toBe('info bob');
  });

  it('/who lists everyone with state and RTT', async () => {
    const { vm } = setup();
    await type(vm, '/who');
    expect(log(vm)).toEqual([
      '09:05 -!- 4 in lobby: you (alice)',
      `            bob  direct 23 ms  id ${fakeId('bob').slice(0, 8)}`,
      `            carol  relay 142 ms  id ${fakeId('carol').slice(0, 8)}`,
      `            dave  offline  id ${fakeId('dave').slice(0, 8)}`,
    ]);
  });

  it('/nick asks the service and the status bar follows; a refusal is explained', async () => {
    const { fake, vm } = setup();
    await type(vm, '/nick alicia');
    expect(fake.calls).toEqual(['nick alicia']);
    expect(status(vm)).toContain(' alicia ');
    await type(vm, '/nick bob');
    expect(last(vm)).toBe('09:05 -!- the name bob is taken; /nick NEWNAME to pick another');
  });

  it('/connect reports success and failure', async () => {
    const { fake, vm } = setup({ peers: [{ name: 'bob', state: 'online', rttMs: 30 }] });
    await type(vm, '/connect bob');
    expect(fake.calls).toContain('connect bob');
    expect(log(vm).slice(-3)).toEqual([
      '09:05 -!- connecting to bob…',
      '09:05 -!- bob: online -> direct (30 ms)', // the service's notice
      '09:05 -!- connected to bob: direct 30 ms',
    ]);
    fake.failConnect = new PunchlineError('PUNCH_FAILED', 'no direct path to bob (tried 2 candidates)');
    await type(vm, '/connect bob');
    expect(last(vm)).toBe('09:05 -!- no direct path to bob (tried 2 candidates)');
  });

  it('unknown commands and bad arguments get one line, and nothing is sent', async () => {
    const { fake, vm } = setup();
    await type(vm, '/frob');
    await type(vm, '/msg bob');
    expect(log(vm)).toEqual([
      '09:05 -!- unknown command /frob; /help lists the commands',
      '09:05 -!- usage: /msg NAME TEXT',
    ]);
    expect(
      vm
        .render()
        .log.at(-1)!
        .find((s) => s.text.startsWith('usage'))!.role,
    ).toBe('error');
    expect(fake.calls).toEqual([]);
  });

  it('/help and F1 open the overlay, Esc closes it; /quit and Ctrl-C ask to quit', async () => {
    const { vm } = setup();
    let quits = 0;
    vm.on('quit', () => quits++);
    await type(vm, '/help');
    expect(vm.helpVisible).toBe(true);
    expect(text(vm.render().help!).join('\n')).toContain('/trust [NAME]');
    await vm.handleKey('escape');
    expect(vm.helpVisible).toBe(false);
    await vm.handleKey('f1');
    expect(vm.helpVisible).toBe(true);
    await vm.handleKey('C-c');
    await vm.handleKey('escape');
    await type(vm, '/quit');
    expect(quits).toBe(2);
  });
});

describe('keys and trust', () => {
  it('a key change is announced loudly, once, everywhere it matters', () => {
    const { fake, vm } = setup();
    fake.keyChange('carol');
    fake.keyChange('carol'); // a second report does not repeat the warning
    const room = vm.render().log.filter((l) => lineText(l).includes('!!!'));
    expect(room).toHaveLength(1);
    expect(lineText(room[0]!)).toContain('WARNING: the key of carol has CHANGED');
    expect(room[0]!.some((s) => s.role === 'alert')).toBe(true);
    const carolKey = conversationKey({ kind: 'peer', peerId: fakeId('carol') });
    expect(vm.entries(carolKey).some((e) => e.kind === 'system' && e.level === 'alert')).toBe(true);
    expect(status(vm)).toContain('KEY CHANGED: carol (/trust)');
    expect(vm.render().status[0]!.role).toBe('bar-alert');
    expect(
      text(vm.render().peers)
        .find((l) => l.includes('carol'))!
        .startsWith('!carol'),
    ).toBe(true);
    expect(vm.render().tabs.find((s) => s.text.includes('carol'))!.role).toBe('bar-alert');
  });

  it('another key under a name with an open tab: the warning goes to that tab and the room, no second tab', async () => {
    const { fake, vm } = setup();
    await type(vm, '/msg carol hello');
    expect(tabs(vm).match(/carol/g)).toHaveLength(1);
    fake.impostor('carol');
    expect(tabs(vm).match(/carol/g)).toHaveLength(1);
    const carolKey = conversationKey({ kind: 'peer', peerId: fakeId('carol') });
    const warnings = (key: string): number =>
      vm.entries(key).filter((e) => e.kind === 'system' && e.level === 'alert').length;
    expect(warnings(carolKey)).toBe(1);
    expect(warnings(conversationKey({ kind: 'room' }))).toBe(1);
  });

  it('messages to a changed key are held; /trust calls the service and releases them', async () => {
    const { fake, vm } = setup();
    fake.keyChange('carol');
    await type(vm, '/msg carol are you really you?');
    expect(last(vm)).toBe('09:05 <alice> are you really you? ⚠ held');
    await type(vm, '/trust');
    expect(fake.calls).toContain('trust carol');
    expect(last(vm)).toBe('09:05 -!- trusted the new key of carol; held messages are released');
    expect(status(vm)).not.toContain('KEY CHANGED');
    fake.advance();
    fake.advance();
    expect(log(vm).find((l) => l.includes('really'))).toBe('09:05 <alice> are you really you? ✓✓');
  });
});

describe('rendering', () => {
  function checkFrame(vm: ChatViewModel): void {
    const f = vm.render();
    const { cols, rows } = f.layout;
    const fits = (lines: Line[], r: Rect, what: string): void => {
      expect(lines.length, what).toBeLessThanOrEqual(r.height);
      for (const l of lines) expect(widthOf(l), what).toBe(r.width);
      expect(r.left + r.width, what).toBeLessThanOrEqual(cols);
      expect(r.top + r.height, what).toBeLessThanOrEqual(rows);
    };
    fits([f.tabs], f.layout.tabs, 'tabs');
    fits([f.status], f.layout.status, 'status');
    fits([f.input], f.layout.input, 'input');
    fits(f.log, f.layout.log, 'log');
    expect(f.log).toHaveLength(f.layout.log.height);
    if (f.layout.peers) {
      fits(f.peers, f.layout.peers, 'peers');
      expect(f.layout.peers.left + f.layout.peers.width).toBeLessThanOrEqual(f.layout.log.left);
    }
    if (f.help)
      fits(
        f.help,
        { ...f.layout.help, width: f.layout.help.width - 2, height: f.layout.help.height - 2 },
        'help',
      );
    expect(f.cursor).toBeLessThan(cols);
    // The panes tile the screen: tabs, body, status, input.
    expect(f.layout.log.top).toBe(1);
    expect(f.layout.status.top).toBe(rows - 2);
    expect(f.layout.input.top).toBe(rows - 1);
  }
  const widthOf = (l: Line): number => l.reduce((w, s) => w + strWidth(s.text), 0);

  async function crowded(cols: number, rows: number): Promise<ChatViewModel> {
    const peers = Array.from({ length: 30 }, (_, i) => ({
      name: `peer-with-a-long-name-${i}`,
      state: 'relay' as const,
      rttMs: 1500 + i,
    }));
    const { fake, vm } = setup(
      { peers, name: 'a-rather-long-nickname-here', publicEndpoint: '198.51.100.200:65535' },
      { cols, rows },
    );
    fake.receive(
      'peer-with-a-long-name-3',
      `${'word '.repeat(40)}中文中文中文中文中文中文中文 ${'x'.repeat(150)}`,
    );
    await type(vm, `/msg peer-with-a-long-name-7 ${'y'.repeat(120)}`);
    for (let i = 0; i < 12; i++) await type(vm, `/query peer-with-a-long-name-${i}`);
    fake.keyChange('peer-with-a-long-name-5');
    vm.insert('z'.repeat(300));
    return vm;
  }

  it('80x24: every pane line is exactly its pane wide and nothing overflows', async () => {
    const vm = await crowded(80, 24);
    checkFrame(vm);
    const f = vm.render();
    expect(f.layout.peers).toEqual({ top: 1, left: 0, width: 20, height: 21 });
    expect(f.layout.log).toEqual({ top: 1, left: 21, width: 59, height: 21 });
    expect(text(f.peers).at(-1)).toMatch(/^ \+\d+ more \(\/who\)/);
    await vm.handleKey('f1');
    checkFrame(vm);
    expect(vm.render().layout.help.height).toBeLessThanOrEqual(24);
  });

  it.each([
    [40, 12],
    [59, 20],
    [60, 24],
    [100, 30],
    [200, 60],
    [20, 5],
  ])('%dx%d lays out without overflow; the peer list hides under 60 columns', async (cols, rows) => {
    const vm = await crowded(cols, rows);
    checkFrame(vm);
    expect(vm.render().layout.peers === null).toBe(cols < 60);
  });

  it('resize re-lays out', () => {
    const { vm } = setup();
    vm.resize(100, 30);
    expect(vm.layout()).toMatchObject({
      cols: 100,
      rows: 30,
      peers: { width: 25, height: 27 },
      log: { left: 26, width: 74 },
    });
  });

  it('the peer list shows each state and round trip, offline last', () => {
    const { vm } = setup({}, { cols: 80 });
    expect(text(vm.render().peers).slice(0, 5)).toEqual([
      'lobby (3)          │',
      ' alice (you)       │',
      ' bob    direct 23ms│',
      ' carol  relay 142ms│',
      ' dave       offline│',
    ]);
  });

  it('the status bar shows nick, fingerprint, public endpoint and server state', () => {
    const { fake, vm } = setup();
    expect(status(vm)).toMatch(
      /^ alice [0-9a-f]{4}(:[0-9a-f]{4}){3} │ 203\.0\.113\.5:40000 │ server ok +3 in room $/,
    );
    fake.setSelf({ server: 'lost' });
    expect(status(vm)).toContain('SERVER LOST');
  });

  it('monochrome: no segment carries a colour and no style has one', async () => {
    const { fake, vm } = setup({}, { monochrome: true });
    fake.receive('bob', 'hi alice');
    await type(vm, 'hello');
    fake.keyChange('carol');
    await vm.handleKey('f1');
    const f = vm.render();
    const all = [f.tabs, f.status, f.input, ...f.peers, ...f.log, ...(f.help ?? [])].flat();
    expect(all.length).toBeGreaterThan(20);
    for (const seg of all) {
      expect(seg.colour).toBeUndefined();
      const st = styleOf(seg, true);
      expect(st.fg).toBeUndefined();
      expect(st.bg).toBeUndefined();
    }
    // Nicks are still told apart from text: bold.
    expect(
      styleOf(
        f.log.flat().find((s) => s.text === '<bob>')!,
        true,
      ).bold,
    ).toBe(true);
  });

  it('colour mode gives each nick its stable colour, the same in two instances', () => {
    const a = setup().vm;
    const b = setup().vm;
    const colourOf = (vm: ChatViewModel, name: string): number | undefined =>
      vm
        .render()
        .peers.flat()
        .find((s) => s.text.trim() === name)?.colour;
    for (const name of ['bob', 'carol', 'dave']) {
      expect(colourOf(a, name)).toBeTypeOf('number');
      expect(colourOf(a, name)).toBe(colourOf(b, name));
    }
  });
});
