import type { Clock, TimerHandle } from '../common/clock.js';
import { encode } from '../common/wire/messages.js';
import type { DeltaEntry, Member } from '../common/wire/messages.js';
import { Limits, MsgType } from '../common/wire/constants.js';
import { AUTH_TRAILER_BYTES } from '../common/wire/server-auth.js';
import type { LimitLog } from './limit-log.js';
import type { Deliverer } from './bindings.js';
import type { MemberRecord, Registry } from './registry.js';
import { TokenBucket } from './token-bucket.js';

/**
 * A room's member list, split into PRESENCE datagrams that each fit Limits.MAX_DATAGRAM.
 * Worst case a member takes 16 (id) + 1 + 32 (name) bytes, so 23 fit beside the 11-byte header
 * and the 20-byte auth trailer.
 */
export const MEMBERS_PER_PART = Math.floor(
  (Limits.MAX_DATAGRAM - 11 - AUTH_TRAILER_BYTES) / (Limits.ID_BYTES + 1 + Limits.MAX_NAME_BYTES),
);

/** PRESENCE_DELTA entries per datagram: 15-byte header, 20-byte trailer, 16 + 1 + 1 + 32 per entry. */
export const ENTRIES_PER_PART = Math.floor(
  (Limits.MAX_DATAGRAM - 15 - AUTH_TRAILER_BYTES) / (Limits.ID_BYTES + 2 + Limits.MAX_NAME_BYTES),
);

/** `parts` is a u8: the largest room whose full list can be sent (255 x 23 = 5865 members). */
export const MAX_LISTABLE_MEMBERS = 255 * MEMBERS_PER_PART;

export function presencePackets(version: number, members: readonly Member[]): Uint8Array[] {
  const parts = Math.max(1, Math.ceil(members.length / MEMBERS_PER_PART));
  const out: Uint8Array[] = [];
  for (let part = 0; part < parts; part++) {
    const slice = members.slice(part * MEMBERS_PER_PART, (part + 1) * MEMBERS_PER_PART);
    out.push(encode({ type: MsgType.PRESENCE, version, part, parts, total: members.length, members: slice }));
  }
  return out;
}

export function deltaPackets(
  from: number,
  to: number,
  total: number,
  entries: readonly DeltaEntry[],
): Uint8Array[] {
  const parts = Math.max(1, Math.ceil(entries.length / ENTRIES_PER_PART));
  const out: Uint8Array[] = [];
  for (let part = 0; part < parts; part++) {
    const slice = entries.slice(part * ENTRIES_PER_PART, (part + 1) * ENTRIES_PER_PART);
    out.push(encode({ type: MsgType.PRESENCE_DELTA, from, to, part, parts, total, entries: slice }));
  }
  return out;
}

export interface PresenceOptions {
  /** Changes in a room are sent as one delta at most this often once the burst is spent (ms). */
  presenceIntervalMs: number;
  /** Deltas a room may send back to back before they are held to one per interval. */
  presenceBurst: number;
  /** A member gets a full list on request (a gap, a stale KEEPALIVE) at most this often (ms). */
  presenceResyncMs: number;
  /**
   * The old way, for comparison only (tests, `npm run bench`): every change sends the full list
   * to every member at once, and every stale KEEPALIVE gets a full list. Not a command-line flag.
   */
  presenceFullLists: boolean;
}

export type PresenceKind = 'full' | 'delta';

/** What presence cost: datagrams and bytes sent by kind, full lists on request, and the limits that bit. */
export interface PresenceStats {
  datagrams: Record<PresenceKind, number>;
  bytes: Record<PresenceKind, number>;
  /** Full lists sent because a member asked (a gap, a stale KEEPALIVE), not on its registration. */
  resyncs: number;
  /** burst: a delta held to the interval; resync: a full list held to --presence-resync-ms. */
  deferred: { burst: number; resync: number };
}

export const emptyPresenceStats = (): PresenceStats => ({
  datagrams: { full: 0, delta: 0 },
  bytes: { full: 0, delta: 0 },
  resyncs: 0,
  deferred: { burst: 0, resync: 0 },
});

interface RoomState {
  /** The version the last delta went to: every member's list is at this version or later. */
  flushed: number;
  /** Members changed since then, by id (hex): the id bytes, for one that has left. */
  dirty: Map<string, Uint8Array>;
  timer: TimerHandle | undefined;
  /** Deltas: `presenceBurst` at once, then one per interval. */
  bucket: TokenBucket;
}

interface MemberState {
  /** The version of the last list or delta sent to this member. */
  version: number;
  /** When its last full list left. */
  lastFull: number;
  /** A full list held back by --presence-resync-ms. */
  timer: TimerHandle | undefined;
}

/**
 * Presence fan-out (docs/protocol.md §6.6). A member gets the full list once, when it registers;
 * after that its room's changes reach it as PRESENCE_DELTA, coalesced per room: the first
 * `presenceBurst` changes go out at once, later ones wait for the interval and leave together.
 * A member that sees a gap (or reports a stale version in KEEPALIVE) gets the full list again,
 * at most once per `presenceResyncMs`. A join so costs the joiner one full list and every other
 * member one delta entry, instead of every member a full list.
 */
export class PresenceFanout {
  private readonly rooms = new Map<string, RoomState>();
  private readonly members = new Map<string, MemberState>();
  private stopped = false;

  constructor(
    private readonly opts: PresenceOptions,
    private readonly clock: Clock,
    private readonly registry: Registry,
    private readonly out: Deliverer,
    private readonly limits: LimitLog,
    readonly stats: PresenceStats,
  ) {}

  /** Rooms with a delta pending or sent (at most the rooms with members). */
  get roomsTracked(): number {
    return this.rooms.size;
  }

