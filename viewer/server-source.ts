/**
 * The {@link FeedSource} of the page: pages over HTTP, and the journal
 * followed through the client library's consumer over the browser's
 * WebSocket, filtered on the server by the same names and selector.
 */
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import type { Api } from './api.js';
import type { FeedSource, FollowHandle, FollowHandlers, PageRequest, SourcePage } from './journal-feed.js';
import type { EventEntry, EventFilter } from './types.js';

/** Most requests one page may take while the server skips events the filter rejects. */
const MAX_REQUESTS_PER_PAGE = 1000;

/** A consumer whose subscription carries the page's filter. */
class FilteredConsumer extends EventLogConsumer {
  readonly #payload: Record<string, unknown>;

  constructor(url: string, journal: string, since: number, filter: EventFilter, token: string | undefined) {
    super(url, journal, { since, includeSentinel: true, bufferHistory: false, ...(token !== undefined ? { token } : {}) });
    const payload: Record<string, unknown> = {};
    if (filter.names && filter.names.length > 0) payload['names'] = [...filter.names];
    if (filter.where && Object.keys(filter.where).length > 0) payload['where'] = filter.where;
    this.#payload = payload;
  }

  override get requestPayload(): Record<string, unknown> {
    return this.#payload;
  }
}

export class ServerSource implements FeedSource {
  readonly #api: Api;
  readonly #wsUrl: string;
  readonly #token: () => string | undefined;

  /** `wsUrl`: the journal server's WebSocket address (the page's own host). */
  constructor(api: Api, wsUrl: string, token: () => string | undefined) {
    this.#api = api;
    this.#wsUrl = wsUrl;
    this.#token = token;
  }

  async page(journal: string, request: PageRequest, filter: EventFilter, signal: AbortSignal): Promise<SourcePage> {
    const { order, limit, after, since, before } = request;
    // Before an event: its timestamp bounds the query (inclusive), its seq drops the event itself.
    const first = {
      ...filter,
      order,
      limit: before?.seq !== undefined ? limit + 1 : limit,
      after,
      since,
      until: before ? before.timestamp : undefined,
    };
    const events: EventEntry[] = [];
    let query: Parameters<Api['events']>[1] = first;
    for (let requests = 0; requests < MAX_REQUESTS_PER_PAGE; requests++) {
      const page = await this.#api.events(journal, query, signal);
      for (const event of page.events) if (before?.seq === undefined || event.seq < before.seq) events.push(event);
      if (page.next === null || page.next === undefined) return { events: sorted(events, order), exhausted: true };
      if (events.length >= limit) break;
      query = page.next;
    }
    return { events: sorted(events, order).slice(order === 'desc' ? -limit : 0, order === 'desc' ? undefined : limit), exhausted: false };
  }

  follow(journal: string, since: number, filter: EventFilter, handlers: FollowHandlers): FollowHandle {
    const consumer = new FilteredConsumer(this.#wsUrl, journal, since, filter, this.#token());
    let stopped = false;
    let lastError: (Error & { code?: string }) | undefined;
    consumer.on('error', (error: Error & { code?: string }) => {
      lastError = error;
      if (!stopped) handlers.error(error, false);
    });
    consumer.on('reconnect', () => handlers.reconnect());
    consumer.on('end', () => {
      if (!stopped) handlers.error(lastError ?? new Error('the server ended the subscription'), true);
    });
    consumer.setCallback((event: JournalEvent | null) => {
      if (event === null || stopped) return;
      if (event === EventLogConsumer.SENTINEL_EVENT) handlers.historyEnd();
      else handlers.event(toEntry(event));
    });
    consumer.start();
    return {
      stop() {
        if (stopped) return;
        stopped = true;
        consumer.stop();
      },
    };
  }
}

function toEntry(event: JournalEvent): EventEntry {
  const entry: EventEntry = { name: event.name!, timestamp: event.timestamp, context: event.context, seq: event.seq! };
  const schema = (event as { schema?: EventEntry['schema'] }).schema;
  if (schema !== undefined) entry.schema = schema;
  return entry;
}

function sorted(events: EventEntry[], order: 'asc' | 'desc'): EventEntry[] {
  return order === 'desc' ? events.reverse() : events;
}
