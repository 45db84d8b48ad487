import { describe, expect, it } from 'vitest';
import { MAX_REQ_CHARS, parseCommand } from '../../peer/cli/json-commands.js';

const code = (line: string): string | undefined => {
  try {
    parseCommand(line);
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('JSON-lines commands (docs/cli.md)', () => {
  it('carry an optional req: a short string or a finite number, kept as given', () => {
    expect(parseCommand('{"cmd":"peers","req":"a-1"}')).toEqual({ cmd: 'peers', req: 'a-1' });
    expect(parseCommand('{"cmd":"peers","req":7}')).toEqual({ cmd: 'peers', req: 7 });
    expect(parseCommand('{"cmd":"peers"}')).toEqual({ cmd: 'peers' });
    expect(parseCommand(`{"cmd":"peers","req":"${'x'.repeat(MAX_REQ_CHARS)}"}`)).toMatchObject({
      cmd: 'peers',
    });
  });

  it('refuse a req that is long, structured or not finite, with BAD_ARGUMENT', () => {
    expect(code(`{"cmd":"peers","req":"${'x'.repeat(MAX_REQ_CHARS + 1)}"}`)).toBe('BAD_ARGUMENT');
    expect(code('{"cmd":"peers","req":{"a":1}}')).toBe('BAD_ARGUMENT');
    expect(code('{"cmd":"peers","req":[1]}')).toBe('BAD_ARGUMENT');
    expect(code('{"cmd":"peers","req":1e999}')).toBe('BAD_ARGUMENT');
  });

  it('say what is missing for {} and name the commands', () => {
    expect(() => parseCommand('{}')).toThrow(/missing "cmd"; expected connect, send, send_room/);
    expect(() => parseCommand('{"cmd":"nope"}')).toThrow(/unknown cmd "nope"/);
  });

  it('send_room needs a text and no peer', () => {
    expect(parseCommand('{"cmd":"send_room","text":"hi all"}')).toEqual({ cmd: 'send_room', text: 'hi all' });
    expect(code('{"cmd":"send_room"}')).toBe('BAD_ARGUMENT');
  });
});
