/**
 * A set of integers kept as sorted, disjoint, non-adjacent half-open ranges [start, end). It
 * holds received packet numbers (for ACK frames), acknowledged stream bytes and the stream bytes
 * waiting for retransmission. Operations are a binary search plus one splice, so a set of a few
 * hundred ranges stays cheap.
 */
export interface Range {
  readonly start: number;
  readonly end: number;
}

export class RangeSet {
  private r: Range[] = [];

  get size(): number {
    return this.r.length;
  }
  get isEmpty(): boolean {
    return this.r.length === 0;
  }
  /** The ranges, ascending. Do not mutate. */
  get ranges(): readonly Range[] {
    return this.r;
  }
  first(): Range | undefined {
    return this.r[0];
  }
  last(): Range | undefined {
    return this.r[this.r.length - 1];
  }
  /** The number of integers in the set. */
  get count(): number {
    let n = 0;
    for (const x of this.r) n += x.end - x.start;
    return n;
  }

  has(x: number): boolean {
    const i = this.firstEndAbove(x);
    const g = this.r[i];
    return g !== undefined && g.start <= x;
  }

  /** Whether every integer of [start, end) is in the set. */
  covers(start: number, end: number): boolean {
    if (start >= end) return true;
    const g = this.r[this.firstEndAbove(start)];
    return g !== undefined && g.start <= start && g.end >= end;
  }

  add(start: number, end: number): void {
    if (start >= end) return;
    // First range that touches or follows `start` (adjacent ranges merge).
    let lo = 0;
    let hi = this.r.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.r[mid]!.end < start) lo = mid + 1;
      else hi = mid;
    }
    let j = lo;
    let s = start;
    let e = end;
    while (j < this.r.length && this.r[j]!.start <= end) {
      s = Math.min(s, this.r[j]!.start);
      e = Math.max(e, this.r[j]!.end);
      j++;
    }
    this.r.splice(lo, j - lo, { start: s, end: e });
  }

  remove(start: number, end: number): void {
    if (start >= end) return;
    const lo = this.firstEndAbove(start);
    let j = lo;
    const keep: Range[] = [];
    while (j < this.r.length && this.r[j]!.start < end) {
      const g = this.r[j]!;
      if (g.start < start) keep.push({ start: g.start, end: start });
      if (g.end > end) keep.push({ start: end, end: g.end });
      j++;
    }
    if (j > lo) this.r.splice(lo, j - lo, ...keep);
  }

  /** Drop the lowest ranges until at most `max` remain. */
  keepHighest(max: number): void {
    if (this.r.length > max) this.r.splice(0, this.r.length - max);
  }

  /** Call `fn` for each part of [start, end) that is in the set, ascending. */
  forEachOverlap(start: number, end: number, fn: (s: number, e: number) => void): void {
    for (let i = this.firstEndAbove(start); i < this.r.length && this.r[i]!.start < end; i++) {
      const g = this.r[i]!;
      fn(Math.max(g.start, start), Math.min(g.end, end));
    }
  }

  clear(): void {
    this.r = [];
  }

  /** Index of the first range whose end is above x (the one that may contain x). */
  private firstEndAbove(x: number): number {
    let lo = 0;
    let hi = this.r.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.r[mid]!.end <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
