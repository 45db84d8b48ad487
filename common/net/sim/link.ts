import { badArgument } from '../../errors.js';
import type { Rng } from './random.js';

/** Impairments of one direction of an access link (a host's or NAT's wire to its upstream). */
export interface LinkConditions {
  /** One-way base delay, ms. */
  readonly delayMs: number;
  /** Extra delay drawn uniformly from [0, jitterMs) per packet; packets sent closer together than this can reorder. */
  readonly jitterMs: number;
  /** Probability a packet is lost, 0..1. */
  readonly loss: number;
  /** Probability a second copy (with its own delay draw) is delivered, 0..1. */
  readonly duplicate: number;
  /** Probability a packet is held back by an extra `reorderDelayMs`, so later packets overtake it, 0..1. */
  readonly reorder: number;
  readonly reorderDelayMs: number;
  /**
   * A bottleneck: the direction serialises packets at this many bytes per ms (a packet waits
   * size / rate behind the one before it). 0 (the default) means no rate limit and no queue.
   */
  readonly rateBytesPerMs: number;
  /** Packets that may wait behind the one being serialised; a packet arriving beyond that is dropped (drop-tail). */
  readonly queuePackets: number;
}

/**
 * 1 ms of delay per access link by default: every delivery takes virtual time, so a ping-pong
 * between two sockets always moves the clock forward. No loss, jitter, duplication or reordering.
 */
export const DEFAULT_LINK: LinkConditions = {
  delayMs: 1,
  jitterMs: 0,
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelayMs: 10,
  rateBytesPerMs: 0,
  queuePackets: Infinity,
};

export function checkLink(c: LinkConditions): LinkConditions {
  for (const k of ['delayMs', 'jitterMs', 'reorderDelayMs'] as const)
    if (!Number.isFinite(c[k]) || c[k] < 0) throw badArgument(`link ${k} must be a finite number ≥ 0`);
  if (!Number.isFinite(c.rateBytesPerMs) || c.rateBytesPerMs < 0)
    throw badArgument('link rateBytesPerMs must be a finite number ≥ 0');
  if (!(c.queuePackets >= 0) || (Number.isFinite(c.queuePackets) && !Number.isInteger(c.queuePackets)))
    throw badArgument('link queuePackets must be a whole number ≥ 0 or Infinity');
  for (const k of ['loss', 'duplicate', 'reorder'] as const)
    if (!(c[k] >= 0 && c[k] <= 1)) throw badArgument(`link ${k} must be a probability in [0, 1]`);
  return c;
}

/**
 * What a link does to one packet: the delays (ms) after which its copies arrive; empty when it is
 * lost. Pure given the RNG, and the order of draws is fixed, so a seed fixes the whole trace.
 */
export function linkFate(c: LinkConditions, rng: Rng): number[] {
  if (rng.chance(c.loss)) return [];
  const copies = rng.chance(c.duplicate) ? 2 : 1;
  const delays: number[] = [];
  for (let i = 0; i < copies; i++) {
    let d = c.delayMs + rng.next() * c.jitterMs;
    if (rng.chance(c.reorder)) d += c.reorderDelayMs;
    delays.push(d);
  }
  return delays;
}

export type LinkDirection = 'up' | 'down';

/**
 * A drop-tail FIFO in front of a serialiser (one direction's bottleneck): the times at which the
 * packets in it finish serialising, oldest first. Pure given the arrival times: no randomness.
 */
export class Bottleneck {
  private readonly done: number[] = [];
  private head = 0;

  /**
   * A packet of `size` bytes arrives at `now`: the ms it spends queued and serialised, or
   * undefined when `queuePackets` packets already wait behind the one in service (drop-tail).
   */
  admit(c: LinkConditions, size: number, now: number): number | undefined {
    if (c.rateBytesPerMs <= 0) return 0;
    while (this.head < this.done.length && this.done[this.head]! <= now) this.head++;
    if (this.head > 1024 && this.head * 2 > this.done.length) {
      this.done.splice(0, this.head); // keep the array from growing with every packet ever sent
      this.head = 0;
    }
    const inSystem = this.done.length - this.head;
    // One packet is in service; the rest wait in the queue.
    if (inSystem > c.queuePackets) return undefined;
    const start = inSystem > 0 ? this.done[this.done.length - 1]! : now;
    const finish = start + size / c.rateBytesPerMs;
    this.done.push(finish);
    return finish - now;
  }
}

/** A node's access link: conditions per direction and its own random stream. */
export class Link {
  up: LinkConditions;
  down: LinkConditions;
  /** The bottleneck queue of each direction (used only when its rateBytesPerMs is set). */
  readonly queue = { up: new Bottleneck(), down: new Bottleneck() };
  constructor(
    /** Named after the node that owns it. */
    readonly name: string,
    readonly rng: Rng,
    initial: Partial<LinkConditions> = {},
  ) {
    this.up = checkLink({ ...DEFAULT_LINK, ...initial });
    this.down = this.up;
  }
  /** Change some conditions (the rest stay as they are) in one or both directions. */
  set(changes: Partial<LinkConditions>, direction: LinkDirection | 'both' = 'both'): void {
    if (direction !== 'down') this.up = checkLink({ ...this.up, ...changes });
    if (direction !== 'up') this.down = checkLink({ ...this.down, ...changes });
  }
}
