import { describe, expect, it } from 'vitest';
import { COMMANDS, completeCommand, parseInput } from '../../peer/tui/commands.js';

describe('parseInput', () => {
  it.each([
    ['/connect bob', { name: 'connect', peer: 'bob' }],
    ['/msg bob hello there  ', { name: 'msg', peer: 'bob', text: 'hello there' }],
    ['/msg "bob smith" hi', { name: 'msg', peer: 'bob smith', text: 'hi' }],
    ['/m bob hi', { name: 'msg', peer: 'bob', text: 'hi' }],
    ['/query bob', { name: 'query', peer: 'bob' }],
    ['/close', { name: 'close' }],
    ['/who', { name: 'who' }],
    ['/info bob', { name: 'info', peer: 'bob' }],
    ['/info', { name: 'info' }],
    ['/nick alice2', { name: 'nick', nick: 'alice2' }],
    ['/trust bob', { name: 'trust', peer: 'bob' }],
    ['/trust', { name: 'trust' }],
    ['/clear', { name: 'clear' }],
    ['/help', { name: 'help' }],
    ['/quit', { name: 'quit' }],
    ['/exit', { name: 'quit' }],
    ['/QUIT', { name: 'quit' }],
  ])('%s', (line, command) => {
    expect(parseInput(line)).toEqual({ kind: 'command', command });
  });

  it('every documented command parses from its usage line', () => {
    for (const c of COMMANDS) {
      const example = c.usage.replace(/\[?NAME\]?/, 'bob').replace('TEXT', 'hi');
      const p = parseInput(example);
      expect(p.kind, example).toBe('command');
      if (p.kind === 'command') expect(p.command.name).toBe(c.name);
    }
  });

  it.each([
    ['/connect', 'usage: /connect NAME'],
    ['/connect bob carol', 'usage: /connect NAME'],
    ['/msg bob', 'usage: /msg NAME TEXT'],
    ['/msg', 'usage: /msg NAME TEXT'],
    ['/msg "bob hi', 'usage: /msg NAME TEXT (missing closing quote)'],
    ['/msg "" hi', 'usage: /msg NAME TEXT'],
    ['/query', 'usage: /query NAME'],
    ['/who everyone', 'usage: /who'],
    ['/info bob carol', 'usage: /info [NAME]'],
    ['/nick', 'usage: /nick NAME'],
    ['/nick two words', 'usage: /nick NAME'],
    ['/trust a b', 'usage: /trust [NAME]'],
    ['/clear all', 'usage: /clear'],
    ['/help me', 'usage: /help'],
    ['/quit now', 'usage: /quit'],
    ['/frobnicate', 'unknown command /frobnicate; /help lists the commands'],
    ['/', 'empty command; type //text to send a line starting with /'],
  ])('%s -> one-line error', (line, message) => {
    expect(parseInput(line)).toEqual({ kind: 'error', message });
    expect(message).not.toContain('\n');
  });

  it('plain lines are text, //x escapes a slash, blank lines are empty', () => {
    expect(parseInput('hello /there')).toEqual({ kind: 'text', text: 'hello /there' });
    expect(parseInput('//shrug')).toEqual({ kind: 'text', text: '/shrug' });
    expect(parseInput('   ')).toEqual({ kind: 'empty' });
  });

  it('completes command names by prefix', () => {
    expect(completeCommand('c')).toEqual(['connect', 'cancel', 'close', 'clear']);
    expect(completeCommand('QU')).toEqual(['query', 'quit']);
    expect(completeCommand('zz')).toEqual([]);
  });
});
