import type { ChatEvents, DeliveryState } from './types.js';

/**
 * Delivery state per outgoing message and recipient, for the messages of this run and those
 * the outbox brought back. Every change is told (`delivery`), except that a delivered mark never
 * goes back.
 */
export class DeliveryBook {
  private readonly states = new Map<string, Record<string, DeliveryState>>();

  constructor(private readonly tell: (e: ChatEvents['delivery']) => void) {}

  /** A new message, with the first state of each recipient. */
  start(id: string, states: Record<string, DeliveryState>): void {
    this.states.set(id, states);
  }

  /** From the outbox's marks: delivered where the receipt was recorded, else pending. */
  restore(id: string, marks: { to: string[]; done: string[] }): void {
    const states: Record<string, DeliveryState> = {};
    for (const to of marks.to) states[to] = marks.done.includes(to) ? 'delivered' : 'pending';
    this.states.set(id, states);
  }

  /** A copy of a message's states (undefined: not tracked). */
  of(id: string): Record<string, DeliveryState> | undefined {
    const d = this.states.get(id);
    return d ? { ...d } : undefined;
  }

  stateOf(id: string, peerId: string): DeliveryState | undefined {
    return this.states.get(id)?.[peerId];
  }

  /** The message never reached the outbox: nothing to track. */
  drop(id: string): void {
    this.states.delete(id);
  }

  set(id: string, peerId: string, state: DeliveryState): void {
    const d = this.states.get(id);
    if (!d || d[peerId] === state || d[peerId] === 'delivered') return;
    d[peerId] = state;
    this.tell({ id, peerId, state });
  }

  /** Every message in state `from` for this peer moves to `to`. */
  move(peerId: string, from: DeliveryState, to: DeliveryState): void {
    for (const [id, d] of this.states) if (d[peerId] === from) this.set(id, peerId, to);
  }

  /** A receipt; one for a message this run does not track (older than the history it read) is still told. */
  delivered(id: string, peerId: string): void {
    if (!this.states.has(id)) this.tell({ id, peerId, state: 'delivered' });
    else this.set(id, peerId, 'delivered');
  }
}
