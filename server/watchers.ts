/** Per-journal listener sets for a store's `watch()`. */
import type { AppendListener, StoredEvent } from './store.js';

export class Watchers {
  readonly #byJournal = new Map<string, Set<AppendListener>>();

  /** Adds a listener; returns the function that removes it. */
  add(journal: string, listener: AppendListener): () => void {
    let set = this.#byJournal.get(journal);
    if (!set) {
      set = new Set();
      this.#byJournal.set(journal, set);
    }
    set.add(listener);
    return () => {
      const current = this.#byJournal.get(journal);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.#byJournal.delete(journal);
    };
  }

  has(journal: string): boolean {
    return this.#byJournal.has(journal);
  }

  emit(journal: string, events: readonly StoredEvent[]): void {
    const set = this.#byJournal.get(journal);
    if (!set || events.length === 0) return;
    for (const listener of [...set]) {
      try {
        listener(events);
      } catch (error) {
        // One listener's bug must neither starve the others nor fail an append that is stored.
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }

  clear(): void {
    this.#byJournal.clear();
  }
}
