/**
 * What the terminal client says about the rendezvous server: one line in the room per kind of
 * problem until the server is back (the UDP and relay clients retry on their own and report
 * each failure), "server back" once registered again, a line when the client moves to the next
 * of several servers (`--server A,B`; the status bar names the one in use), saying why (the
 * server stopped answering, or it is draining: rendezvous/drain.ts), and a short note for
 * the status bar, which every conversation shows. Pure state: ChatViewModel (view-model.ts) prints the lines.
 */
import type { SelfView } from '../chat/types.js';
import type { NoticeLevel } from './panes.js';

/** A line for the room conversation. */
export interface RoomLine {
  text: string;
  level: NoticeLevel;
}

/** Errors about the rendezvous server: said once per outage, in the room, never per conversation. */
export const SERVER_CODES: ReadonlySet<string> = new Set([
  'SERVER_UNREACHABLE',
  'NAME_TAKEN',
  'ROOM_FULL',
  'SERVER_KEY_CHANGED',
  'NOT_REGISTERED',
  'RATE_LIMITED',
  'RELAY_UNAVAILABLE',
]);

export class ServerStatus {
  /** The short reason shown in the status bar while the server is lost. */
  note: string | undefined;
  /** A /nick in flight reports its own NAME_TAKEN. */
  renaming = false;
  /** Problems said in the room since the last registration (by code), so each is said once. */
  private readonly said = new Set<string>();
  /** A problem was said: "server back" follows when registered again. */
  private down = false;

  /**
   * A problem with the server: the line for the room, 'noted' when that kind was said already
   * (the status note may still have changed), or 'ignored' (a NAME_TAKEN that /nick reports).
   */
  problem(code: string, message: string): RoomLine | 'noted' | 'ignored' {
    const taken = code === 'NAME_TAKEN' || code === 'ROOM_FULL';
    if (code === 'NAME_TAKEN' && this.renaming) return 'ignored';
    this.note =
      code === 'NAME_TAKEN' ? 'name taken: /nick NEWNAME' : code === 'ROOM_FULL' ? 'room full' : undefined;
    if (this.said.has(code)) return 'noted';
    this.said.add(code);
    this.down = true;
    const text = taken ? `${message}; /nick NEWNAME to join under another name` : message;
    return { text, level: taken ? 'error' : 'warn' };
  }

  /** Your own view changed (`prev` to `s`): the lines for the room. */
  selfChanged(prev: SelfView, s: SelfView): RoomLine[] {
    const out: RoomLine[] = [];
    const say = (r: RoomLine | 'noted' | 'ignored'): void => {
      if (typeof r !== 'string') out.push(r);
    };
    if (s.serverClosed !== undefined && s.serverClosed !== prev.serverClosed)
      say(this.problem('CLOSED', `the server closed the connection: ${s.serverClosed}`));
    if (s.serverName !== undefined && prev.serverName !== undefined && s.serverName !== prev.serverName)
      out.push(
        s.serverChange === 'draining'
          ? { text: `${prev.serverName} is going down (draining): moving to ${s.serverName}`, level: 'info' }
          : { text: `${prev.serverName} stopped answering: moving to ${s.serverName}`, level: 'warn' },
      );
    if (s.server === 'lost' && prev.server !== 'lost' && !this.down)
      say(this.problem('LOST', 'server lost; reconnecting'));
    if (s.server === 'registered' && prev.server !== 'registered') {
      this.said.clear();
      this.note = undefined;
      if (this.down) {
        this.down = false;
        out.push({ text: `server back: registered as ${s.name}`, level: 'info' });
      }
    }
    return out;
  }
}
