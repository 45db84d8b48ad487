import type { Clock, TimerHandle } from '../common/clock.js';
import type { MemberRecord } from './registry.js';

/**
 * How long a member that left a draining cluster node may take to register at another node
 * before it counts as gone: a member told GOING_AWAY moves at once (peer/server-failover.ts), one
 * HELLO/REGISTER round trip and a name claim in Redis, so this is ample; a drain that ends sooner
 * (its --drain-ms) announces the rest as gone when the node leaves the cluster.
 */
export const HANDOVER_MS = 5_000;

/**
 * Members that left this node while it drains (LEAVE, their stream closed): most are moving to
 * another node of the cluster, so their cluster record stays until that node announces them
 * (`arrived`) and the rooms on the other nodes never see them leave and join again
 * (test/cluster/procs-drain.test.ts). One not seen elsewhere within HANDOVER_MS goes (`gone`).
 */
export class Handovers {
  private readonly pending = new Map<string, TimerHandle>();
  /** Held departures that ended by the member's arrival at another node, and by the hold running out. */
  readonly counts = { arrived: 0, expired: 0 };

  constructor(
    private readonly clock: Clock,
    private readonly gone: (rec: MemberRecord) => void,
  ) {}

  /** `rec` left this node: hold its departure back for HANDOVER_MS. */
  hold(rec: MemberRecord): void {
    this.clock.clearTimeout(this.pending.get(rec.idHex));
    const timer = this.clock.setTimeout(() => {
      this.pending.delete(rec.idHex);
      this.counts.expired++;
      this.gone(rec);
    }, HANDOVER_MS);
    this.pending.set(rec.idHex, timer);
  }

  /** Another node announced member `id`: its record there replaced ours; true when it was held here. */
  arrived(id: string): boolean {
    const timer = this.pending.get(id);
    if (timer === undefined) return false;
    this.clock.clearTimeout(timer);
    this.pending.delete(id);
    this.counts.arrived++;
    return true;
  }

  /** Departures still held back. */
  get size(): number {
    return this.pending.size;
  }

  /** Stop the timers; idempotent. Those still held are announced gone by the node leaving the cluster. */
  close(): void {
    for (const t of this.pending.values()) this.clock.clearTimeout(t);
    this.pending.clear();
  }
}
