/**
 * Recent loss as a fraction: the fate (acknowledged or declared lost) of the last `size`
 * ack-eliciting packets, kept in a ring. Heartbeats keep it moving on an idle session.
 */
export class LossMeter {
  private readonly ring: Uint8Array;
  private next = 0;
  private filled = 0;
  private lost = 0;

  constructor(readonly size = 256) {
    this.ring = new Uint8Array(size);
  }

  record(wasLost: boolean): void {
    const v = wasLost ? 1 : 0;
    if (this.filled === this.size) this.lost -= this.ring[this.next]!;
    else this.filled++;
    this.ring[this.next] = v;
    this.lost += v;
    this.next = (this.next + 1) % this.size;
  }

  /** Lost fraction of the recorded packets, 0 when none recorded. */
  get fraction(): number {
    return this.filled === 0 ? 0 : this.lost / this.filled;
  }
}
