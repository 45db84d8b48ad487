/**
 * The other members of the room as the terminal client knows them: the latest PeerView of each
 * (you are not in it), who renamed themselves, and whose key change has been announced. Pure
 * state: ChatViewModel (view-model.ts) says what changed.
 */
import type { PeerView } from '../chat/types.js';
import { STATE_RANK } from './format.js';

export class Roster {
  private map = new Map<string, PeerView>();
  /** Names whose key change has been announced (and not yet trusted). */
  private readonly warned = new Set<string>();

  get(id: string): PeerView | undefined {
    return this.map.get(id);
  }

  get size(): number {
    return this.map.size;
  }

  list(): PeerView[] {
    return [...this.map.values()];
  }

  /** Direct first, offline last, then by name. */
  sorted(): PeerView[] {
    return this.list().sort(
      (a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || a.name.localeCompare(b.name),
    );
  }

  /** You and every member not offline: what "in room" counts. */
  onlineCount(): number {
    let n = 1;
    for (const p of this.map.values()) if (p.state !== 'offline') n++;
    return n;
  }

  /**
   * The new list from the service (`selfId` left out). Returns the members who renamed
   * themselves (the same id under another name, /nick) with their old name, and the members
   * whose key is flagged as changed.
   */
  replace(
    list: PeerView[],
    selfId: string,
  ): { renamed: { from: string; peer: PeerView }[]; keyChanged: PeerView[] } {
    const before = this.map;
    this.map = new Map(list.filter((p) => p.id !== selfId).map((p) => [p.id, p]));
    const renamed: { from: string; peer: PeerView }[] = [];
    for (const p of this.map.values()) {
      const old = before.get(p.id);
      if (old && old.name !== p.name) renamed.push({ from: old.name, peer: p });
    }
    // Warnings are per name: another key under a name is one warning, whichever ids share it.
    const keyChanged = this.list().filter((p) => p.keyChanged);
    const changedNames = new Set(keyChanged.map((p) => p.name));
    for (const name of [...this.warned]) if (!changedNames.has(name)) this.warned.delete(name);
    return { renamed, keyChanged };
  }

  /** Flag the key of `p` as changed; true the first time its name is warned about. */
  flagKeyChange(p: PeerView): boolean {
    const known = this.map.get(p.id);
    if (known && !known.keyChanged) this.map.set(p.id, { ...known, keyChanged: true });
    if (this.warned.has(p.name)) return false;
    this.warned.add(p.name);
    return true;
  }

  /** The new key of `p` is trusted: no longer flagged, and a later change is warned about again. */
  trusted(p: PeerView): void {
    this.warned.delete(p.name);
    const known = this.map.get(p.id);
    if (known) this.map.set(p.id, { ...known, keyChanged: false });
  }

  /** The member a KEY_CHANGED error names: the flagged one of that name first (another key may share it). */
  flaggedOrNamed(name: string): PeerView | undefined {
    return this.list().find((v) => v.name === name && v.keyChanged) ?? this.find(name);
  }

  /** A member by id or by name. */
  find(nameOrId: string): PeerView | undefined {
    const byId = this.map.get(nameOrId);
    if (byId) return byId;
    for (const p of this.map.values()) if (p.name === nameOrId) return p;
    return undefined;
  }

  /** Names starting with `prefix` (any case), sorted. */
  namesStarting(prefix: string): string[] {
    const w = prefix.toLowerCase();
    return this.list()
      .map((p) => p.name)
      .filter((n) => n.toLowerCase().startsWith(w))
      .sort((a, b) => a.localeCompare(b));
  }
}
