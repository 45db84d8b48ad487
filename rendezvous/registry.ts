import type { PortBehaviour } from '../common/nat-behaviour.js';
import { skeletons } from '../common/names.js';
import type { Endpoint } from '../common/net/types.js';
import { sourceKey } from './rate-keys.js';

/**
 * Rooms, names, observed endpoints and expiry behind one interface (docs/architecture.md, Seams).
 * A record is plain data (ids, names, keys, endpoints, timestamps: nothing bound to a socket), so
 * a shared store for several rendezvous nodes can hold it; how to reach a member from this node
 * (a socket's send, the authenticated channel's replay state) is node-local and lives in
 * bindings.ts. The in-memory implementation below serves a single node.
 */
export type Transport = 'udp' | 'ws';

/**
 * The REGISTER that made a binding (server authentication, common/wire/server-auth.ts): a
 * retransmission of the same REGISTER keeps the binding's channel; an older one is refused.
 */
export interface Registration {
  /** The REGISTER's txid, hex. */
  readonly regTxid: string;
  /** The REGISTER's time field (the peer's wall clock, ms). */
  readonly regTime: number;
}

/** A peer's UDP registration: what punching needs. Lives by keepalives (expiryMs). */
export interface UdpBinding extends Registration {
  /** The public endpoint the server saw this peer's UDP datagrams come from (its NAT mapping). */
  readonly observed: Endpoint;
  lastSeen: number;
  /**
   * How the peer's NAT allocates ports, as its NAT_INFO said. Undefined: this registration sent
   * none (an older peer, or not yet), and introductions to it carry no port behaviour, which it
   * might not parse. A re-registration makes a new binding, so it starts undefined again.
   */
  nat?: PortBehaviour;
}

/** A peer's stream (WebSocket) registration: relay and fallback signalling. Lives as long as its connection. */
export interface WsBinding extends Registration {
  /** The client's TCP source as the server saw it. */
  readonly remote: Endpoint;
  /**
   * The connection it registered on (StreamFront's connection id, a number): only that one speaks
   * for it. A store shared by several nodes would qualify it with the node that holds it.
   */
  readonly connection: number;
}

/**
 * One peer id. A peer commonly holds both bindings: UDP for punching (its observed endpoint is
 * what introductions carry) and WS for the relay; a peer with no UDP at all holds only WS.
 */
export interface MemberRecord {
  readonly id: Uint8Array;
  readonly idHex: string;
  room: string;
  name: string;
  readonly signKey: Uint8Array;
  readonly dhKey: Uint8Array;
  lan: Endpoint[];
  udp?: UdpBinding;
  ws?: WsBinding;
  /**
   * In a cluster (docs/architecture.md, Cluster): the node that holds this member's bindings, for
   * a record mirrored from another node; undefined for a member held here.
   */
  node?: string;
}

/** Introductions carry this for a peer with no UDP binding: "no server-reflexive UDP candidate". */
export const NO_UDP_CANDIDATE: Endpoint = Object.freeze({ address: '0.0.0.0', port: 0 });

/** The endpoint an INTRODUCE carries for `rec`: its UDP mapping, or NO_UDP_CANDIDATE. */
export const observedUdp = (rec: MemberRecord): Endpoint => rec.udp?.observed ?? NO_UDP_CANDIDATE;

export type UpsertResult =
  | { ok: true; changed: boolean; previousRoom: string | undefined }
  | { ok: false; code: 'NAME_TAKEN'; holder: string }
  | { ok: false; code: 'ROOM_FULL' };

/** The sources (rate-keys.ts sourceKey: IPv4 address or IPv6 /64) a member's bindings came from. */
export function sourcesOf(rec: MemberRecord): string[] {
  const out: string[] = [];
  if (rec.udp) out.push(sourceKey(rec.udp.observed.address));
  if (rec.ws) {
    const ws = sourceKey(rec.ws.remote.address);
    if (!out.includes(ws)) out.push(ws);
  }
  return out;
}

export interface Registry {
  /**
   * Insert or update (the caller merges the bindings it keeps); a name is held by one key per
   * room, and so are its lookalikes (common/names.ts skeletons): NAME_TAKEN says by which name
   * (`holder`). `changed` = the room's member list changed.
   */
  upsert(rec: MemberRecord): UpsertResult;
  get(idHex: string): MemberRecord | undefined;
  /** Remove the whole member (LEAVE). */
  remove(idHex: string): MemberRecord | undefined;
  /**
   * Drop one binding (a closed WebSocket: only if it is still `connection`). A member left with
   * no binding is removed and returned.
   */
  unbind(idHex: string, transport: Transport, connection?: number): MemberRecord | undefined;
  members(room: string): MemberRecord[];
  /** Increments on every change of the room's member list (join, leave, expiry, rename). */
  roomVersion(room: string): number;
  /**
   * Drop UDP bindings not refreshed since `cutoff` (WS bindings live by their connection);
   * returns the members that were left with no binding and so removed. Mirrored records (`node`)
   * are left alone: the node that holds them expires them.
   */
  expire(cutoff: number): MemberRecord[];
  readonly size: number;
  /** Members holding a binding of each transport (a peer with both counts in both). */
  countByTransport(): Record<Transport, number>;
  /** Distinct members with a binding from `source` (a sourceKey): what --max-ids-per-ip limits. */
  idsFrom(source: string): number;
}

