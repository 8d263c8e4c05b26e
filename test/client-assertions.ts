/** Assertions and seeding shared by the client test files (consumer, consumer-modes, producer). */
import assert from 'node:assert/strict';
import type { JournalServer } from '../server/journal-server.js';
import { JournalError } from '../src/errors.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import { Latch, within } from './helpers.js';

export const J = 'jobs';
export const SENTINEL = EventLogConsumer.SENTINEL_EVENT;

/** Appends `count` events `name` with context `{ i }`, one by one, through the server. */
export async function seed(server: JournalServer, count: number, journal = J, name = 'e', from = 1) {
  const results: { seq: number; timestamp: number }[] = [];
  for (let i = from; i < from + count; i++) results.push(await server.append(journal, name, { i }));
  return results;
}

/** What a consumer's callback was handed, in order; each delivery counts `latch` down (replace it to wait for more). */
export interface Delivered {
  readonly seen: (JournalEvent | null)[];
  latch: Latch;
}

/** Sets `consumer`'s callback to collect into `seen`, and waits for `expected` deliveries with `latch`. */
export function collectCallback(consumer: EventLogConsumer, expected: number): Delivered {
  const delivered: Delivered = { seen: [], latch: new Latch(expected) };
  consumer.setCallback((event) => {
    delivered.seen.push(event);
    delivered.latch.countDown();
  });
  return delivered;
}

/** The events' seqs, with 'S' for the sentinel and 'null' for null: compact to compare. */
export function seqs(events: readonly (JournalEvent | null)[]): (number | string | undefined)[] {
  return events.map((event) => (event === null ? 'null' : event === SENTINEL ? 'S' : event.seq));
}

/** Each event's timestamp is above the one before and its seq is the next. */
export function assertStrictlyIncreasing(events: readonly JournalEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i]!.timestamp > events[i - 1]!.timestamp, `timestamp of event ${i} does not increase`);
    assert.equal(events[i]!.seq, events[i - 1]!.seq! + 1, `seq of event ${i} does not follow`);
  }
}

/** Expects `promise` to reject with a JournalError of `code`. */
export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(within(promise, 5000, `a ${code} rejection`), (error: unknown) => {
    assert.ok(error instanceof JournalError, `expected a JournalError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}
