/** `consumer.pages()` (after bluesky's event pages): a consumer's events in arrays, as they arrive. */
import { checkOptions, checkPositive } from './validate.js';

export interface PagesOptions {
  /** Most events in one page. @default 1000 */
  maxPageSize?: number;
}

/** The part of a consumer that pages are read through. */
interface PagedConsumer<E> {
  poll(): Promise<E | null>;
  stop(): void;
}

/** Checks `consumer.pages()`'s options; returns the page size. */
export function checkPagesOptions(options: PagesOptions): number {
  checkOptions(options, ['maxPageSize']);
  return checkPositive(options.maxPageSize ?? 1000, 'options.maxPageSize', { integer: true });
}

/**
 * Each page is the next event (waited for) and the events queued behind it, up to
 * `maxPageSize`: what arrived together goes together, and nothing waits for a page to fill.
 * Leaving the loop early stops the consumer.
 */
export async function* consumerPages<E>(
  consumer: PagedConsumer<E>,
  takeQueued: (page: E[], max: number) => void,
  sentinel: E,
  maxPageSize: number,
): AsyncGenerator<E[], void, undefined> {
  try {
    for (;;) {
      const first = await consumer.poll();
      if (first === null) return;
      if (first === sentinel) {
        yield [first];
        continue;
      }
      const page = [first];
      takeQueued(page, maxPageSize);
      yield page;
    }
  } finally {
    consumer.stop();
  }
}
