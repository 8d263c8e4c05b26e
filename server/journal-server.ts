/**
 * The journal server: a WebSocket endpoint and an HTTP API on one port, in front of a
 * {@link JournalStore}. Fastify serves HTTP (server/http/); WebSocket upgrades go straight
 * from the HTTP server's `upgrade` event to `ws`, as with `ws`'s own server, so the
 * WebSocket path costs nothing more for it.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode, JournalError } from '../src/errors.js';
import { isSchemaRef, isWellFormed, JOURNAL_NAME, type SchemaRef } from '../src/protocol.js';
import { isPlainObject } from '../src/validate.js';
import { AccessTokens, type TokensOption } from './auth/access-tokens.js';
import { bearerToken } from './auth/bearer-token.js';
import { Principal } from './auth/principal.js';
import { contextJson } from './encode.js';
import { nonFiniteNumberPath } from './finite-numbers.js';
import type { HttpContext } from './http/context.js';
import { Admission, isRefusal } from './budget/admission.js';
import { ServerBudget, defaultServerBuffer } from './budget/server-budget.js';
import { createHttpApp, type HttpApp } from './http/http-app.js';
import { JournalPolicies, type JournalPolicy, type RetentionPolicy } from './journal-policies.js';
import { RetentionWorker } from './retention/retention-worker.js';
import { Backups, type BackupStatus } from './retention/backup-status.js';
import { Archives, type ArchiveFile } from './retention/archives.js';
import { checkTrimOptions } from './trim-bound.js';
import { LmdbStore } from './lmdb-store.js';
import { createLogger, type Logger, type LoggerOption } from './observe/logger.js';
import { ServerMetrics } from './observe/metrics.js';
import { ServerObserver } from './observe/observer.js';
import { LiveFilterClock } from './budget/live-filter-clock.js';
import { ScanSlicer } from './budget/scan-slicer.js';
import { INTEGER_OPTIONS } from './integer-options.js';
import { AppendCheck } from './schemas/append-check.js';
import { SchemaRegistry, type Registration, type SchemaPage } from './schemas/registry.js';
import { ValidatorPool } from './schemas/validator-pool.js';
import { Session, type SessionLimits, type SessionSchemas } from './session.js';
import type { JournalStore, TrimOptions, TrimResult } from './store.js';

export interface JournalServerOptions {
  /** TCP port; 0 picks a free one. @default 7707 */
  port?: number;
  /** Interface to listen on. @default "127.0.0.1" */
  host?: string;
  /** Where journals are kept. The server closes a store it made itself, not one it was given. @default new LmdbStore({ path: dataDir }) */
  store?: JournalStore;
  /** Directory of the default embedded store, when no `store` is given. @default "./data" */
  dataDir?: string;
  /**
   * If set, every connection and HTTP request must present one of these as a bearer token (or
   * `?token=`); others get 401. A plain list gives each token every scope; an object gives each
   * token its scopes: `read`, `append`, `admin`, each optionally limited to journals by a glob
   * (`read:jobs.*`). An operation outside the token's scopes is refused with `FORBIDDEN` (403).
   * @example { 't1': ['read:jobs.*'], 't2': ['append:jobs', 'read:jobs'], 't3': ['admin'] }
   */
  tokens?: TokensOption;
  /**
   * If set, a connection whose `Origin` header is not listed gets 403. Clients that send no Origin are
   * not browsers and pass; so does the server's own origin (the viewer it serves at `GET /`).
   */
  origins?: readonly string[];
  /** Largest frame accepted, in bytes; a larger one closes the connection with 1009. @default 1048576 */
  maxFrameSize?: number;
  /** Most events in one append. @default 1000 */
  maxEventsPerAppend?: number;
  /** Largest event (name + JSON context), in bytes. @default 65536 */
  maxEventSize?: number;
  /**
   * Most appends of one connection handed to the store and not yet answered; past it the
   * server stops reading that connection until some are (TCP backpressure to the producer). @default 1024
   */
  maxPendingAppends?: number;
  /** Bytes of append frames of one connection handed to the store and not yet answered; past it, as past `maxPendingAppends`. @default 16777216 */
  maxPendingAppendBytes?: number;
  /** Most open subscriptions on one connection. @default 256 */
  maxSubscriptionsPerConnection?: number;
  /** Most connections at once (WebSocket connections and HTTP requests together); more are refused with 503 `OVERLOADED`. @default 10000 */
  maxConnections?: number;
  /** Most connections (and HTTP requests in flight) from one client address; more are refused with 429 `TOO_MANY_CONNECTIONS`. @default 256 */
  maxConnectionsPerAddress?: number;
  /** With `tokens`, most connections (and HTTP requests in flight) presenting one token; more are refused with 429 `TOO_MANY_CONNECTIONS`. @default 1024 */
  maxConnectionsPerToken?: number;
  /**
   * Bytes of output all connections together may hold queued and unsent. History reads wait
   * from three quarters of it; reaching it, the server closes the connections holding the most,
   * largest first, with 1013 `OVERLOADED`, until it is under again. @default 1/32 of V8's heap limit, at least 16 MiB
   */
  maxServerBuffer?: number;
  /** Events per history page. @default 100 */
  pageSize?: number;
  /**
   * While a connection has more than this many bytes unsent, the server reads no more of its
   * input and its history reads wait. @default 1048576
   */
  sendHighWaterMark?: number;
  /**
   * A live subscription whose connection has more than this many bytes unsent is ended with
   * SLOW_CONSUMER; a connection with more than twice this is closed, 1008 `SLOW_CONSUMER`. @default 4194304
   */
  maxSendBuffer?: number;
  /** Live events held per subscription while its history replays; past it, replay reads on from the store. @default 10000 */
  liveHoldSize?: number;
  /** Bytes of live events held per subscription while its history replays; past it, as past `liveHoldSize`. @default 4194304 */
  liveHoldBytes?: number;
  /** Seconds between pings; a client that has not answered the previous ping is dropped. 0 turns pings off. @default 30 */
  heartbeatInterval?: number;
  /**
   * JSON Schemas to register before `listen()` resolves: an array of schema objects, or a
   * directory whose `*.json` files hold one schema each (registered in file-name order).
   * Registering one already registered with the same body does nothing; `listen()` rejects
   * with `SCHEMA_CONFLICT` or `INVALID_SCHEMA` when one cannot be registered.
   */
  schemas?: readonly Record<string, unknown>[] | string;
  /**
   * Policies per journal name, or per glob of names with `*`; the most specific key wins.
   * @example { 'jobs.*': { requireSchema: true, allowedSchemas: ['urn:example:job'] } }
   */
  journals?: Readonly<Record<string, JournalPolicy>>;
  /**
   * Seconds between the rounds that enforce the journals' `retention` policies (the time a
   * round takes comes on top). Rounds run only while listening, and only when some policy has
   * a retention. @default 10
   */
  retentionInterval?: number;
  /** Largest schema accepted, in bytes of its JSON; a larger one is refused with `INVALID_SCHEMA`. @default 65536 */
  maxSchemaSize?: number;
  /** Worker threads that compile schemas and validate contexts, started with the first event naming a schema. @default 1 */
  schemaValidationThreads?: number;
  /**
   * Seconds one batch's validation may take; past it the worker is replaced and the batch
   * refused with `SCHEMA_VIOLATION`. Compiling a schema may take `schemaCompileTimeout` more.
   * @default 1
   */
  schemaValidationTimeout?: number;
  /** Seconds compiling one schema may take; past it the schema is refused with `INVALID_SCHEMA`. @default 5 */
  schemaCompileTimeout?: number;
  /** Serve the viewer, a web page to watch and explore the journals, at `GET /` (its files under `/ui/`). @default true */
  ui?: boolean;
  /** The cap of an HTTP query's `limit` (events per page); a larger `limit` is lowered to it. @default 1000 */
  maxQueryLimit?: number;
  /** Seconds one page of an HTTP query may scan; past it the page ends early, with fewer events and a `next`. @default 1 */
  queryTimeBudget?: number;
  /** Most HTTP requests handled at once; more are answered 503 `OVERLOADED`. @default 256 */
  maxHttpRequests?: number;
  /** Seconds one report (`…/report`, `…/spans`) may scan; past it, the report is refused with 413 `REPORT_TOO_LARGE`. @default 30 */
  reportTimeBudget?: number;
  /** Distinct groups (`by`) or keys (spans) one report may have; past it, 413 `REPORT_TOO_LARGE`. @default 1000 */
  maxReportGroups?: number;
  /**
   * Where the server logs (startup, refused handshakes, refused frames, subscriptions it
   * ends, store failures, shutdown): `false` for nowhere, `true` for JSON lines at `info` on
   * standard output, pino's options, or a pino logger. Never per event. @default false
   */
  logger?: LoggerOption;
}

