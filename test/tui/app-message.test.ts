/**
 * The "/me" action on the wire (docs/protocol.md, chat messages): `"action": true` only when
 * set, ignored by a receiver that does not know it, refused when it is not a boolean; and the
 * JSON-lines `send` command that carries it (docs/cli.md).
 */
import { describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { decodeApp, encodeApp } from '../../peer/app-message.js';
import { parseCommand } from '../../peer/cli/json-commands.js';

const json = (b: Uint8Array): Record<string, unknown> =>
  JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>;

describe('the action flag of a chat message', () => {
  it('is on the wire only when true, and decodes back', () => {
    const plain = { id: 'a1', ts: 5, room: true, text: 'hello' };
    expect(json(encodeApp(plain))).toEqual({ v: 1, ...plain });
    expect(json(encodeApp({ ...plain, action: false }))).toEqual({ v: 1, ...plain });
    const act = encodeApp({ ...plain, text: 'waves', action: true });
    expect(json(act)).toEqual({ v: 1, ...plain, text: 'waves', action: true });
    expect(decodeApp(act)).toEqual({ ...plain, text: 'waves', action: true });
    expect(decodeApp(encodeApp(plain))).toEqual(plain);
  });

  it('a message without it (an older sender) is a plain message; unknown fields are ignored', () => {
    const bytes = new TextEncoder().encode(
      JSON.stringify({ v: 1, id: 'x', ts: 1, room: false, text: 'hi', later: { x: 1 } }),
    );
    expect(decodeApp(bytes)).toEqual({ id: 'x', ts: 1, room: false, text: 'hi' });
  });

  it('an action that is not a boolean is MALFORMED', () => {
    const bytes = new TextEncoder().encode(
      JSON.stringify({ v: 1, id: 'x', ts: 1, room: false, text: 'hi', action: 'yes' }),
    );
    let err: unknown;
    try {
      decodeApp(bytes);
    } catch (e) {
      err = e;
    }
    expect(isPunchlineError(err, 'MALFORMED')).toBe(true);
  });

  it('the JSON-lines send command takes "action": true, and refuses a non-boolean', () => {
    expect(parseCommand('{"cmd":"send","peer":"bob","text":"waves","action":true}')).toEqual({
      cmd: 'send',
      peer: 'bob',
      text: 'waves',
      action: true,
    });
    expect(parseCommand('{"cmd":"send","peer":"bob","text":"hi"}')).toEqual({
      cmd: 'send',
      peer: 'bob',
      text: 'hi',
    });
    let err: unknown;
    try {
      parseCommand('{"cmd":"send","peer":"bob","text":"hi","action":1}');
    } catch (e) {
      err = e;
    }
    expect(isPunchlineError(err, 'BAD_ARGUMENT')).toBe(true);
  });
});
