/** What the terminal client says about the rendezvous server (peer/tui/server-status.ts), on its own. */
import { describe, expect, it } from 'vitest';
import type { SelfView } from '../../peer/chat/types.js';
import { ServerStatus } from '../../peer/tui/server-status.js';

const self = (server: SelfView['server'], extra: Partial<SelfView> = {}): SelfView => ({
  name: 'alice',
  id: 'a'.repeat(32),
  fingerprint: 'aaaa:aaaa',
  room: 'lobby',
  server,
  ...extra,
});

describe('server status', () => {
  it('says each kind of problem once until registered again, then "server back"', () => {
    const s = new ServerStatus();
    expect(s.problem('SERVER_UNREACHABLE', 'no answer')).toEqual({ text: 'no answer', level: 'warn' });
    expect(s.problem('SERVER_UNREACHABLE', 'no answer')).toBe('noted');
    expect(s.selfChanged(self('connecting'), self('registered'))).toEqual([
      { text: 'server back: registered as alice', level: 'info' },
    ]);
    expect(s.problem('SERVER_UNREACHABLE', 'no answer')).toEqual({ text: 'no answer', level: 'warn' });
  });

  it('a taken name or a full room is an error with the hint, and a note for the status bar', () => {
    const s = new ServerStatus();
    expect(s.problem('NAME_TAKEN', 'the name alice is taken')).toEqual({
      text: 'the name alice is taken; /nick NEWNAME to join under another name',
      level: 'error',
    });
    expect(s.note).toBe('name taken: /nick NEWNAME');
    expect(s.problem('ROOM_FULL', 'room lobby is full')).toMatchObject({ level: 'error' });
    expect(s.note).toBe('room full');
    s.selfChanged(self('connecting'), self('registered'));
    expect(s.note).toBeUndefined();
  });

  it('a move to the next of several servers is said in the room, naming both', () => {
    const s = new ServerStatus();
    const at = (server: SelfView['server'], serverName: string): SelfView => self(server, { serverName });
    expect(s.selfChanged(at('registered', 'a.example:7000'), at('lost', 'b.example:7000'))).toEqual([
      { text: 'a.example:7000 stopped answering: moving to b.example:7000', level: 'warn' },
      { text: 'server lost; reconnecting', level: 'warn' },
    ]);
    // The same server: nothing about a move.
    expect(s.selfChanged(at('lost', 'b.example:7000'), at('registered', 'b.example:7000'))).toEqual([
      { text: 'server back: registered as alice', level: 'info' },
    ]);
    expect(s.selfChanged(self('registered'), self('registered'))).toEqual([]);
  });

  it('a move because the server is draining says so, as news rather than a warning', () => {
    const s = new ServerStatus();
    const at = (serverName: string, serverChange?: SelfView['serverChange']): SelfView =>
      self('registered', { serverName, ...(serverChange ? { serverChange } : {}) });
    expect(s.selfChanged(at('a.example:7000'), at('b.example:7000', 'draining'))).toEqual([
      { text: 'a.example:7000 is going down (draining): moving to b.example:7000', level: 'info' },
    ]);
    expect(s.selfChanged(at('b.example:7000', 'draining'), at('a.example:7000', 'unanswered'))).toEqual([
      { text: 'b.example:7000 stopped answering: moving to a.example:7000', level: 'warn' },
    ]);
  });

  it('a NAME_TAKEN while /nick is in flight is left to the command', () => {
    const s = new ServerStatus();
    s.renaming = true;
    expect(s.problem('NAME_TAKEN', 'taken')).toBe('ignored');
    s.renaming = false;
    expect(s.problem('NAME_TAKEN', 'taken')).toMatchObject({ level: 'error' });
  });

  it('losing the server and the close reason are said once; registering again clears them', () => {
    const s = new ServerStatus();
    expect(s.selfChanged(self('registered'), self('lost'))).toEqual([
      { text: 'server lost; reconnecting', level: 'warn' },
    ]);
    expect(s.selfChanged(self('lost'), self('lost', { serverClosed: 'shutting down' }))).toEqual([
      { text: 'the server closed the connection: shutting down', level: 'warn' },
    ]);
    expect(s.selfChanged(self('lost'), self('registered'))).toEqual([
      { text: 'server back: registered as alice', level: 'info' },
    ]);
    // Registered without a problem said before: nothing to say.
    expect(s.selfChanged(self('connecting'), self('registered'))).toEqual([]);
  });
});