type Settings = Required<Omit<JournalServerOptions, 'store' | 'tokens' | 'origins' | 'schemas' | 'journals' | 'logger'>>;

const DEFAULTS: Settings = {
  port: 7707,
  host: '127.0.0.1',
  dataDir: './data',
  maxFrameSize: 1024 * 1024,
  maxEventsPerAppend: 1000,
  maxEventSize: 64 * 1024,
  maxPendingAppends: 1024,
  maxPendingAppendBytes: 16 * 1024 * 1024,
  maxSubscriptionsPerConnection: 256,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 256,
  maxConnectionsPerToken: 1024,
  maxServerBuffer: 0,
  pageSize: 100,
  sendHighWaterMark: 1024 * 1024,
  maxSendBuffer: 4 * 1024 * 1024,
  liveHoldSize: 10_000,
  liveHoldBytes: 4 * 1024 * 1024,
  heartbeatInterval: 30,
  retentionInterval: 10,
  maxSchemaSize: 64 * 1024,
  schemaValidationThreads: 1,
  schemaValidationTimeout: 1,
  schemaCompileTimeout: 5,
  ui: true,
  maxQueryLimit: 1000,
  queryTimeBudget: 1,
  maxHttpRequests: 256,
  reportTimeBudget: 30,
  maxReportGroups: 1000,
};
/** Each validation worker's heap (old generation); one that needs more is replaced and its batch refused. */
const VALIDATION_HEAP_MB = 128;

