import type { Clock } from '../common/clock.js';
import { toHex } from '../common/wire/bytes.js';
import type { DeltaEntry, Member, Presence, PresenceDelta } from '../common/wire/messages.js';

/** A full list asked for and not come is asked for again after this (the server may hold it back). */
export const PRESENCE_RESYNC_RETRY_MS = 5_000;

export interface PresenceAssemblyComponents {
  clock: Clock;
  /** Counts the gaps found and the full lists asked for (RendezvousClientStats). */
  stats: { presence_gaps: number; presence_resyncs: number };
  /** The room's members as of `version`, once a list or a delta is complete. */
  changed: (members: Member[], version: number) => void;
  /** Can the server be asked now (registered, not closed)? */
  mayAsk: () => boolean;
  /** Ask the server for the full list: a KEEPALIVE with our (stale) version. */
  askFullList: () => void;
}

/**
 * The room's member list as the server sends it (docs/protocol.md §6.6): full PRESENCE lists and
 * PRESENCE_DELTAs, each possibly in parts, put together by version. A delta that does not follow
 * on from our list means one was lost: the full list is asked for again.
 */
export class PresenceAssembly {
  /** The version of `members`; -1 before the first list of this registration. */
  version = -1;
  members: Member[] = [];
  private parts = new Map<number, Member[]>();
  private building = -1;
  /** The members as of `version`, by id (hex): what deltas apply to. */
  private memberMap = new Map<string, Member>();
  private deltaParts = new Map<number, DeltaEntry[]>();
  private deltaBuilding = '';
  /** When we last asked for the full list (undefined: no request outstanding). */
  private resyncAskedAt: number | undefined;

  constructor(private readonly c: PresenceAssemblyComponents) {}

  /** A registration starts a new presence epoch: a restarted server counts versions from 0 again. */
  newEpoch(): void {
    this.version = -1;
    this.building = -1;
    this.deltaBuilding = '';
    this.resyncAskedAt = undefined;
  }

  onPresence(m: Presence): void {
    // Versions only grow on the server (u32; a wrap after 4 billion changes is not a concern).
    if (m.version < this.version) return;
    if (m.version !== this.building) {
      this.building = m.version;
      this.parts = new Map();
    }
    this.parts.set(m.part, m.members);
    if (this.parts.size < m.parts) return;
    const members: Member[] = [];
    for (let i = 0; i < m.parts; i++) members.push(...(this.parts.get(i) ?? []));
    if (m.version === this.version) return;
    this.resyncAskedAt = undefined;
    this.memberMap = new Map(members.map((x) => [toHex(x.id), x]));
    this.setMembers(m.version);
  }

  /**
   * A PRESENCE_DELTA: the room from version `from` to `to`. Our list at a version in [from, to)
   * takes it; below `from` we missed a change (a lost datagram) and ask for the full list; at or
   * past `to` we have it already. Parts of one delta are applied together, once all are here.
   */
  onPresenceDelta(m: PresenceDelta): void {
    if (this.version >= m.to) return;
    if (this.version < m.from) {
      this.c.stats.presence_gaps++;
      this.resync();
      return;
    }
    const key = `${m.from}/${m.to}/${m.parts}`;
    if (key !== this.deltaBuilding) {
      this.deltaBuilding = key;
      this.deltaParts = new Map();
    }
    this.deltaParts.set(m.part, m.entries);
    if (this.deltaParts.size < m.parts) return;
    this.deltaBuilding = '';
    for (const entries of this.deltaParts.values())
      for (const e of entries) {
        if (e.name === undefined) this.memberMap.delete(toHex(e.id));
        else this.memberMap.set(toHex(e.id), { id: e.id, name: e.name });
      }
    this.setMembers(m.to);
    // Our list and the server's disagree (a bug, or a change we cannot see): start over.
    if (this.memberMap.size !== m.total) {
      this.c.stats.presence_gaps++;
      this.version = -1;
      this.resync();
    }
  }

  private setMembers(version: number): void {
    this.version = version;
    this.members = [...this.memberMap.values()];
    this.c.changed(this.members, version);
  }

  /** Ask for the full list now, at most once per PRESENCE_RESYNC_RETRY_MS. */
  private resync(): void {
    const now = this.c.clock.now();
    if (this.resyncAskedAt !== undefined && now - this.resyncAskedAt < PRESENCE_RESYNC_RETRY_MS) return;
    if (!this.c.mayAsk()) return;
    this.resyncAskedAt = now;
    this.c.stats.presence_resyncs++;
    this.c.askFullList();
  }
}
