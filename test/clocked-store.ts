/** A MemoryStore whose clock a test sets before each append, to place events at chosen instants. */
import { MemoryStore } from '../server/memory-store.js';

export class ClockedStore extends MemoryStore {
  /** Microseconds since the epoch: the next append's timestamp (or the last one's + 1 µs, if later). */
  now = 0;

  constructor() {
    let store: ClockedStore | undefined;
    super({ clock: () => store!.now });
    store = this;
  }

  /** Appends one event at the instant `iso` (UTC unless it says otherwise) plus `micros`; resolves with its timestamp. */
  async at(iso: string, journal: string, name: string, context: Record<string, unknown> = {}, micros = 0): Promise<number> {
    this.now = Date.parse(iso) * 1000 + micros;
    const [event] = await this.append(journal, [{ name, context }]);
    return event!.timestamp;
  }
}