  /**
   * `rec` registered: it gets the full list now (its client starts a new presence epoch on every
   * registration); when the room's list changed (a join, a rename) the others learn it by delta.
   */
  registered(rec: MemberRecord, changed: boolean): void {
    if (this.opts.presenceFullLists) {
      if (changed) this.broadcastFull(rec.room);
      else this.sendFull(rec);
      return;
    }
    if (!this.rooms.has(rec.room))
      this.rooms.set(rec.room, {
        flushed: this.registry.roomVersion(rec.room),
        dirty: new Map(),
        timer: undefined,
        bucket: new TokenBucket(
          1000 / this.opts.presenceIntervalMs,
          this.opts.presenceBurst,
          this.clock.now(),
        ),
      });
    this.sendFull(rec);
    if (changed) this.changed(rec.room, rec);
  }

  /** `rec` joined, left, or was renamed in `room`: its members learn it with the next delta. */
  changed(room: string, rec: MemberRecord): void {
    if (this.opts.presenceFullLists) return this.broadcastFull(room);
    const state = this.rooms.get(room);
    if (!state) return; // nobody there was ever sent a list
    state.dirty.set(rec.idHex, rec.id);
    if (state.timer !== undefined || this.stopped) return;
    // A token now: the delta leaves in this turn of the event loop (with whatever else changes in
    // it); none: it waits one interval, over which a token accrues, and takes that one.
    const paid = state.bucket.take(1, this.clock.now());
    if (!paid) {
      this.stats.deferred.burst++;
      this.limits.note('presence_burst');
    }
    state.timer = this.clock.setTimeout(
      () => this.flush(room, state, paid),
      paid ? 0 : this.opts.presenceIntervalMs,
    );
  }

  /** A member is gone (left, expired, its last binding closed): forget what was sent to it. */
  forget(idHex: string): void {
    const m = this.members.get(idHex);
    if (!m) return;
    this.clock.clearTimeout(m.timer);
    this.members.delete(idHex);
  }

  /**
   * A KEEPALIVE reported `version`: a member whose list is not the one last sent to it missed
   * something (a lost datagram, a gap it noticed) and gets the full list, rate limited.
   */
  keepalive(rec: MemberRecord, version: number): void {
    if (this.opts.presenceFullLists) {
      if (version !== this.registry.roomVersion(rec.room)) this.sendFull(rec);
      return;
    }
    const m = this.members.get(rec.idHex);
    if (m && m.version === version) return;
    if (!m || this.clock.now() - m.lastFull >= this.opts.presenceResyncMs) {
      this.stats.resyncs++;
      this.sendFull(rec);
      return;
    }
    if (m.timer !== undefined) return; // one is already on its way
    this.stats.deferred.resync++;
    this.limits.note('presence_resync');
    m.timer = this.clock.setTimeout(
      () => {
        m.timer = undefined;
        const now = this.registry.get(rec.idHex);
        if (!now || this.stopped || this.members.get(rec.idHex) !== m) return;
        this.stats.resyncs++;
        this.sendFull(now);
      },
      m.lastFull + this.opts.presenceResyncMs - this.clock.now(),
    );
  }

  /** Cancel every pending delta and resync (server shutdown); idempotent. */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const r of this.rooms.values()) this.clock.clearTimeout(r.timer);
    for (const m of this.members.values()) this.clock.clearTimeout(m.timer);
    this.rooms.clear();
    this.members.clear();
  }

  private send(rec: MemberRecord, packets: readonly Uint8Array[], kind: PresenceKind): void {
    for (const p of packets)
      if (this.out.deliver(rec, p)) {
        this.stats.datagrams[kind]++;
        this.stats.bytes[kind] += p.length;
      }
  }

  private list(room: string): Uint8Array[] {
    const members = this.registry.members(room).map((r) => ({ id: r.id, name: r.name }));
    return presencePackets(this.registry.roomVersion(room), members);
  }

  private sendFull(rec: MemberRecord): void {
    this.send(rec, this.list(rec.room), 'full');
    if (this.opts.presenceFullLists) return;
    const m = this.members.get(rec.idHex);
    const version = this.registry.roomVersion(rec.room);
    if (m) {
      m.version = version;
      m.lastFull = this.clock.now();
    } else this.members.set(rec.idHex, { version, lastFull: this.clock.now(), timer: undefined });
  }

  private broadcastFull(room: string): void {
    const packets = this.list(room);
    for (const rec of this.registry.members(room)) this.send(rec, packets, 'full');
  }

  private flush(room: string, state: RoomState, paid: boolean): void {
    state.timer = undefined;
    if (this.stopped || this.rooms.get(room) !== state) return;
    if (!paid) state.bucket.take(1, this.clock.now());
    const members = this.registry.members(room);
    if (members.length === 0) {
      this.rooms.delete(room);
      return;
    }
    const to = this.registry.roomVersion(room);
    const entries: DeltaEntry[] = [];
    for (const [idHex, id] of state.dirty) {
      const rec = this.registry.get(idHex);
      entries.push({ id, name: rec && rec.room === room ? rec.name : undefined });
    }
    state.dirty.clear();
    if (entries.length === 0 || to === state.flushed) return;
    // A delta never costs more than the full list: past that, members get the list.
    const packets =
      entries.length > members.length
        ? { kind: 'full' as const, bytes: this.list(room) }
        : { kind: 'delta' as const, bytes: deltaPackets(state.flushed, to, members.length, entries) };
    for (const rec of members) {
      const m = this.members.get(rec.idHex);
      if (m && m.version >= to) continue; // its full list (a join in this interval) is newer
      this.send(rec, packets.bytes, packets.kind);
      if (m) m.version = to;
    }
    state.flushed = to;
  }
}
