/** The journal server: a WebSocket endpoint in front of a {@link JournalStore}. */
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode, JournalError } from '../src/errors.js';
import { isSchemaRef, JOURNAL_NAME, type SchemaRef } from '../src/protocol.js';
import { isPlainObject } from '../src/validate.js';
import { JournalPolicies, type JournalPolicy } from './journal-policies.js';
import { LmdbStore } from './lmdb-store.js';
import { AppendCheck } from './schemas/append-check.js';
import { SchemaRegistry, type Registration, type SchemaPage } from './schemas/registry.js';
import { ValidatorPool } from './schemas/validator-pool.js';
import { Session, type SessionLimits, type SessionSchemas } from './session.js';
import type { JournalStore } from './store.js';

export interface JournalServerOptions {
  /** TCP port; 0 picks a free one. @default 7707 */
  port?: number;
  /** Interface to listen on. @default "127.0.0.1" */
  host?: string;
  /** Where journals are kept. The server closes a store it made itself, not one it was given. @default new LmdbStore({ path: dataDir }) */
  store?: JournalStore;
  /** Directory of the default embedded store, when no `store` is given. @default "./data" */
  dataDir?: string;
  /** If set, every connection must present one of these as a bearer token (or `?token=`); others get 401. */
  tokens?: readonly string[];
  /** If set, a connection whose `Origin` header is not listed gets 403. Clients that send no Origin are not browsers and pass. */
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
  /** Most connections at once; more are refused with 503. @default 10000 */
  maxConnections?: number;
  /** Events per history page. @default 100 */
  pageSize?: number;
  /** History replay pauses while a connection has more than this many bytes unsent. @default 1048576 */
  sendHighWaterMark?: number;
  /** A live subscription whose connection has more than this many bytes unsent is ended with SLOW_CONSUMER. @default 4194304 */
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
}

type Settings = Required<Omit<JournalServerOptions, 'store' | 'tokens' | 'origins' | 'schemas' | 'journals'>>;

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
  pageSize: 100,
  sendHighWaterMark: 1024 * 1024,
  maxSendBuffer: 4 * 1024 * 1024,
  liveHoldSize: 10_000,
  liveHoldBytes: 4 * 1024 * 1024,
  heartbeatInterval: 30,
  maxSchemaSize: 64 * 1024,
  schemaValidationThreads: 1,
  schemaValidationTimeout: 1,
  schemaCompileTimeout: 5,
};
/** Each validation worker's heap (old generation); one that needs more is replaced and its batch refused. */
const VALIDATION_HEAP_MB = 128;

const INTEGER_OPTIONS = [
  'maxFrameSize',
  'maxEventsPerAppend',
  'maxEventSize',
  'maxPendingAppends',
  'maxPendingAppendBytes',
  'maxSubscriptionsPerConnection',
  'maxConnections',
  'pageSize',
  'sendHighWaterMark',
  'maxSendBuffer',
  'liveHoldSize',
  'liveHoldBytes',
  'maxSchemaSize',
  'schemaValidationThreads',
] as const;

