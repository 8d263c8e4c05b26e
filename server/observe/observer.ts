/**
 * The server's hook points: the server, its sessions and its HTTP routes call one observer,
 * which counts in the metrics and writes the log. Nothing is logged per event or per append:
 * the hot path only counts. What clients can trigger at will (refused handshakes, refused
 * frames, ended subscriptions) is rate-limited, per connection and server-wide, and what was
 * dropped is counted in the next record.
 */
import { ErrorCode } from '../../src/errors.js';
import { RateLimit, type Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';

/** Records of one kind let through server-wide per window, and the window. */
const SERVER_RECORDS = 20;
const WINDOW_MS = 10_000;

/** Why subscriptions end that deserve a warning: the server shed them. */
const WARN_ENDS: ReadonlySet<string> = new Set([ErrorCode.SLOW_CONSUMER, ErrorCode.OVERLOADED]);
/** Ends that are routine: at the client's request, with its connection, or at shutdown. */
const QUIET_ENDS: ReadonlySet<string> = new Set(['cancelled', 'disconnected', ErrorCode.SHUTTING_DOWN]);

/** What the startup record says. */
export interface StartupInfo {
  readonly url: string;
  readonly store: string;
  readonly auth: boolean;
  readonly limits: Readonly<Record<string, number>>;
}

export class ServerObserver {
  readonly metrics: ServerMetrics;
  readonly log: Logger | undefined;
  #connections = 0;
  readonly #handshakes = new RateLimit(SERVER_RECORDS, WINDOW_MS);
  readonly #frames = new RateLimit(SERVER_RECORDS, WINDOW_MS);
  readonly #ends = new RateLimit(SERVER_RECORDS, WINDOW_MS);
  readonly #storeFailures = new RateLimit(5, WINDOW_MS);

  constructor(metrics: ServerMetrics, log: Logger | undefined) {
    this.metrics = metrics;
    this.log = log;
  }

  listening(info: StartupInfo): void {
    this.log?.info({ url: info.url, store: info.store, auth: info.auth, limits: info.limits }, `listening on ${info.url}`);
  }

  closing(connections: number): void {
    this.log?.info({ connections }, 'shutting down: closing every connection (1001)');
  }

  closed(): void {
    this.log?.info('shut down');
  }

  /** A WebSocket handshake refused with `status`. */
  handshakeRefused(remote: string | undefined, status: number, code: string, message: string): void {
    this.metrics.handshakesRefused.labels(String(status)).inc();
    const suppressed = this.#handshakes.take();
    if (suppressed !== undefined) this.log?.warn({ remote, status, code, suppressed }, `handshake refused: ${message}`);
  }

  /** A connection shed by the server's memory budget (1013). */
  shed(): void {
    this.metrics.connectionsClosed.labels('overloaded').inc();
    const suppressed = this.#ends.take();
    if (suppressed !== undefined) this.log?.warn({ suppressed }, 'connection shed: the server is out of memory for output (1013 OVERLOADED)');
  }

  /** @internal A connection closed 1008 for its unread output. */
  closedSlow(fields: Record<string, unknown>): void {
    this.metrics.connectionsClosed.labels('slow_consumer').inc();
    const suppressed = this.#ends.take();
    if (suppressed !== undefined) this.log?.warn({ ...fields, suppressed }, 'connection closed: it does not read its output (1008 SLOW_CONSUMER)');
  }

  /** A new WebSocket connection: the observer its session reports to. */
  connection(remote: string | undefined): ConnectionObserver {
    const id = ++this.#connections;
    this.log?.debug({ connection: id, remote }, 'connection opened');
    return new ConnectionObserver(this, id, remote);
  }

  /**
   * A store call failed. `operation` is one of a fixed few (append, read, check). The record
   * carries the error's code and its messages down the cause chain, not a stack: a store that
   * is away is an operational fact, not a bug of the server.
   */
  storeError(operation: string, error: unknown): void {
    this.metrics.storeErrors.labels(operation).inc();
    const suppressed = this.#storeFailures.take();
    if (suppressed !== undefined) this.log?.error({ operation, error: describeError(error), suppressed }, `store ${operation} failed`);
  }

  /** One fdatasync round of the store's write-ahead log. */
  fsync(seconds: number): void {
    this.metrics.fsyncSeconds.observe(seconds);
  }

  /** An append over WebSocket acknowledged: counted (a few additions), never logged. */
  wsAppended(events: number, seconds: number): void {
    const counts = this.metrics.appendCounts;
    counts.wsAppends++;
    counts.wsEvents += events;
    this.metrics.appendSeconds.observe(seconds);
  }

  /** An append over HTTP acknowledged. */
  httpAppended(events: number, seconds: number): void {
    const counts = this.metrics.appendCounts;
    counts.httpAppends++;
    counts.httpEvents += events;
    this.metrics.appendSeconds.observe(seconds);
  }

  /** An HTTP request answered. `route` is the route's pattern, never the URL a client sent. */
  httpResponded(route: string, method: string, status: number, ms: number): void {
    this.metrics.httpRequests.labels(route, method, String(status)).inc();
    this.log?.debug({ route, method, status, ms: Math.round(ms * 1000) / 1000 }, 'http request');
  }

  /** @internal A refused frame, once the connection's own limit let it through. */
  frameRefused(fields: Record<string, unknown>): void {
    const suppressed = this.#frames.take();
    if (suppressed !== undefined) this.log?.warn({ ...fields, suppressedServerWide: suppressed }, 'frame refused');
  }

  /** @internal A subscription ended. */
  subscriptionEnded(fields: Record<string, unknown> & { reason: string }): void {
    this.metrics.subscriptionsEnded.labels(fields.reason).inc();
    if (this.log === undefined) return;
    if (QUIET_ENDS.has(fields.reason)) {
      this.log.debug(fields, 'subscription ended');
      return;
    }
    const suppressed = this.#ends.take();
    if (suppressed === undefined) return;
    if (WARN_ENDS.has(fields.reason)) this.log.warn({ ...fields, suppressed }, 'subscription ended');
    else this.log.info({ ...fields, suppressed }, 'subscription ended');
  }
}

/** What one WebSocket connection reports. */
export class ConnectionObserver {
  readonly id: number;
  readonly remote: string | undefined;
  readonly #server: ServerObserver;
  /** One refused-frame record per connection per window: created at its first refused frame. */
  #frames: RateLimit | undefined;

  constructor(server: ServerObserver, id: number, remote: string | undefined) {
    this.#server = server;
    this.id = id;
    this.remote = remote;
  }

  /** An append acknowledged `seconds` after its frame was read. */
  appended(events: number, seconds: number): void {
    this.#server.wsAppended(events, seconds);
  }

  /** A frame answered with an error frame of `code`. A store failure is logged as such (`appendFailed`), not again here. */
  frameRefused(code: string, message: string): void {
    this.#server.metrics.framesRefused.labels(code).inc();
    if (this.#server.log === undefined || code === ErrorCode.STORE_UNAVAILABLE) return;
    this.#frames ??= new RateLimit(1, WINDOW_MS);
    const suppressed = this.#frames.take();
    if (suppressed !== undefined) this.#server.frameRefused({ connection: this.id, remote: this.remote, code, message, suppressed });
  }

  /** The store failed an append of this connection. */
  appendFailed(error: unknown): void {
    this.#server.storeError('append', error);
  }

  /** A subscription ended: `reason` is the code it was ended with, `cancelled` or `disconnected`. */
  subscriptionEnded(journal: string, subscription: number, reason: string, message?: string): void {
    this.#server.subscriptionEnded({ connection: this.id, remote: this.remote, journal, subscription, reason, message });
    if (reason === ErrorCode.STORE_UNAVAILABLE) this.#server.storeError('read', message);
  }

  /** The connection closed 1008: it left more than twice `maxSendBuffer` unread. */
  closedSlow(): void {
    this.#server.closedSlow({ connection: this.id, remote: this.remote });
  }

  closed(code: number, reason: string): void {
    this.#server.log?.debug({ connection: this.id, remote: this.remote, code, reason }, 'connection closed');
  }
}

/** An error as a log field: its code, its message and its causes' messages. */
function describeError(error: unknown): { code?: string; message: string; causes?: string[] } {
  if (!(error instanceof Error)) return { message: String(error) };
  const causes: string[] = [];
  for (let cause = error.cause; cause instanceof Error && causes.length < 5; cause = cause.cause) causes.push(cause.message);
  const code = (error as { code?: unknown }).code;
  return { ...(typeof code === 'string' ? { code } : {}), message: error.message, ...(causes.length > 0 ? { causes } : {}) };
}
