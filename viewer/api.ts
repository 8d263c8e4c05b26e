/**
 * The HTTP routes the page reads (section 7 of the contract), over `fetch`
 * on the page's own origin, with the tab's token as a bearer header. Errors
 * come back as {@link ApiError} with the server's code.
 */
import type { EventEntry, EventFilter, EventPage, JournalInfo, ReportRow, SpanRow } from './types.js';

/** A refused or failed request: the server's error code and message, and the HTTP status. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: string;
  readonly status: number;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The query of `GET /v1/journals/{journal}/events`. */
export interface EventsQuery extends EventFilter {
  since?: number | undefined;
  until?: number | undefined;
  after?: number | undefined;
  limit?: number | undefined;
  order?: 'asc' | 'desc' | undefined;
}

/** The query of the report route (JSON or CSV). */
export interface ReportQuery {
  period: 'hour' | 'day' | 'week' | 'month';
  tz?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  by?: string | undefined;
}

/** The query of the spans route. */
export interface SpansQuery extends Omit<ReportQuery, 'by'> {
  start: string;
  stop: string;
  key: string;
}

export class Api {
  readonly #base: string;
  readonly #token: () => string | undefined;

  /** `base`: the server's origin (the page's own); `token`: read before every request. */
  constructor(base: string, token: () => string | undefined) {
    this.#base = base.replace(/\/$/, '');
    this.#token = token;
  }

  /** The first page of journals (the server's page size, 1000), and whether there are more. */
  async journals(signal?: AbortSignal): Promise<{ journals: JournalInfo[]; more: boolean }> {
    const body = (await this.#json('/v1/journals', signal)) as { journals: JournalInfo[]; next?: string | null };
    return { journals: body.journals, more: typeof body.next === 'string' };
  }

  /** One page; `query` is a query object, or the `next` string of the previous page. */
  async events(journal: string, query: EventsQuery | string, signal?: AbortSignal): Promise<EventPage> {
    const search = typeof query === 'string' ? query : eventsSearch(query);
    return (await this.#json(`/v1/journals/${encodeURIComponent(journal)}/events?${search}`, signal)) as EventPage;
  }

  async event(journal: string, seq: number, signal?: AbortSignal): Promise<EventEntry> {
    return (await this.#json(`/v1/journals/${encodeURIComponent(journal)}/events/${seq}`, signal)) as EventEntry;
  }

  async report(journal: string, query: ReportQuery, signal?: AbortSignal): Promise<ReportRow[]> {
    const body = (await this.#json(this.reportPath(journal, query, 'json'), signal)) as { rows: ReportRow[] };
    return body.rows;
  }

  async spans(journal: string, query: SpansQuery, signal?: AbortSignal): Promise<SpanRow[]> {
    const body = (await this.#json(this.spansPath(journal, query, 'json'), signal)) as { rows: SpanRow[] };
    return body.rows;
  }

  reportPath(journal: string, query: ReportQuery, format: 'json' | 'csv'): string {
    return `/v1/journals/${encodeURIComponent(journal)}/report?${search({ ...query, format })}`;
  }

  spansPath(journal: string, query: SpansQuery, format: 'json' | 'csv'): string {
    return `/v1/journals/${encodeURIComponent(journal)}/spans?${search({ ...query, format })}`;
  }

  /** A route's body as text (the CSV of a report). */
  async text(path: string, signal?: AbortSignal): Promise<string> {
    const response = await this.#fetch(path, signal);
    return response.text();
  }

  async #json(path: string, signal: AbortSignal | undefined): Promise<unknown> {
    const response = await this.#fetch(path, signal);
    return response.json();
  }

  async #fetch(path: string, signal: AbortSignal | undefined): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json, text/csv' };
    const token = this.#token();
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, signal ? { headers, signal } : { headers });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new ApiError(0, 'CONNECTION_CLOSED', `the server could not be reached (${(error as Error).message})`);
    }
    if (response.ok) return response;
    let code = response.status === 401 ? 'UNAUTHORIZED' : `HTTP_${response.status}`;
    let message = response.statusText || `HTTP ${response.status}`;
    try {
      const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
      if (typeof body.error?.code === 'string') code = body.error.code;
      if (typeof body.error?.message === 'string') message = body.error.message;
    } catch {
      // Not the server's JSON error (a proxy's page): the status says enough.
    }
    throw new ApiError(response.status, code, message);
  }
}

function eventsSearch(query: EventsQuery): string {
  const { names, where, ...rest } = query;
  return search({
    ...rest,
    names: names && names.length > 0 ? names.join(',') : undefined,
    where: where && Object.keys(where).length > 0 ? JSON.stringify(where) : undefined,
  });
}

function search(params: Record<string, string | number | undefined>): string {
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') out.set(key, String(value));
  return out.toString();
}
