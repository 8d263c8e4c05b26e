/** The journal server: a WebSocket endpoint in front of a {@link JournalStore}. */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode, JournalError } from '../src/errors.js';
import { JOURNAL_NAME } from '../src/protocol.js';
import { isPlainObject } from '../src/validate.js';
import { LmdbStore } from './lmdb-store.js';
import { Session, type SessionLimits } from './session.js';
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
}

type Settings = Required<Omit<JournalServerOptions, 'store' | 'tokens' | 'origins'>>;

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
};

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
] as const;

const KNOWN_OPTIONS = new Set(['store', 'tokens', 'origins', ...Object.keys(DEFAULTS)]);

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
  #wss: WebSocketServer | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #url: string | undefined;
  #closing: Promise<void> | undefined;

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
    this.#tokens = stringSet(options.tokens, 'tokens');
    this.#origins = stringSet(options.origins, 'origins');
    if (options.store !== undefined && !isStore(options.store)) {
      throw new TypeError('options.store must implement JournalStore (append, read, head, watch, close)');
    }
    this.#options = merged;
    this.#ownsStore = options.store === undefined;
    this.#store = options.store ?? new LmdbStore({ path: merged.dataDir });
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

  /** Starts listening; resolves with the port (useful with `port: 0`). */
  listen(): Promise<{ port: number }> {
    if (this.#wss) return Promise.reject(new JournalError('ALREADY_LISTENING', 'the server is already listening'));
    if (this.#closing) return Promise.reject(new JournalError(ErrorCode.SHUTTING_DOWN, 'the server is closed'));
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

  /** Appends one event, as a producer would; resolves once it is durable. */
  async append(journal: string, name: string, context: object = {}): Promise<{ seq: number; timestamp: number }> {
    if (typeof journal !== 'string' || !JOURNAL_NAME.test(journal)) {
      throw new JournalError(ErrorCode.INVALID_JOURNAL, `invalid journal name ${JSON.stringify(journal)}`);
    }
    if (typeof name !== 'string' || name === '') {
      throw new JournalError(ErrorCode.INVALID_EVENT, 'event name must be a non-empty string');
    }
    if (!isPlainObject(context)) throw new JournalError(ErrorCode.INVALID_EVENT, 'event context must be a plain object');
    const [event] = await this.#store.append(journal, [{ name, context: JSON.parse(JSON.stringify(context)) }]);
    return { seq: event!.seq, timestamp: event!.timestamp };
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
    if (this.#ownsStore) await this.#store.close();
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
    } satisfies SessionLimits, socket);
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
    ['append', 'read', 'head', 'watch', 'close'].every((key) => typeof store[key as keyof JournalStore] === 'function')
  );
}
