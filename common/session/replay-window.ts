/**
 * Anti-replay sliding window over packet numbers (the IPsec/WireGuard bitmap, RFC 4303 §3.4.3,
 * WireGuard §5.4.6): the largest number accepted so far and a bitmap of the `size` numbers at
 * and below it. A number above the window's top is new; one inside it is new unless its bit
 * is set; one below it is too old to tell and is rejected. The window only moves for packets
 * that authenticated, so forged packets cannot push it.
 */
export type ReplayVerdict = 'new' | 'duplicate' | 'tooOld';

export class ReplayWindow {
  private readonly bits: Uint32Array;
  private top = -1;

  /** `size` packets of reordering tolerated; a multiple of 32. */
  constructor(readonly size = 2048) {
    if (!Number.isInteger(size) || size < 32 || size % 32 !== 0)
      throw new RangeError('replay window size must be a positive multiple of 32');
    this.bits = new Uint32Array(size / 32);
  }

  /** The largest packet number accepted, or -1. */
  get largest(): number {
    return this.top;
  }

  check(pn: number): ReplayVerdict {
    if (pn > this.top) return 'new';
    if (pn <= this.top - this.size) return 'tooOld';
    return this.bit(pn) ? 'duplicate' : 'new';
  }

  /** Record an authenticated packet number; call only after check() said 'new'. */
  accept(pn: number): void {
    if (pn > this.top) {
      const advance = pn - this.top;
      if (advance >= this.size) this.bits.fill(0);
      else for (let n = this.top + 1; n <= pn; n++) this.clear(n);
      this.top = pn;
    }
    const i = pn % this.size;
    this.bits[i >>> 5]! |= 1 << (i & 31);
  }

  private bit(pn: number): boolean {
    const i = pn % this.size;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }
  private clear(pn: number): void {
    const i = pn % this.size;
    this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }
}
