import type { AuthChannel } from '../common/wire/server-auth.js';
import type { MemberRecord, Registry, Transport } from './registry.js';

/**
 * How this node reaches a member it holds a binding of: the socket or connection to send on, and
 * the binding's authenticated channel (common/wire/server-auth.ts), whose sequence numbers and
 * replay window are state of this process. Neither can be stored or shared, so they live here,
 * beside the registry's plain records (registry.ts), keyed by member id and transport.
 */
export interface LiveBinding {
  readonly send: (bytes: Uint8Array) => void;
  readonly auth: AuthChannel;
}

/** What presence and introductions need to reach a member: one sealed send, over its best binding. */
export interface Deliverer {
  /** Sent over UDP when registered there, else over the stream; false: no live binding here. */
  deliver(rec: MemberRecord, bytes: Uint8Array): boolean;
}

/**
 * The node-local bindings table. An entry counts only while the registry's record holds a binding
 * of that transport (the registry is the authority); the server calls follow() after each change
 * it makes to a record, and prune() after the registry dropped bindings by itself (expiry).
 */
export class Bindings implements Deliverer {
  private readonly live: Record<Transport, Map<string, LiveBinding>> = { udp: new Map(), ws: new Map() };

  /** Entries held, by transport (a member on both counts in both). */
  get size(): Record<Transport, number> {
    return { udp: this.live.udp.size, ws: this.live.ws.size };
  }

  /** Every live binding, both transports (a member on both is visited twice). */
  each(visit: (idHex: string, transport: Transport, binding: LiveBinding) => void): void {
    for (const transport of ['udp', 'ws'] as const)
      for (const [idHex, binding] of this.live[transport]) visit(idHex, transport, binding);
  }

  set(idHex: string, transport: Transport, binding: LiveBinding): void {
    this.live[transport].set(idHex, binding);
  }

  /** `rec`'s live binding on `transport`, if the record holds that binding and this node reaches it. */
  of(rec: MemberRecord, transport: Transport): LiveBinding | undefined {
    return rec[transport] ? this.live[transport].get(rec.idHex) : undefined;
  }

  /** Follow the registry after it changed `idHex`: forget the entries its record no longer holds. */
  follow(idHex: string, rec: MemberRecord | undefined): void {
    if (!rec?.udp) this.live.udp.delete(idHex);
    if (!rec?.ws) this.live.ws.delete(idHex);
  }

  /** follow() for every entry: after the registry dropped bindings by itself (expiry). */
  prune(registry: Pick<Registry, 'get'>): void {
    for (const idHex of new Set([...this.live.udp.keys(), ...this.live.ws.keys()]))
      this.follow(idHex, registry.get(idHex));
  }

  /**
   * Server -> peer signalling: over UDP when registered there, else over the stream, sealed with
   * that binding's key (`bytes` itself is left untouched, so one encoding serves a room).
   */
  deliver(rec: MemberRecord, bytes: Uint8Array): boolean {
    const via = this.of(rec, rec.udp ? 'udp' : 'ws');
    if (!via) return false;
    via.send(via.auth.sealCopy(bytes));
    return true;
  }
}