interface Room {
  version: number;
  members: Map<string, MemberRecord>; // by idHex
  names: Map<string, string>; // each skeleton of a held name (common/names.ts) -> idHex
}

export class InMemoryRegistry implements Registry {
  private readonly byId = new Map<string, MemberRecord>();
  private readonly rooms = new Map<string, Room>();
  /** Versions survive a room emptying, so a late PRESENCE can never look newer than the current one. */
  private readonly versions = new Map<string, number>();
  private readonly counts: Record<Transport, number> = { udp: 0, ws: 0 };
  /** source -> members with a binding from it. */
  private readonly bySource = new Map<string, Set<string>>();

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

  /** Count `rec`'s bindings in (1) or out (-1): per transport, and per source. */
  private count(rec: MemberRecord, sign: 1 | -1): void {
    if (rec.udp) this.counts.udp += sign;
    if (rec.ws) this.counts.ws += sign;
    for (const src of sourcesOf(rec)) {
      let ids = this.bySource.get(src);
      if (sign === 1) {
        if (!ids) this.bySource.set(src, (ids = new Set()));
        ids.add(rec.idHex);
      } else if (ids) {
        ids.delete(rec.idHex);
        if (ids.size === 0) this.bySource.delete(src);
      }
    }
  }

  private release(room: Room, rec: MemberRecord): void {
    for (const s of skeletons(rec.name)) if (room.names.get(s) === rec.idHex) room.names.delete(s);
  }

  upsert(rec: MemberRecord): UpsertResult {
    const room = this.room(rec.room);
    for (const s of skeletons(rec.name)) {
      const holder = room.names.get(s);
      if (holder !== undefined && holder !== rec.idHex) {
        const holderName = room.members.get(holder)?.name ?? rec.name;
        return { ok: false, code: 'NAME_TAKEN', holder: holderName };
      }
    }
    const prev = this.byId.get(rec.idHex);
    if (!prev && room.members.size >= this.maxRoomMembers) return { ok: false, code: 'ROOM_FULL' };

    let changed = false;
    let previousRoom: string | undefined;
    if (prev) this.count(prev, -1);
    if (prev && prev.room !== rec.room) {
      previousRoom = prev.room;
      this.detach(prev);
    }
    if (prev && prev.room === rec.room && prev.name !== rec.name) {
      this.release(room, prev);
      changed = true;
    }
    if (!room.members.has(rec.idHex)) changed = true;
    room.members.set(rec.idHex, rec);
    for (const s of skeletons(rec.name)) room.names.set(s, rec.idHex);
    this.byId.set(rec.idHex, rec);
    this.count(rec, 1);
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
    this.release(room, rec);
    this.bump(room, rec.room);
    if (room.members.size === 0) this.rooms.delete(rec.room);
  }

  remove(idHex: string): MemberRecord | undefined {
    const rec = this.byId.get(idHex);
    if (!rec) return undefined;
    this.byId.delete(idHex);
    this.count(rec, -1);
    this.detach(rec);
    return rec;
  }

  unbind(idHex: string, transport: Transport, connection?: number): MemberRecord | undefined {
    const rec = this.byId.get(idHex);
    if (!rec) return undefined;
    if (transport === 'ws') {
      if (!rec.ws || (connection !== undefined && rec.ws.connection !== connection)) return undefined;
      this.count(rec, -1);
      rec.ws = undefined;
    } else {
      if (!rec.udp) return undefined;
      this.count(rec, -1);
      rec.udp = undefined;
    }
    this.count(rec, 1);
    return rec.udp || rec.ws ? undefined : this.remove(idHex);
  }

  members(room: string): MemberRecord[] {
    return [...(this.rooms.get(room)?.members.values() ?? [])];
  }

  roomVersion(room: string): number {
    return this.rooms.get(room)?.version ?? this.versions.get(room) ?? 0;
  }

  expire(cutoff: number): MemberRecord[] {
    const stale: string[] = [];
    for (const rec of this.byId.values())
      if (rec.udp && rec.node === undefined && rec.udp.lastSeen < cutoff) stale.push(rec.idHex);
    const gone: MemberRecord[] = [];
    for (const idHex of stale) {
      const removed = this.unbind(idHex, 'udp');
      if (removed) gone.push(removed);
    }
    return gone;
  }

  countByTransport(): Record<Transport, number> {
    return { ...this.counts };
  }

  idsFrom(source: string): number {
    return this.bySource.get(source)?.size ?? 0;
  }
}
