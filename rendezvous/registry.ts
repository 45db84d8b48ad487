import type { Endpoint } from '../common/net/types.js';

/**
 * Rooms, presence and observed endpoints behind one interface (design §1). The in-memory
 * implementation below serves a single node; a shared store (several rendezvous nodes) can
 * implement the same interface without touching the protocol code in server.ts.
 */
export type Transport = 'udp' | 'ws';

export interface MemberRecord {
  readonly id: Uint8Array;
  readonly idHex: string;
  room: string;
  name: string;
  readonly signKey: Uint8Array;
  readonly dhKey: Uint8Array;
  /** The public endpoint the server saw this peer's UDP datagrams come from (its NAT mapping). */
  observed: Endpoint;
  lan: Endpoint[];
  transport: Transport;
  lastSeen: number;
  /** Deliver bytes to this peer over whichever transport it registered on. */
  send: (bytes: Uint8Array) => void;
}

export type UpsertResult =
  | { ok: true; changed: boolean; previousRoom: string | undefined }
  | { ok: false; code: 'NAME_TAKEN' | 'ROOM_FULL' };

export interface Registry {
  /** Insert or update; a name is held by one key per room. `changed` = the room's member list changed. */
  upsert(rec: MemberRecord): UpsertResult;
  get(idHex: string): MemberRecord | undefined;
  remove(idHex: string): MemberRecord | undefined;
  members(room: string): MemberRecord[];
  /** Increments on every change of the room's member list (join, leave, expiry, rename). */
  roomVersion(room: string): number;
  /** Remove every member not seen since `cutoff`; returns them. */
  expire(cutoff: number): MemberRecord[];
  readonly size: number;
  countByTransport(): Record<Transport, number>;
}

interface Room {
  version: number;
  members: Map<string, MemberRecord>; // by idHex
  names: Map<string, string>; // name -> idHex
}

export class InMemoryRegistry implements Registry {
  private readonly byId = new Map<string, MemberRecord>();
  private readonly rooms = new Map<string, Room>();
  /** Versions survive a room emptying, so a late PRESENCE can never look newer than the current one. */
  private readonly versions = new Map<string, number>();

  constructor(private readonly maxRoomMembers = 1000) {}

  get size(): number {
    return this.byId.size;
  }

  private room(name: string): Room {
    let r = this.rooms.get(name);
    if (!r) {
      r = { version: this.versions.get(name) ?? 0, members: new Map(), names: new Map() };
      this.rooms.set(name, r);
    }
    return r;
  }

  private bump(r: Room, name: string): void {
    r.version = (r.version + 1) >>> 0;
    this.versions.set(name, r.version);
  }

  upsert(rec: MemberRecord): UpsertResult {
    const room = this.room(rec.room);
    const holder = room.names.get(rec.name);
    if (holder !== undefined && holder !== rec.idHex) return { ok: false, code: 'NAME_TAKEN' };
    const prev = this.byId.get(rec.idHex);
    if (!prev && room.members.size >= this.maxRoomMembers) return { ok: false, code: 'ROOM_FULL' };

    let changed = false;
    let previousRoom: string | undefined;
    if (prev && prev.room !== rec.room) {
      previousRoom = prev.room;
      this.detach(prev);
    }
    if (prev && prev.room === rec.room && prev.name !== rec.name) {
      room.names.delete(prev.name);
      changed = true;
    }
    if (!room.members.has(rec.idHex)) changed = true;
    room.members.set(rec.idHex, rec);
    room.names.set(rec.name, rec.idHex);
    this.byId.set(rec.idHex, rec);
    if (changed) this.bump(room, rec.room);
    return { ok: true, changed, previousRoom };
  }

  get(idHex: string): MemberRecord | undefined {
    return this.byId.get(idHex);
  }

  private detach(rec: MemberRecord): void {
    const room = this.rooms.get(rec.room);
    if (!room) return;
    room.members.delete(rec.idHex);
    if (room.names.get(rec.name) === rec.idHex) room.names.delete(rec.name);
    this.bump(room, rec.room);
    if (room.members.size === 0) this.rooms.delete(rec.room);
  }

  remove(idHex: string): MemberRecord | undefined {
    const rec = this.byId.get(idHex);
    if (!rec) return undefined;
    this.byId.delete(idHex);
    this.detach(rec);
    return rec;
  }

  members(room: string): MemberRecord[] {
    return [...(this.rooms.get(room)?.members.values() ?? [])];
  }

  roomVersion(room: string): number {
    return this.rooms.get(room)?.version ?? this.versions.get(room) ?? 0;
  }

  expire(cutoff: number): MemberRecord[] {
    const gone: MemberRecord[] = [];
    for (const rec of this.byId.values()) if (rec.lastSeen < cutoff) gone.push(rec);
    for (const rec of gone) this.remove(rec.idHex);
    return gone;
  }

  countByTransport(): Record<Transport, number> {
    const out: Record<Transport, number> = { udp: 0, ws: 0 };
    for (const rec of this.byId.values()) out[rec.transport]++;
    return out;
  }
}
