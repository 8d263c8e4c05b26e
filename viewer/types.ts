/** Shapes the page receives from the server (section 7 of the contract). */

/** An event as the server sends it. `schema` names the JSON Schema its context was checked against. */
export interface EventEntry {
  name: string;
  timestamp: number;
  context: Record<string, unknown>;
  seq: number;
  schema?: { id: string; version: number } | undefined;
}

/** A journal and its newest event. */
export interface JournalInfo {
  name: string;
  head: { seq: number; timestamp: number };
}

/** What the page filters a journal by; applied on the server. */
export interface EventFilter {
  /** Only events with one of these names. */
  names?: readonly string[] | undefined;
  /** A MongoDB-style selector on `{ name, timestamp, seq, context }`. */
  where?: Record<string, unknown> | undefined;
}

/** One page of a query: the events and, when there may be more, the query string of the next page. */
export interface EventPage {
  events: EventEntry[];
  next: string | null;
}

/** A row of `GET /v1/journals/{journal}/report`. */
export interface ReportRow {
  start: string;
  end: string;
  group: string | number | boolean | null;
  count: number;
}

/** A row of `GET /v1/journals/{journal}/spans`. */
export interface SpanRow {
  start: string;
  end: string;
  key: string | number | boolean | null;
  spans: number;
  busySeconds: number;
  utilization: number;
}
