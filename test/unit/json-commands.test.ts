import { describe, expect, it } from 'vitest';
import { MAX_REQ_CHARS, parseCommand, salvage } from '../../peer/cli/json-commands.js';

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

  describe('file commands', () => {
    const message = (line: string): string => {
      try {
        parseCommand(line);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('BAD_ARGUMENT');
        return (e as Error).message;
      }
      throw new Error(`${line} parsed`);
    };

    it('parse with their fields and an optional req; accept_file with or without a dir', () => {
      expect(parseCommand('{"cmd":"send_file","peer":"bob","path":"/tmp/a b.txt","req":3}')).toEqual({
        cmd: 'send_file',
        peer: 'bob',
        path: '/tmp/a b.txt',
        req: 3,
      });
      expect(parseCommand('{"cmd":"accept_file","file":"F1","dir":"/tmp/in"}')).toEqual({
        cmd: 'accept_file',
        file: 'F1',
        dir: '/tmp/in',
      });
      expect(parseCommand('{"cmd":"accept_file","file":"F1"}')).toEqual({ cmd: 'accept_file', file: 'F1' });
      expect(parseCommand('{"cmd":"reject_file","file":"F1","req":"r"}')).toEqual({
        cmd: 'reject_file',
        file: 'F1',
        req: 'r',
      });
      expect(parseCommand('{"cmd":"cancel_file","file":"F1","extra":1}')).toEqual({
        cmd: 'cancel_file',
        file: 'F1',
      });
    });

    it('send_file without a peer or a path, or with one that is not a non-empty string: BAD_ARGUMENT naming it', () => {
      expect(message('{"cmd":"send_file","path":"/tmp/x"}')).toBe(
        '"send_file" needs a non-empty string "peer"',
      );
      expect(message('{"cmd":"send_file","peer":"bob"}')).toBe('"send_file" needs a non-empty string "path"');
      expect(message('{"cmd":"send_file","peer":"bob","path":""}')).toBe(
        '"send_file" needs a non-empty string "path"',
      );
      expect(message('{"cmd":"send_file","peer":"bob","path":["/tmp/x"]}')).toBe(
        '"send_file" needs a non-empty string "path"',
      );
      expect(message('{"cmd":"send_file","peer":7,"path":"/tmp/x"}')).toBe(
        '"send_file" needs a non-empty string "peer"',
      );
    });

    it('accept_file, reject_file and cancel_file need a file id; a dir given must be a non-empty string', () => {
      for (const cmd of ['accept_file', 'reject_file', 'cancel_file'])
        for (const file of ['', '"file":""', '"file":12', '"file":null', '"file":{}'])
          expect(message(`{"cmd":"${cmd}"${file ? `,${file}` : ''}}`)).toBe(
            `"${cmd}" needs a non-empty string "file"`,
          );
      for (const dir of ['""', '5', 'null', 'true', '["/tmp"]'])
        expect(message(`{"cmd":"accept_file","file":"F1","dir":${dir}}`)).toBe(
          '"accept_file" needs a non-empty string "dir"',
        );
    });

    it('an error still carries the req, and the list of commands names the file commands', () => {
      expect(salvage('{"cmd":"accept_file","req":"r9"}')).toEqual({ req: 'r9' });
      expect(message('{"cmd":"send_files"}')).toMatch(/send_file, accept_file, reject_file, cancel_file/);
    });
  });
});