/** Events per store read while a query scans. */
const QUERY_READ_SIZE = 256;
/** A scan's slice of the event loop, ms. */
const SCAN_SLICE_MS = 4;
/** How long closing connections get to finish their closing handshake before they are cut off, ms. */
const CLOSE_GRACE_MS = 1000;

const KNOWN_OPTIONS = new Set(['store', 'tokens', 'origins', 'schemas', 'journals', 'logger', ...Object.keys(DEFAULTS)]);

const VERSION = packageVersion();

/**
 * Serves named journals over WebSockets.
 *
 * @example
 * const server = new JournalServer({ port: 0, store: new MemoryStore() });
 * const { port } = await server.listen();
 * await server.append('jobs', 'submit', { id: 1 });
 */
export class JournalServer {
  readonly #options: Settings;
  readonly #tokens: AccessTokens | undefined;
  /** The principal of each WebSocket handshake admitted, until its connection is accepted. */
  readonly #handshakes = new WeakMap<IncomingMessage, Principal>();
  readonly #origins: ReadonlySet<string> | undefined;
  readonly #ownsStore: boolean;
  readonly #store: JournalStore;
  readonly #sessions = new Set<Session>();
  readonly #pool: ValidatorPool;
  readonly #schemas: SessionSchemas;
  readonly #initialSchemas: readonly Record<string, unknown>[] | string | undefined;
  readonly #observer: ServerObserver;
  readonly #slicer = new ScanSlicer(SCAN_SLICE_MS);
  readonly #liveFilters = new LiveFilterClock();
  readonly #policies: JournalPolicies;
  readonly #retention: RetentionWorker;
  readonly #backups = new Backups();
  readonly #archives: Archives;
  readonly #admission: Admission;
  readonly #budget: ServerBudget;
  /** The `hello` frame every connection is sent first. */
  readonly #hello: string;
  #wss: WebSocketServer | undefined;
  #http: HttpApp | undefined;
  #unobserveStore: (() => void) | undefined;
  /** Called when the last session closes, while `close()` waits for that. */
  #onNoSessions: (() => void) | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #url: string | undefined;
  #closing: Promise<void> | undefined;
  /** Set while `listen()` registers the `schemas` option's schemas, before the socket exists. */
  #listening = false;

