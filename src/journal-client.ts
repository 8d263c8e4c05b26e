/**
 * JournalClient: a journal server's HTTP API over `fetch`, in Node and in browsers. It
 * lists journals, queries a journal's events page by page, reads one event, appends, and asks
 * for reports (events counted per period) and spans (busy time between paired events).
 * Every refusal rejects with a JournalError whose `code` is the one in the server's error body.
 */
import { ConnectionError, ErrorCode, JournalError, TimeoutError } from './errors.js';
import { JournalEvent } from './journal-event.js';
import type { AppendResult } from './journal-producer.js';
import { isEventEntry, type EventEntry } from './protocol.js';
import { reportParams, spansParams, type ReportOptions, type ReportRow, type SpanRow, type SpansOptions } from './report-query.js';
import { checkJournalName, checkOptions, checkOptionalString, checkPositive, isPlainObject } from './validate.js';

export interface JournalClientOptions {
  /** Bearer token for a server that asks for one. */
  token?: string | undefined;
  /** The `fetch` to use. @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** Seconds each request may take before it fails with TIMEOUT. @default 30 */
  timeout?: number | undefined;
}

/** A journal and its newest event's position. */
export interface JournalInfo {
  readonly name: string;
  readonly head: { readonly seq: number; readonly timestamp: number };
}

/** The log levels of the `level` filter, by name. */
export type LogLevelName = 'debug' | 'info' | 'warning' | 'error' | 'critical' | 'alert';

/** What `events()` asks for. Every field is optional; without any, every event, oldest first. */
export interface EventsQuery {
  /** Only events with `timestamp > since`. */
  since?: number | undefined;
  /** Only events with `timestamp <= until`. */
  until?: number | undefined;
  /** Only events with `seq > after`. */
  after?: number | undefined;
  /** Only events with one of these names. */
  names?: readonly string[] | undefined;
  /** Only `log` events at this level or above. */
  level?: LogLevelName | number | undefined;
  /** Only events this selector matches: MongoDB-style, on `{ name, timestamp, seq, context }`. */
  where?: Record<string, unknown> | undefined;
  /** `desc` for the newest first. @default "asc" */
  order?: 'asc' | 'desc' | undefined;
  /** At most this many events in all. @default Infinity */
  limit?: number | undefined;
  /** Events per request (the server lowers it to its cap). @default 100 */
  pageSize?: number | undefined;
  /** Stops the iteration: the pending request rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Read the journal's archive files (events retention or `archive` moved out of the store) instead; oldest first only. @default false */
  archived?: boolean | undefined;
}

/** An event to append: its name and context. */
export interface AppendEvent {
  name: string;
  context?: Record<string, unknown> | undefined;
}

const KNOWN_OPTIONS = ['token', 'fetch', 'timeout'] as const;
const DEFAULT_PAGE_SIZE = 100;

/**
 * @example
 * const client = new JournalClient('http://127.0.0.1:7707');
 * for await (const event of client.events('jobs', { where: { 'context.state': 'failed' }, order: 'desc', limit: 10 })) {
 *   console.log(event.toString());
 * }
 */
export class JournalClient {
  /** The server's HTTP base URL (a `ws://` URL is taken as the same server's `http://`). */
  readonly url: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor(url: string | URL, options: JournalClientOptions = {}) {
    checkOptions(options, KNOWN_OPTIONS);
    this.url = baseUrl(url);
    this.#token = checkOptionalString(options.token, 'options.token');
    const fetcher = options.fetch ?? globalThis.fetch;
    if (typeof fetcher !== 'function') throw new TypeError('options.fetch must be a function (no global fetch here)');
    this.#fetch = fetcher;
    this.#timeoutMs = checkPositive(options.timeout ?? 30, 'options.timeout') * 1000;
  }

