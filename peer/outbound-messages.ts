import type { Session } from '../common/session/session.js';
import { encodeApp } from './app-message.js';
import type { AppMessage } from './app-message.js';

interface Pending {
  msg: AppMessage;
  sid: number | undefined; // session message id once handed to the current session
}

/**
 * A link's messages not yet confirmed by a receipt (PeerLink): handed to each new session in the
 * order they were sent, until the receipt for each comes back.
 */
export class OutboundMessages {
  private readonly pending = new Map<string, Pending>();
  private readonly bySid = new Map<number, string>();

  get size(): number {
    return this.pending.size;
  }

  /** Queue a message; false when it is queued already. */
  add(msg: AppMessage): boolean {
    if (this.pending.has(msg.id)) return false;
    this.pending.set(msg.id, { msg, sid: undefined });
    return true;
  }

  /** A new session: everything not yet confirmed goes to it anew. */
  reset(): void {
    this.bySid.clear();
    for (const p of this.pending.values()) p.sid = undefined;
  }

  /** Hand the session, in order, what it does not have yet, until its send buffer is full. */
  pushTo(s: Session): void {
    for (const p of this.pending.values()) {
      if (p.sid !== undefined) continue;
      const sid = s.send(encodeApp(p.msg));
      if (sid === false) return; // the send buffer is full: 'writable' pushes again
      p.sid = sid;
      this.bySid.set(sid, p.msg.id);
    }
  }

  /** The session's receipt for message `sid`: the id of the message it confirms, if one waited. */
  delivered(sid: number): string | undefined {
    const id = this.bySid.get(sid);
    if (id === undefined) return undefined;
    this.bySid.delete(sid);
    return this.pending.delete(id) ? id : undefined;
  }
}
