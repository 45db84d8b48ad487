/** The view model against the fake service: the input line's keys, and scrolling back. */
import { describe, expect, it } from 'vitest';
import { lineText } from '../../peer/tui/theme.js';
import { last, log, setup, status, type } from './helpers.js';

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
