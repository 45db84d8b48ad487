import { malformed } from '../errors.js';
import type { RangeSet } from './range-set.js';

/**
 * ACK ranges (RFC 9000 §19.3.1). An ACK frame names the packet numbers it acknowledges as
 * ranges, highest first: the largest acknowledged, a first range length, then (gap, length)
 * pairs going down. These are the pure conversions between that wire form and inclusive ranges.
 */

/** An inclusive range of acknowledged packet numbers. */
export interface AckRange {
  readonly smallest: number;
  readonly largest: number;
}

/** The wire fields of an ACK frame's ranges (RFC 9000 §19.3). */
export interface WireAckRanges {
  readonly largest: number;
  readonly firstRange: number;
  readonly rest: readonly { readonly gap: number; readonly length: number }[];
}

/**
 * At most this many ranges in one ACK frame, sent or accepted. 32 ranges cover the recent past
 * even at 50% loss (a range per two packets), and bound what a hostile ACK costs to process.
 */
export const MAX_ACK_RANGES = 32;

/** The highest `max` ranges of a set of received packet numbers, highest first. */
export function ackRangesOf(received: RangeSet, max = MAX_ACK_RANGES): AckRange[] {
  const out: AckRange[] = [];
  const r = received.ranges;
  for (let i = r.length - 1; i >= 0 && out.length < max; i--) {
    out.push({ smallest: r[i]!.start, largest: r[i]!.end - 1 });
  }
  return out;
}

/** Inclusive ranges (highest first, separated by at least one missing number) to wire fields. */
export function toWireRanges(ranges: readonly AckRange[]): WireAckRanges {
  const head = ranges[0];
  if (!head) throw new RangeError('an ACK needs at least one range');
  const rest: { gap: number; length: number }[] = [];
  let prevSmallest = head.smallest;
  for (let i = 1; i < ranges.length; i++) {
    const g = ranges[i]!;
    // RFC 9000 §19.3.1: largest = previous smallest - gap - 2.
    const gap = prevSmallest - g.largest - 2;
    if (gap < 0 || g.smallest > g.largest) throw new RangeError('ACK ranges must descend with gaps');
    rest.push({ gap, length: g.largest - g.smallest });
    prevSmallest = g.smallest;
  }
  if (head.smallest > head.largest) throw new RangeError('bad ACK range');
  return { largest: head.largest, firstRange: head.largest - head.smallest, rest };
}

/** Wire fields to inclusive ranges, highest first. Throws MALFORMED if a range goes below 0. */
export function fromWireRanges(w: WireAckRanges): AckRange[] {
  let smallest = w.largest - w.firstRange;
  if (smallest < 0) throw malformed('ACK range below packet number 0');
  const out: AckRange[] = [{ smallest, largest: w.largest }];
  for (const { gap, length } of w.rest) {
    const largest = smallest - gap - 2;
    const low = largest - length;
    if (largest < 0 || low < 0) throw malformed('ACK range below packet number 0');
    out.push({ smallest: low, largest });
    smallest = low;
  }
  return out;
}
