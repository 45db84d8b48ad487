/**
 * The terminal client's open conversations, the room first, and which one is shown; and the
 * messages they hold, by id, so a delivery mark or a message seen twice (history, then live)
 * updates the one entry. ChatViewModel (view-model.ts) decides what goes where.
 */
import type { ChatMessage, ConversationId, DeliveryState } from '../chat/types.js';
import { conversationKey } from '../chat/types.js';
import { emptyConversation } from './conversation.js';
import type { Conversation } from './conversation.js';
import type { Entry } from './panes.js';

/** A copy that the list may update in place (delivery marks). */
const copyOf = (m: ChatMessage): ChatMessage => ({
  ...m,
  delivery: m.delivery ? { ...m.delivery } : undefined,
});

export class ConversationList {
  readonly all: Conversation[] = [];
  activeIdx = 0;
  private readonly messages = new Map<string, ChatMessage>();

  /** `history` gives the messages a conversation opens with; `now` dates its opening. */
  constructor(
    private readonly history: (id: ConversationId) => readonly ChatMessage[],
    private readonly now: () => number,
  ) {}

  get active(): Conversation {
    return this.all[this.activeIdx]!;
  }

  /** The room's conversation, always the first. */
  get room(): Conversation {
    return this.all[0]!;
  }

  existing(id: ConversationId): Conversation | undefined {
    const key = conversationKey(id);
    return this.all.find((x) => x.key === key);
  }

  byKey(key: string): Conversation | undefined {
    return this.all.find((c) => c.key === key);
  }

  /** The conversation for `id`; a new one (with its history) is opened under `name()` at the end. */
  get(id: ConversationId, name: () => string): Conversation {
    const c = this.existing(id);
    if (c) return c;
    const opened = this.open(id, name());
    this.all.push(opened);
    return opened;
  }

  /** A new conversation with its history loaded (not yet in the list). */
  open(id: ConversationId, name: string): Conversation {
    const c = emptyConversation(id, name, this.now());
    for (const m of this.history(id)) {
      // The message that opens a conversation is often in history already: show it once.
      if (this.messages.has(m.id)) continue;
      const copy = copyOf(m);
      this.messages.set(m.id, copy);
      c.entries.push({ kind: 'message', msg: copy });
    }
    c.historyEnd = c.entries.length;
    return c;
  }

  /** Show conversation `index`: it is read now. False when there is none or it is shown already. */
  switchTo(index: number): boolean {
    if (index < 0 || index >= this.all.length || index === this.activeIdx) return false;
    this.active.markerAt = null;
    this.activeIdx = index;
    const c = this.active;
    c.unread = 0;
    c.mention = false;
    c.scroll = 0;
    return true;
  }

  /** Close a conversation; the one before it (or the last) is shown and read. */
  remove(c: Conversation): void {
    this.all.splice(this.all.indexOf(c), 1);
    this.activeIdx = Math.min(this.activeIdx, this.all.length - 1);
    this.active.unread = 0;
  }

  /** A message not seen before, as the copy to show; a known one merges its delivery marks (undefined). */
  admit(m: ChatMessage): ChatMessage | undefined {
    const existing = this.messages.get(m.id);
    if (existing) {
      if (m.delivery) existing.delivery = { ...existing.delivery, ...m.delivery };
      return undefined;
    }
    const copy = copyOf(m);
    this.messages.set(m.id, copy);
    return copy;
  }

  /** A delivery mark for a message shown. */
  delivered(id: string, peerId: string, state: DeliveryState): void {
    const m = this.messages.get(id);
    if (m) m.delivery = { ...m.delivery, [peerId]: state };
  }

  /** Entries that dropped off the top: their messages are no longer tracked. */
  forget(dropped: readonly Entry[]): void {
    for (const old of dropped) if (old.kind === 'message') this.messages.delete(old.msg.id);
  }
}
