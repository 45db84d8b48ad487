/** The view model against the fake service: the frame it renders, pane by pane and at every size. */
import { describe, expect, it } from 'vitest';
import { strWidth } from '../../peer/tui/text.js';
import { styleOf } from '../../peer/tui/theme.js';
import type { Line } from '../../peer/tui/theme.js';
import type { Rect } from '../../peer/tui/layout.js';
import type { ChatViewModel } from '../../peer/tui/view-model.js';
import { log, setup, status, text, type } from './helpers.js';

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

  it('with several servers (--server A,B) the status bar names the one in use', () => {
    const { fake, vm } = setup();
    fake.setSelf({ server: 'registered', serverName: 'b.example:7000' });
    expect(status(vm)).toMatch(/│ server b\.example:7000 ok +3 in room $/);
    fake.setSelf({ server: 'lost', serverName: 'a.example:7000' });
    expect(status(vm)).toContain('SERVER a.example:7000 LOST');
  });

  it('a move to another server says why in the room: draining, or not answering', () => {
    const { fake, vm } = setup();
    fake.setSelf({ server: 'registered', serverName: 'a.example:7000' });
    fake.setSelf({ serverName: 'b.example:7000', serverChange: 'draining' });
    fake.setSelf({ serverName: 'c.example:7000', serverChange: 'unanswered' });
    const lines = log(vm).filter((l) => l.includes('moving to'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('a.example:7000 is going down (draining): moving to b.example:7000');
    expect(lines[1]).toContain('b.example:7000 stopped answering: moving to c.example:7000');
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