const KNOWN_OPTIONS = new Set(['store', 'tokens', 'origins', 'schemas', 'journals', ...Object.keys(DEFAULTS)]);

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
  readonly #tokens: ReadonlySet<string> | undefined;
  readonly #origins: ReadonlySet<string> | undefined;
  readonly #ownsStore: boolean;
  readonly #store: JournalStore;
  readonly #sessions = new Set<Session>();
  readonly #pool: ValidatorPool;
  readonly #schemas: SessionSchemas;
  readonly #initialSchemas: readonly Record<string, unknown>[] | string | undefined;
  #wss: WebSocketServer | undefined;
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
    const merged = { ...DEFAULTS, ...defined } as Settings;
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
    for (const key of ['schemaValidationTimeout', 'schemaCompileTimeout'] as const) {
      const value = merged[key];
      if (typeof value !== 'number') throw new TypeError(`options.${key} must be a number`);
      if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`options.${key} must be a positive number of seconds`);
    }
    const { schemas } = options;
    if (schemas !== undefined && typeof schemas !== 'string' && !(Array.isArray(schemas) && schemas.every(isPlainObject))) {
      throw new TypeError('options.schemas must be an array of schema objects or the path of a directory of *.json files');
    }
    this.#initialSchemas = schemas;
    const policies = new JournalPolicies(options.journals ?? {});
    this.#tokens = stringSet(options.tokens, 'tokens');
    this.#origins = stringSet(options.origins, 'origins');
    if (options.store !== undefined && !isStore(options.store)) {
      throw new TypeError('options.store must implement JournalStore (append, read, head, watch, putSchema, getSchema, listSchemas, close)');
    }
    this.#options = merged;
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

  #listen(): Promise<{ port: number }> {
    const { host, port, maxFrameSize } = this.#options;
    return new Promise((resolve, reject) => {
      const wss = new WebSocketServer({
        host,
        port,
        maxPayload: maxFrameSize,
        perMessageDeflate: false,
        verifyClient: (info, done) => this.#verify(info.req, info.origin, done),
      });
      this.#wss = wss;
      wss.once('error', reject);
      wss.once('listening', () => {
        wss.off('error', reject);
        wss.on('error', () => {});
        const address = wss.address();
        const actual = typeof address === 'object' && address !== null ? address.port : port;
        const shownHost = host.includes(':') ? `[${host}]` : host;
        this.#url = `ws://${shownHost}:${actual}`;
        this.#startHeartbeat();
        resolve({ port: actual });
      });
      wss.on('connection', (ws, request) => this.#accept(ws, request.socket));
    });
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
    if (typeof name !== 'string' || name === '') {
      throw new JournalError(ErrorCode.INVALID_EVENT, 'event name must be a non-empty string');
    }
    if (!isPlainObject(context)) throw new JournalError(ErrorCode.INVALID_EVENT, 'event context must be a plain object');
    const { schema } = options;
    if (schema !== undefined && !isSchemaRef(schema)) {
      throw new JournalError(ErrorCode.INVALID_EVENT, 'options.schema must be { id, version }: a URI or URN and a positive integer');
    }
    const contextJson = JSON.stringify(context);
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

  /** Closes every connection (1001), stops listening, and closes the store if the server made it. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const wss = this.#wss;
    if (wss) {
      for (const session of this.#sessions) session.close(1001, 'server shutting down');
      const closed = new Promise<void>((resolve) => wss.close(() => resolve()));
      // Peers that do not finish the closing handshake promptly are cut off.
      const cutoff = setTimeout(() => {
        for (const session of this.#sessions) session.terminate();
      }, 1000);
      await closed;
      clearTimeout(cutoff);
    }
    await this.#pool.close();
    if (this.#ownsStore) await this.#store.close();
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

  #verify(req: IncomingMessage, origin: string | undefined, done: (ok: boolean, code?: number, message?: string) => void): void {
    if (this.#sessions.size >= this.#options.maxConnections) return done(false, 503, 'Too many connections');
    if (this.#origins && origin !== undefined && !this.#origins.has(origin)) return done(false, 403, 'Origin not allowed');
    if (this.#tokens) {
      const token = bearerToken(req);
      if (token === undefined || !this.#tokens.has(token)) return done(false, 401, 'Unauthorized');
    }
    done(true);
  }

  #accept(ws: WebSocket, socket: Socket): void {
    if (this.#closing) {
      ws.close(1001, 'server shutting down');
      return;
    }
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
    } satisfies SessionLimits, this.#schemas, socket);
    this.#sessions.add(session);
    ws.once('close', () => this.#sessions.delete(session));
  }

  #startHeartbeat(): void {
    const seconds = this.#options.heartbeatInterval;
    if (seconds === 0) return;
    this.#heartbeat = setInterval(() => {
      for (const session of this.#sessions) {
        // A connection the server itself stopped reading (appends at a limit) cannot be heard.
        if (!session.alive && !session.readPaused) session.terminate();
        else session.ping();
      }
    }, seconds * 1000);
    this.#heartbeat.unref();
  }
}

function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(header);
    return match?.[1]?.trim();
  }
  const query = new URL(req.url ?? '/', 'ws://localhost').searchParams.get('token');
  return query ?? undefined;
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
    ['append', 'read', 'head', 'watch', 'putSchema', 'getSchema', 'listSchemas', 'close'].every(
      (key) => typeof store[key as keyof JournalStore] === 'function',
    )
  );
}