  /** Every journal that was ever appended to, with its head, in name order. */
  async journals(): Promise<JournalInfo[]> {
    const all: JournalInfo[] = [];
    let query = '';
    for (;;) {
      const page = (await this.#request('GET', `v1/journals${query}`)) as { journals?: unknown; next?: unknown };
      if (!Array.isArray(page.journals)) throw badAnswer('GET /v1/journals');
      all.push(...(page.journals as JournalInfo[]));
      if (typeof page.next !== 'string') return all;
      query = `?${page.next}`;
    }
  }

  /** One journal's head, or undefined for a journal never written. */
  async journal(name: string): Promise<JournalInfo | undefined> {
    checkJournalName(name);
    return (await this.#request('GET', `v1/journals/${name}`, { notFound: true })) as JournalInfo | undefined;
  }

  /**
   * The events of `journal` that `query` selects, oldest first (or newest first with
   * `order: 'desc'`), fetched a page at a time as the iteration goes on.
   */
  events(journal: string, query: EventsQuery = {}): AsyncIterable<JournalEvent> {
    checkJournalName(journal);
    const first = queryParams(query);
    const limit = query.limit ?? Infinity;
    const pageSize = query.pageSize ?? DEFAULT_PAGE_SIZE;
    if (limit !== Infinity) checkPositive(limit, 'query.limit', { integer: true });
    checkPositive(pageSize, 'query.pageSize', { integer: true });
    const request = (params: URLSearchParams): Promise<unknown> => this.#request('GET', `v1/journals/${journal}/events?${params}`, { signal: query.signal });
    return {
      async *[Symbol.asyncIterator]() {
        let params = first;
        let remaining = limit;
        for (;;) {
          params.set('limit', String(Math.min(pageSize, remaining)));
          const page = (await request(params)) as { events?: unknown; next?: unknown };
          if (!Array.isArray(page.events) || !page.events.every(isEventEntry)) throw badAnswer(`GET /v1/journals/${journal}/events`);
          for (const entry of page.events as EventEntry[]) {
            yield new JournalEvent(entry);
            if (--remaining === 0) return;
          }
          if (typeof page.next !== 'string') return;
          params = new URLSearchParams(page.next);
        }
      },
    };
  }

  /** The event with `seq`, or undefined when the journal has none. */
  async event(journal: string, seq: number): Promise<JournalEvent | undefined> {
    checkJournalName(journal);
    checkPositive(seq, 'seq', { integer: true });
    const entry = await this.#request('GET', `v1/journals/${journal}/events/${seq}`, { notFound: true });
    if (entry === undefined) return undefined;
    if (!isEventEntry(entry)) throw badAnswer(`GET /v1/journals/${journal}/events/${seq}`);
    return new JournalEvent(entry);
  }

  /**
   * Appends one event or a batch (stored all or none) and resolves with their seqs and
   * timestamps once they are durable. With `idempotencyKey`, a retry of the same request
   * stores nothing and resolves with the first one's acks.
   */
  async append(journal: string, events: AppendEvent | readonly AppendEvent[], options: { idempotencyKey?: string } = {}): Promise<AppendResult[]> {
    checkJournalName(journal);
    const key = checkOptionalString(options.idempotencyKey, 'options.idempotencyKey');
    const body = (await this.#request('POST', `v1/journals/${journal}/events`, {
      body: JSON.stringify(events),
      headers: key === undefined ? {} : { 'Idempotency-Key': key },
    })) as { acks?: unknown };
    if (!Array.isArray(body.acks)) throw badAnswer(`POST /v1/journals/${journal}/events`);
    return body.acks as AppendResult[];
  }

