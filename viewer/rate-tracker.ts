/**
 * Events per second of each journal, from its head seq sampled at each
 * refresh of the list: the last `samples` rates per journal, and nothing
 * kept for journals no longer listed.
 */
import type { JournalInfo } from './types.js';

interface Track {
  seq: number;
  at: number;
  rates: number[];
}

export class RateTracker {
  readonly samples: number;
  readonly #tracks = new Map<string, Track>();

  constructor(samples = 60) {
    this.samples = samples;
  }

  /** Records one refresh of the list, taken at `at` seconds. */
  record(journals: readonly JournalInfo[], at: number): void {
    const seen = new Set<string>();
    for (const { name, head } of journals) {
      seen.add(name);
      const track = this.#tracks.get(name);
      if (track === undefined) {
        this.#tracks.set(name, { seq: head.seq, at, rates: [] });
        continue;
      }
      const elapsed = at - track.at;
      if (elapsed <= 0) continue;
      // A seq that went down means the journal was removed and made again: start over.
      const rate = head.seq >= track.seq ? (head.seq - track.seq) / elapsed : 0;
      track.rates.push(rate);
      if (track.rates.length > this.samples) track.rates.shift();
      track.seq = head.seq;
      track.at = at;
    }
    for (const name of this.#tracks.keys()) if (!seen.has(name)) this.#tracks.delete(name);
  }

  /** The rates measured so far for `journal`, oldest first. */
  rates(journal: string): readonly number[] {
    return this.#tracks.get(journal)?.rates ?? [];
  }
}
