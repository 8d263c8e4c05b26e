/** The generic concrete consumer: each entry becomes a {@link JournalEvent}. */
import { JournalConsumer, type JournalResponse } from './journal-consumer.js';
import { JournalEvent } from './journal-event.js';
import type { EventEntry } from './protocol.js';

/**
 * @example
 * const consumer = new EventLogConsumer('ws://127.0.0.1:7707', 'jobs', { includeSentinel: true }).start();
 * for await (const event of consumer) console.log(event.toString());
 */
export class EventLogConsumer extends JournalConsumer<JournalEvent> {
  processResponse(_resp: JournalResponse): Record<string, unknown> {
    return {};
  }

  createEvent(entry: EventEntry, _kwargs: Record<string, unknown>): JournalEvent {
    return new JournalEvent(entry);
  }
}