  /**
   * Removes the journal's oldest events now, those before `before` (seconds) or `beforeSeq`
   * (that seq kept), the newest always kept: `POST /v1/admin/journals/{journal}/trim`, which
   * needs an admin token when the server has tokens. Resolves with `{ trimmed: N }`.
   */
  async trim(journal: string, options: { before?: number; beforeSeq?: number }): Promise<{ trimmed: number }> {
    checkJournalName(journal);
    const body = (await this.#request('POST', `v1/admin/journals/${journal}/trim`, { body: JSON.stringify(options) })) as { trimmed?: unknown };
    if (typeof body.trimmed !== 'number') throw badAnswer(`POST /v1/admin/journals/${journal}/trim`);
    return { trimmed: body.trimmed };
  }

  /**
   * Moves the journal's events before `before` (seconds) or `beforeSeq` (kept) into the server's
   * archive files: `POST /v1/admin/journals/{journal}/archive`. Resolves with `{ archived: N }`.
   */
  async archive(journal: string, options: { before?: number; beforeSeq?: number }): Promise<{ archived: number }> {
    checkJournalName(journal);
    const body = (await this.#request('POST', `v1/admin/journals/${journal}/archive`, { body: JSON.stringify(options) })) as { archived?: unknown };
    if (typeof body.archived !== 'number') throw badAnswer(`POST /v1/admin/journals/${journal}/archive`);
    return { archived: body.archived };
  }

  /** Deletes the server's archive files whose newest event is more than `olderThan` seconds old: `POST /v1/admin/archives/purge`. */
  async purgeArchives(options: { olderThan: number }): Promise<{ purged: number }> {
    const body = (await this.#request('POST', 'v1/admin/archives/purge', { body: JSON.stringify(options) })) as { purged?: unknown };
    if (typeof body.purged !== 'number') throw badAnswer('POST /v1/admin/archives/purge');
    return { purged: body.purged };
  }

  /**
   * Has the server write an online copy of its store into `dir`, a directory on the server's
   * machine that must not exist or be empty, and resolves with the backup's status once done.
   */
  async backup(dir: string): Promise<Record<string, unknown>> {
    return (await this.#request('POST', 'v1/admin/backup', { body: JSON.stringify({ dir }) })) as Record<string, unknown>;
  }

  /** The server's last backup: `{ state: 'idle' | 'running' | 'done' | 'failed', dir?, startedAt?, finishedAt?, bytes?, error? }`. */
  async backupStatus(): Promise<Record<string, unknown>> {
    return (await this.#request('GET', 'v1/admin/backup')) as Record<string, unknown>;
  }

  /**
   * The events of `journal` counted per period (`period`, in the time zone `tz`) and group
   * (`by`), oldest period first: rows `{ start, end, group, count }`, or with `format: 'csv'`
   * the server's CSV text (header `start,end,group,count`).
   *
   * @example
   * const rows = await client.report('lab', { period: 'day', tz: 'Europe/Berlin', by: 'name', from: '2024-03-01', to: '2024-04-01' });
   */
  report(journal: string, options: ReportOptions & { format: 'csv' }): Promise<string>;
  report(journal: string, options?: ReportOptions & { format?: 'json' | undefined }): Promise<ReportRow[]>;
  async report(journal: string, options: ReportOptions = {}): Promise<ReportRow[] | string> {
    checkJournalName(journal);
    return this.#rows(`v1/journals/${journal}/report`, reportParams(options), options);
  }

  /**
   * Busy time between `start` and `stop` events of `journal`, per `key` (a context field
   * pairing them) and period, oldest period first: rows `{ start, end, key, spans,
   * busySeconds, utilization }`, or with `format: 'csv'` the server's CSV text. A span still
   * open counts up to `to`, or now.
   *
   * @example
   * const rows = await client.spans('lab', { start: 'session_start', stop: 'session_end', key: 'context.instrument', period: 'day' });
   */
  spans(journal: string, options: SpansOptions & { format: 'csv' }): Promise<string>;
  spans(journal: string, options: SpansOptions & { format?: 'json' | undefined }): Promise<SpanRow[]>;
  async spans(journal: string, options: SpansOptions): Promise<SpanRow[] | string> {
    checkJournalName(journal);
    return this.#rows(`v1/journals/${journal}/spans`, spansParams(options), options);
  }

  /** A report's rows, or its CSV text. */
  async #rows<Row>(path: string, params: URLSearchParams, options: { format?: 'json' | 'csv' | undefined; signal?: AbortSignal | undefined }): Promise<Row[] | string> {
    const where = `GET /${path}`;
    if (options.format === 'csv') return (await this.#request('GET', `${path}?${params}`, { signal: options.signal, text: true })) as string;
    const body = (await this.#request('GET', `${path}?${params}`, { signal: options.signal })) as { rows?: unknown } | undefined;
    if (!Array.isArray(body?.rows)) throw badAnswer(where);
    return body.rows as Row[];
  }

  async #request(
    method: string,
    path: string,
    options: { body?: string; headers?: Record<string, string>; signal?: AbortSignal | undefined; notFound?: boolean; text?: boolean } = {},
  ): Promise<unknown> {
    const headers: Record<string, string> = { Accept: options.text === true ? 'text/csv, application/json' : 'application/json', ...options.headers };
    if (this.#token !== undefined) headers['Authorization'] = `Bearer ${this.#token}`;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const { signal, done } = deadline(this.#timeoutMs, options.signal);
    const where = `${method} ${new URL(path, this.url).pathname}`;
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(new URL(path, this.url), { method, headers, body: options.body ?? null, signal });
      text = await response.text();
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (signal.aborted) throw new TimeoutError(`${where} took longer than ${this.#timeoutMs / 1000} s`, { cause: error });
      throw new ConnectionError(`${where} failed: ${(error as Error).message}`, { cause: error });
    } finally {
      done();
    }
    if (response.ok && options.text === true) return text;
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (response.ok) return body;
    if (response.status === 404 && options.notFound === true) return undefined;
    const error = isPlainObject(body) && isPlainObject(body['error']) ? body['error'] : undefined;
    const code = typeof error?.['code'] === 'string' ? error['code'] : statusCode(response.status);
    const message = typeof error?.['message'] === 'string' ? error['message'] : `HTTP ${response.status}`;
    throw new JournalError(code, `${where}: ${message}`);
  }
}

/** The HTTP base URL of a server address, with a trailing slash so that relative paths go under it. */
function baseUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`url is not a valid URL: ${JSON.stringify(String(url))}`);
  }
  const protocols: Record<string, string> = { 'http:': 'http:', 'https:': 'https:', 'ws:': 'http:', 'wss:': 'https:' };
  const protocol = protocols[parsed.protocol];
  if (protocol === undefined) throw new TypeError(`url must use http:, https:, ws: or wss:, got ${JSON.stringify(parsed.protocol)}`);
  const base = new URL(`${protocol}//${parsed.host}${parsed.pathname}`);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return base.toString();
}

/** The first page's query parameters. */
function queryParams(query: EventsQuery): URLSearchParams {
  if (!isPlainObject(query)) throw new TypeError('query must be an object');
  const params = new URLSearchParams();
  for (const key of ['since', 'until', 'after'] as const) {
    const value = query[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new RangeError(`query.${key} must be a number >= 0`);
    params.set(key, String(value));
  }
  if (query.names !== undefined) {
    if (!Array.isArray(query.names) || query.names.some((name) => typeof name !== 'string' || name === '' || name.includes(','))) {
      throw new TypeError('query.names must be an array of non-empty names without commas');
    }
    params.set('names', query.names.join(','));
  }
  if (query.level !== undefined) params.set('level', String(query.level));
  if (query.archived === true) params.set('archived', 'true');
  if (query.where !== undefined) {
    if (!isPlainObject(query.where)) throw new TypeError('query.where must be a selector object');
    params.set('where', JSON.stringify(query.where));
  }
  if (query.order !== undefined) {
    if (query.order !== 'asc' && query.order !== 'desc') throw new TypeError('query.order must be "asc" or "desc"');
    params.set('order', query.order);
  }
  return params;
}

/** An abort signal that fires after `ms` or with `outer`, and the function that clears its timer. */
function deadline(ms: number, outer: AbortSignal | undefined): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  const onAbort = (): void => controller.abort(outer?.reason);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    },
  };
}

/** The error code of a status, for an answer without an error body (a proxy's, say). */
function statusCode(status: number): string {
  if (status === 401) return ErrorCode.UNAUTHORIZED;
  if (status === 403) return ErrorCode.FORBIDDEN;
  if (status === 404) return ErrorCode.NOT_FOUND;
  if (status === 503) return ErrorCode.OVERLOADED;
  return status >= 500 ? ErrorCode.INTERNAL_ERROR : ErrorCode.BAD_REQUEST;
}

function badAnswer(what: string): JournalError {
  return new JournalError(ErrorCode.BAD_FRAME, `${what}: the server's answer is not what the API describes`);
}
