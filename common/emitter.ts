/** A small typed event emitter: streams of events get one style across the codebase (docs/contributing.md §7). */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly handlers = new Map<keyof Events, Set<(e: never) => void>>();

  on<K extends keyof Events>(name: K, fn: (e: Events[K]) => void): () => void {
    let set = this.handlers.get(name);
    if (!set) {
      set = new Set();
      this.handlers.set(name, set);
    }
    set.add(fn as (e: never) => void);
    return () => set.delete(fn as (e: never) => void);
  }

  protected emit<K extends keyof Events>(name: K, e: Events[K]): void {
    for (const fn of this.handlers.get(name) ?? []) (fn as (e: Events[K]) => void)(e);
  }
}