  constructor(options: JournalServerOptions = {}) {
    if (!isPlainObject(options)) throw new TypeError('options must be an object');
    for (const key of Object.keys(options)) {
      if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`options.${key} is not a known option`);
    }
    const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    const merged = { ...DEFAULTS, maxServerBuffer: defaultServerBuffer(), ...defined } as Settings;
    if (!Number.isInteger(merged.port) || merged.port < 0 || merged.port > 65535) {
      throw new RangeError(`options.port must be an integer from 0 to 65535, got ${String(merged.port)}`);
    }
    if (typeof merged.host !== 'string' || merged.host === '') throw new TypeError('options.host must be a non-empty string');
    if (typeof merged.dataDir !== 'string' || merged.dataDir === '') {
      throw new TypeError('options.dataDir must be a non-empty string');
    }
    for (const key of INTEGER_OPTIONS) {
      const value = merged[key];
      if (typeof value !== 'number') throw new TypeError(`options.${key} must be a number`);
      if (!Number.isInteger(value) || value <= 0) throw new RangeError(`options.${key} must be a positive integer`);
    }
    if (typeof merged.heartbeatInterval !== 'number' || !(merged.heartbeatInterval >= 0)) {
      throw new RangeError('options.heartbeatInterval must be a number of seconds >= 0');
    }
    for (const key of ['schemaValidationTimeout', 'schemaCompileTimeout', 'retentionInterval'] as const) {
      const value = merged[key];
      if (typeof value !== 'number') throw new TypeError(`options.${key} must be a number`);
      if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`options.${key} must be a positive number of seconds`);
    }
    const { schemas } = options;
    if (schemas !== undefined && typeof schemas !== 'string' && !(Array.isArray(schemas) && schemas.every(isPlainObject))) {
      throw new TypeError('options.schemas must be an array of schema objects or the path of a directory of *.json files');
    }
    this.#initialSchemas = schemas;
    if (typeof merged.ui !== 'boolean') throw new TypeError('options.ui must be a boolean');
    for (const key of ['queryTimeBudget', 'reportTimeBudget'] as const) {
      const value = merged[key];
      if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw new RangeError(`options.${key} must be a positive number of seconds`);
    }
    const logger: Logger | undefined = createLogger(options.logger as LoggerOption | undefined);
    const policies = new JournalPolicies(options.journals ?? {});
    this.#tokens = options.tokens === undefined ? undefined : new AccessTokens(options.tokens);
    this.#origins = stringSet(options.origins, 'origins');
    if (options.store !== undefined && !isStore(options.store)) {
      throw new TypeError(
        'options.store must implement JournalStore (append, read, readBefore, readFromSeq, head, listJournals, check, watch, putSchema, getSchema, listSchemas, close)',
      );
    }
    this.#options = merged;
    this.#admission = new Admission({
      maxConnections: merged.maxConnections,
      maxConnectionsPerAddress: merged.maxConnectionsPerAddress,
      maxConnectionsPerToken: merged.maxConnectionsPerToken,
      tokens: this.#tokens,
      origins: this.#origins,
    });
    this.#hello = JSON.stringify({
      type: 'hello',
      version: 1,
      limits: { maxFrameSize: merged.maxFrameSize, maxEventsPerAppend: merged.maxEventsPerAppend, maxEventSize: merged.maxEventSize },
    });
    this.#budget = new ServerBudget(merged.maxServerBuffer, () => this.#observer.shed());
    this.#ownsStore = options.store === undefined;
    this.#store = options.store ?? new LmdbStore({ path: merged.dataDir });
    this.#pool = new ValidatorPool({
      threads: merged.schemaValidationThreads,
      validateMs: Math.ceil(merged.schemaValidationTimeout * 1000),
      compileMs: Math.ceil(merged.schemaCompileTimeout * 1000),
      heapMb: VALIDATION_HEAP_MB,
    });
    const registry = new SchemaRegistry(this.#store, this.#pool, merged.maxSchemaSize);
    this.#schemas = { registry, check: new AppendCheck(registry, this.#pool, policies) };
    this.#policies = policies;
    this.#archives = new Archives(join(merged.dataDir, 'archives'), { scheduler: this.#slicer });
    this.#retention = new RetentionWorker({
      store: this.#store,
      policies,
      interval: merged.retentionInterval * 1000,
      remove: (journal, beforeSeq, policy) => this.#remove(journal, beforeSeq, policy),
      failed: (error) => this.#observer.log?.warn({ err: error }, 'enforcing retention failed; the next round tries again'),
      scheduler: this.#slicer,
    });
    const metrics = new ServerMetrics({
      connections: () => this.#sessions.size,
      subscriptions: () => {
        let count = 0;
        for (const session of this.#sessions) count += session.subscriptionCount;
        return count;
      },
      httpRequests: () => this.#http?.inFlight() ?? 0,
    });
    this.#observer = new ServerObserver(metrics, logger);
  }

  /** `ws://host:port` once listening. */
  get url(): string {
    if (this.#url === undefined) throw new JournalError(ErrorCode.CONNECTION_CLOSED, 'the server is not listening');
    return this.#url;
  }

  /** The store the server keeps its journals in. */
  get store(): JournalStore {
    return this.#store;
  }

  /** The Prometheus registry of this server's metrics (also served at `GET /metrics`). */
  get metrics(): ServerMetrics['registry'] {
    return this.#observer.metrics.registry;
  }

  /** Registers the `schemas` option's schemas, then starts listening; resolves with the port (useful with `port: 0`). */
  async listen(): Promise<{ port: number }> {
    if (this.#wss || this.#listening) throw new JournalError('ALREADY_LISTENING', 'the server is already listening');
    if (this.#closing) throw new JournalError(ErrorCode.SHUTTING_DOWN, 'the server is closed');
    this.#listening = true;
    try {
      await this.#registerInitialSchemas();
    } catch (error) {
      this.#listening = false;
      throw error;
    }
    if (this.#closing) throw new JournalError(ErrorCode.SHUTTING_DOWN, 'the server is closed');
    return this.#listen();
  }

  async #listen(): Promise<{ port: number }> {
    const { host, port, maxFrameSize } = this.#options;
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: maxFrameSize,
      perMessageDeflate: false,
      verifyClient: (info, done) => this.#verify(info.req, done),
    });
    this.#wss = wss;
    wss.on('connection', (ws, request) => this.#accept(ws, request));
    const http = createHttpApp({
      context: this.#httpContext(),
      logger: this.#observer.log,
      maxRequests: this.#options.maxHttpRequests,
      admit: (request) => this.#admission.admit(request),
    });
    this.#http = http;
    http.app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.#closing) {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
    });
    await http.app.listen({ host, port });
    const address = http.app.server.address();
    const actual = typeof address === 'object' && address !== null ? address.port : port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    this.#url = `ws://${shownHost}:${actual}`;
    this.#unobserveStore = this.#store.observe?.({ fsync: (seconds) => this.#observer.fsync(seconds) });
    this.#startHeartbeat();
    if (this.#policies.hasRetention) this.#retention.start();
    this.#observer.listening({
      url: this.#url,
      store: this.#store.constructor.name,
      auth: this.#tokens !== undefined,
      limits: {
        maxFrameSize,
        maxEventsPerAppend: this.#options.maxEventsPerAppend,
        maxEventSize: this.#options.maxEventSize,
        maxConnections: this.#options.maxConnections,
        maxConnectionsPerAddress: this.#options.maxConnectionsPerAddress,
        maxServerBuffer: this.#options.maxServerBuffer,
        maxQueryLimit: this.#options.maxQueryLimit,
      },
    });
    return { port: actual };
  }

  /**
   * Appends one event, as a producer would: checked against the journal's policy and, when it
   * names one, its schema; resolves once it is durable.
   */
  async append(
    journal: string,
    name: string,
    context: object = {},
    options: { schema?: SchemaRef } = {},
  ): Promise<{ seq: number; timestamp: number }> {
    if (typeof journal !== 'string' || !JOURNAL_NAME.test(journal)) {
      throw new JournalError(ErrorCode.INVALID_JOURNAL, `invalid journal name ${JSON.stringify(journal)}`);
    }
    if (typeof name !== 'string' || name === '' || !isWellFormed(name)) {
      throw new JournalError(ErrorCode.INVALID_EVENT, 'event name must be a non-empty string with no lone UTF-16 surrogate');
    }
    if (!isPlainObject(context)) throw new JournalError(ErrorCode.INVALID_EVENT, 'event context must be a plain object');
    const { schema } = options;
    if (schema !== undefined && !isSchemaRef(schema)) {
      throw new JournalError(ErrorCode.INVALID_EVENT, 'options.schema must be { id, version }: a URI or URN and a positive integer');
    }
    const contextJson = JSON.stringify(context);
    const nonFinite = nonFiniteNumberPath(context, contextJson);
    if (nonFinite !== undefined) throw new JournalError(ErrorCode.INVALID_EVENT, `${nonFinite}: a number JSON cannot hold (not finite)`);
    const event = { name, context: JSON.parse(contextJson) as Record<string, unknown>, contextJson, schema };
    const verdict = await this.#schemas.check.check(journal, [event]);
    if (verdict !== undefined) throw verdict;
    const [stored] = await this.#store.append(journal, [event]);
    return { seq: stored!.seq, timestamp: stored!.timestamp };
  }

  /**
   * Registers a JSON Schema for every server on the store, durably, and resolves with its
   * `$id` and `version`. The same body again is a no-op (`created: false`); another body under
   * the same `$id` and `version` rejects with `SCHEMA_CONFLICT`; a schema that breaks the
   * metaschema, or that the validator refuses or cannot compile in time, with `INVALID_SCHEMA`.
   */
  registerSchema(schema: object): Promise<Registration> {
    return this.#schemas.registry.register(schema);
  }

  /**
   * Registered schemas in `$id`, then `version`, order, from after `options.after`: a page of
   * at most `options.limit` (default 100, at most 1000), with `next` when there are more.
   */
  listSchemas(options: { after?: SchemaRef; limit?: number } = {}): Promise<SchemaPage> {
    const { after, limit = 100 } = options;
    if (after !== undefined && !isSchemaRef(after)) return Promise.reject(new TypeError('options.after must be { id, version }'));
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return Promise.reject(new RangeError('options.limit must be an integer from 1 to 1000'));
    return this.#schemas.registry.list(after, limit);
  }

  /**
   * Removes a journal's oldest events now: those with a timestamp before `options.before`
   * (seconds) or a seq before `options.beforeSeq` (that seq is kept), oldest first, in bounded
   * steps while appends go on. The newest event is always kept. Consumers whose start lies
   * before what is kept are told (`'truncated'`). Resolves with `{ trimmed: N }`.
   */
  async trim(journal: string, options: TrimOptions): Promise<TrimResult> {
    checkJournalName(journal);
    if (this.#closing) throw new JournalError(ErrorCode.SHUTTING_DOWN, 'the server is closed');
    return this.#store.trim(journal, options);
  }

  /**
   * Writes an online, consistent copy of the store into `dir` (created; it must not exist or
   * be empty) while appends go on; a server on it (`new LmdbStore({ path: dir })`) serves
   * every event acknowledged before the call. One at a time (`BACKUP_REFUSED`); stores that
   * cannot copy themselves refuse with `BACKUP_UNSUPPORTED`. Resolves with the status.
   */
  backup(dir: string): Promise<BackupStatus> {
    if (this.#closing) return Promise.reject(new JournalError(ErrorCode.SHUTTING_DOWN, 'the server is closed'));
    return this.#backups.run(this.#store, dir);
  }

  /** The last backup's state: running, done (with its size) or failed (with its error). */
  backupStatus(): BackupStatus {
    return this.#backups.status;
  }

  /** Runs one round of retention over every journal now (as the background does every `retentionInterval`). */
  enforceRetention(): Promise<void> {
    return this.#retention.runOnce();
  }

  /** What retention does with the events below `beforeSeq`: archives them when the policy says so, else trims them. */
  async #remove(journal: string, beforeSeq: number, policy: RetentionPolicy): Promise<number> {
    if (policy.archive === true) return (await this.#archives.archive(this.#store, journal, { beforeSeq })).archived;
    return (await this.#store.trim(journal, { beforeSeq })).trimmed;
  }

  /**
   * Moves a journal's events before `options.before` (seconds) or `options.beforeSeq` (kept)
   * out of the store into gzip'd archive files under `<dataDir>/archives/<journal>/`, written
   * atomically, then trims them from the store (the newest event stays). Archived events stay
   * readable by `GET …/events?archived=true` and `wsjournal export --archived`. Resolves with
   * `{ archived: N }`.
   */
  async archive(journal: string, options: TrimOptions): Promise<{ archived: number }> {
    checkJournalName(journal);
    checkTrimOptions(options);
    if (this.#closing) throw new JournalError(ErrorCode.SHUTTING_DOWN, 'the server is closed');
    return this.#archives.archive(this.#store, journal, options);
  }

  /** Deletes the archive files whose newest event is more than `options.olderThan` seconds old; resolves with `{ purged: N }` (files). */
  async purgeArchives(options: { olderThan: number }): Promise<{ purged: number }> {
    const olderThan = options?.olderThan;
    if (typeof olderThan !== 'number' || !(olderThan >= 0) || !Number.isFinite(olderThan)) {
      throw new JournalError(ErrorCode.BAD_REQUEST, 'olderThan must be a number of seconds >= 0');
    }
    return this.#archives.purge(olderThan);
  }

  /** The archive files, of `journal` or of every journal. */
  listArchives(journal?: string): Promise<ArchiveFile[]> {
    if (journal !== undefined) checkJournalName(journal);
    return this.#archives.list(journal);
  }

  /** Closes every connection (1001), stops listening, and closes the store if the server made it. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#slicer.close();
    this.#liveFilters.close();
    this.#archives.close();
    await this.#retention.close();
    this.#budget.close();
    const http = this.#http;
    if (http) {
      this.#observer.closing(this.#sessions.size);
      for (const session of this.#sessions) session.close(1001, 'server shutting down');
      // Peers that do not finish the closing handshake promptly are cut off.
      await this.#sessionsClosed(CLOSE_GRACE_MS);
      for (const session of this.#sessions) session.terminate();
      await this.#sessionsClosed(CLOSE_GRACE_MS);
      this.#wss?.close();
      await http.app.close();
    }
    await this.#pool.close();
    this.#unobserveStore?.();
    if (this.#ownsStore) await this.#store.close();
    if (http) this.#observer.closed();
  }

  /** The `schemas` option's schemas, registered in order; the first that fails names itself in the error. */
  async #registerInitialSchemas(): Promise<void> {
    const option = this.#initialSchemas;
    if (option === undefined) return;
    const sources: [where: string, schema: unknown][] = [];
    if (typeof option === 'string') {
      let files: string[];
      try {
        files = (await readdir(option)).filter((file) => file.endsWith('.json')).sort();
      } catch (error) {
        throw new TypeError(`options.schemas: cannot read the directory ${option}: ${(error as Error).message}`, { cause: error });
      }
      for (const file of files) {
        const path = join(option, file);
        let schema: unknown;
        try {
          schema = JSON.parse(await readFile(path, 'utf8'));
        } catch (error) {
          throw new JournalError(ErrorCode.INVALID_SCHEMA, `${path}: not a JSON file: ${(error as Error).message}`, { cause: error });
        }
        sources.push([path, schema]);
      }
    } else {
      option.forEach((schema, index) => sources.push([`options.schemas[${index}]`, schema]));
    }
    for (const [where, schema] of sources) {
      try {
        await this.#schemas.registry.register(schema);
      } catch (error) {
        if (!(error instanceof JournalError)) throw error;
        throw new JournalError(error.code, `${where}: ${error.message}`, { cause: error });
      }
    }
  }

  /** Resolves once every session has closed, or after `ms`. */
  #sessionsClosed(ms: number): Promise<void> {
    if (this.#sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#onNoSessions = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#onNoSessions = done;
    });
  }

  /** What the HTTP routes are given. */
  #httpContext(): HttpContext {
    const options = this.#options;
    return {
      store: this.#store,
      admin: {
        trim: (journal, trimOptions) => this.trim(journal, trimOptions),
        backup: (dir) => this.backup(dir),
        backupStatus: () => this.backupStatus(),
        archive: (journal, archiveOptions) => this.archive(journal, archiveOptions),
        purgeArchives: (purgeOptions) => this.purgeArchives(purgeOptions),
        listArchivePage: (page) => this.#archives.listPage(page),
        readArchived: (journal, range, budget) => this.#archives.read(journal, range, budget),
      },
      limits: {
        maxEventsPerAppend: options.maxEventsPerAppend,
        maxEventSize: options.maxEventSize,
        maxBodySize: options.maxFrameSize,
        maxQueryLimit: options.maxQueryLimit,
        maxPageUnits: options.maxSendBuffer,
        queryTimeMs: options.queryTimeBudget * 1000,
        readSize: QUERY_READ_SIZE,
        reportTimeMs: options.reportTimeBudget * 1000,
        maxReportGroups: options.maxReportGroups,
      },
      scheduler: this.#slicer,
      output: this.#budget,
      observer: this.#observer,
      version: VERSION,
      ui: options.ui,
      closing: () => this.#closing !== undefined,
      append: async (journal, events, key) => {
        const verdict = await this.#schemas.check.check(journal, events.map((event) => ({ schema: event.schema, contextJson: contextJson(event) })));
        if (verdict !== undefined) throw verdict;
        return this.#store.append(journal, events, { key });
      },
    };
  }

  #verify(req: IncomingMessage, done: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void): void {
    const refusal = this.#admission.admit(req);
    if (!isRefusal(refusal)) {
      // The slot is held until the connection's socket closes, whether or not the upgrade completes.
      req.socket.once('close', refusal.release);
      this.#handshakes.set(req, refusal.principal);
      return done(true);
    }
    this.#observer.handshakeRefused(req.socket.remoteAddress, refusal.status, refusal.code, refusal.message);
    // The body is the HTTP API's error body; the status is what clients act on.
    const body = JSON.stringify({ error: { code: refusal.code, message: refusal.message } });
    done(false, refusal.status, body, { 'Content-Type': 'application/json' });
  }

  #accept(ws: WebSocket, request: IncomingMessage): void {
    if (this.#closing) {
      ws.close(1001, 'server shutting down');
      return;
    }
    const socket = request.socket;
    const principal = this.#handshakes.get(request) ?? this.#admitted(request);
    this.#handshakes.delete(request);
    const session = new Session(ws, this.#store, {
      pageSize: this.#options.pageSize,
      sendHighWaterMark: this.#options.sendHighWaterMark,
      maxSendBuffer: this.#options.maxSendBuffer,
      liveHoldSize: this.#options.liveHoldSize,
      liveHoldBytes: this.#options.liveHoldBytes,
      maxEventsPerAppend: this.#options.maxEventsPerAppend,
      maxEventSize: this.#options.maxEventSize,
      maxPendingAppends: this.#options.maxPendingAppends,
      maxPendingAppendBytes: this.#options.maxPendingAppendBytes,
      maxSubscriptions: this.#options.maxSubscriptionsPerConnection,
    } satisfies SessionLimits, this.#schemas, socket, this.#observer.connection(socket.remoteAddress), { server: this.#budget, slicer: this.#slicer, liveFilters: this.#liveFilters }, principal);
    // The first frame: the protocol version and the limits an append must keep within.
    session.send(this.#hello);
    this.#sessions.add(session);
    ws.once('close', () => {
      this.#sessions.delete(session);
      if (this.#sessions.size === 0) this.#onNoSessions?.();
    });
  }

  /** The principal of a connection that reached `#accept` without `#verify` (it never does): as its token says, else none. */
  #admitted(request: IncomingMessage): Principal {
    if (this.#tokens === undefined) return Principal.ALL;
    return this.#tokens.resolve(bearerToken(request)) ?? new Principal([]);
  }

  #startHeartbeat(): void {
    const seconds = this.#options.heartbeatInterval;
    if (seconds === 0) return;
    this.#heartbeat = setInterval(() => {
      for (const session of this.#sessions) {
        // A client is heard by its pongs, pings and frames, or by reading what it was sent; one
        // that the server stopped reading while its appends are at the store cannot be heard.
        if (!session.heardFrom() && !session.waitingForStore) session.terminate();
        else session.ping();
      }
    }, seconds * 1000);
    this.#heartbeat.unref();
  }
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function stringSet(value: unknown, option: string): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0 || value.some((item) => typeof item !== 'string' || item === '')) {
    throw new TypeError(`options.${option} must be a non-empty array of non-empty strings`);
  }
  return new Set(value as string[]);
}

function isStore(value: unknown): value is JournalStore {
  const store = value as Partial<Record<keyof JournalStore, unknown>> | null;
  return (
    typeof store === 'object' &&
    store !== null &&
    ['append', 'read', 'readBefore', 'readFromSeq', 'head', 'listJournals', 'check', 'watch', 'putSchema', 'getSchema', 'listSchemas', 'close'].every(
      (key) => typeof store[key as keyof JournalStore] === 'function',
    )
  );
}

function checkJournalName(journal: unknown): asserts journal is string {
  if (typeof journal !== 'string' || !JOURNAL_NAME.test(journal)) {
    throw new JournalError(ErrorCode.INVALID_JOURNAL, `invalid journal name ${JSON.stringify(journal)}`);
  }
}
