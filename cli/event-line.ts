/**
 * How `tail` and `query` print an event as text: `JournalEvent.toString()`'s
 * layout with the timestamp to the microsecond, which is the server's own
 * precision, so that a printed timestamp given back as `--since` resumes
 * exactly after that event.
 */
import type { JournalEvent } from '../src/journal-event.js';

/** `<timestamp, 6 decimals> <name> <k=v,...>`, e.g. `1763742000.123456 submit id=f3x,userid=1000`. */
export function eventLine(event: JournalEvent): string {
  return `${event.timestamp.toFixed(6)} ${event.name ?? ''} ${event.contextString}`;
}
