/** Appends events to a journal and resolves once the server has stored them durably. */
import { EventEmitter } from 'eventemitter3';
import { AppendCoalescer, type CoalescerLimits } from './append-coalescer.js';
import { ChurnMap } from './churn-map.js';
import { JournalConnection, type Channel } from './connection.js';
import type { z } from 'zod';
import type { EventDefinition } from './define-event.js';
import { ConnectionError, ErrorCode, JournalError } from './errors.js';
import { isSchemaRef, type RequestFrame, type SchemaRef, type ServerLimits } from './protocol.js';
import { Run } from './routing/run.js';
import { SchemaRequests, type SchemaList, type SchemaRegistration } from './schema-requests.js';
import { utf8Length } from './utf8.js';
import { checkJournalName, checkOptions, checkOptionalString, checkPositive, checkUrls, isPlainObject } from './validate.js';

export interface JournalProducerOptions {
  /** Bearer token for the server (only with a URL). */
  token?: string;
  /** Fields merged into every event's context (the event's own fields win). */
  context?: object;
  /** Reconnect and resend unacknowledged appends when the connection drops (only with a URL). @default true */
  reconnect?: boolean;
  /**
   * Seconds an append may wait for its acknowledgement, from when it leaves for the
   * connection (Kafka's `delivery.timeout.ms`): past it, the append rejects with
   * `APPEND_TIMEOUT` and the last connection error as `cause`, whether the server was
   * unreachable or silent. It may or may not have been stored. @default 30
   */
  appendTimeout?: number;
  /**
   * Seconds `close()` waits for appends in flight to be acknowledged; then
   * it rejects those left with `CLOSED` (they may or may not be stored) and
   * closes anyway. @default 30
   */
  closeTimeout?: number;
  /**
   * Send the appends made in one turn of the event loop (or within `linger`) in
   * one frame, as one batch the server commits at once, each append still
   * resolving with its own results; `false` sends each append in a frame of its
   * own at once. An `appendMany` with a `key` or `preserve` always has a frame
   * of its own. @default true
   */
  coalesce?: boolean;
  /**
   * Seconds an append waits for others to share its frame (Kafka's `linger.ms`);
   * 0 waits for nothing but the end of the current turn. @default 0
   */
  linger?: number;
}

/** Options of one {@link JournalProducer.appendMany} call. */
export interface AppendManyOptions {
  /**
   * The batch's key, 1 to 128 characters. The server stores a batch once per key (it
   * remembers a journal's last 10,000 keys), so a batch resent with its key, even by another
   * process, is acknowledged again and not stored twice. @default a key unique to this producer
   */
  key?: string;
  /**
   * Store each event at the `seq` and `timestamp` it carries instead of new ones: how a
   * journal moves between stores (`wsjournal import --preserve`). Seqs and timestamps must
   * increase strictly and the first must be above the journal's head, or the batch is
   * refused with `OUT_OF_ORDER`. @default false
   */
  preserve?: boolean;
}

/** Where an append landed. */
export interface AppendResult {
  seq: number;
  timestamp: number;
}

/** Options of one `append`. */
export interface AppendOptions {
  /** The registered schema (`$id` and `version`) the server checks the context against before storing the event. */
  schema?: SchemaRef;
}

/** An event as `appendMany` takes it. */
export interface NewEvent {
  name: string;
  context?: object;
  /** The registered schema the server checks the context against. */
  schema?: SchemaRef;
  /** The event's seq, only in an append with `preserve`. */
  seq?: number;
  /** The event's timestamp (seconds), only in an append with `preserve`. */
  timestamp?: number;
}

interface PendingAppend {
  /** This producer's count of appends when it was made: resends go in this order. */
  readonly serial: number;
  /** Events in the batch: the ack must carry as many seqs. */
  readonly count: number;
  /** When it times out (ms on `performance.now()`'s clock). */
  readonly deadline: number;
  /** The append frame after its id, `,"journal":…,"events":[…],"key":…}`, encoded once for every send. */
  readonly body: string;
  readonly resolve: (results: AppendResult[]) => void;
  readonly reject: (error: Error) => void;
  id: number | undefined;
}

/** The connection a producer and the views `bind`/`unbind` made from it share. */
interface SharedConnection {
  readonly connection: JournalConnection;
  /** True when the root producer made the connection from a URL, and so closes it. */
  readonly owned: boolean;
  readonly producers: Set<JournalProducer>;
}

/** The events a producer emits. */
export interface JournalProducerEvents {
  /**
   * The connection failed: an attempt to connect before it was ever open (a retry follows;
   * `cause` says why, e.g. `ECONNREFUSED`), it was given up, or the server sent a bad frame.
   */
  error: [error: Error];
  /** The connection dropped, or an attempt to open it failed; appends not yet acknowledged are resent after the reconnect. */
  disconnect: [error: ConnectionError];
}

const KNOWN_OPTIONS = ['token', 'context', 'reconnect', 'appendTimeout', 'closeTimeout', 'coalesce', 'linger'] as const;

/** Bytes of a coalesced frame kept for its fields other than the events (id, journal, key). */
const FRAME_OVERHEAD = 1024;
/**
 * The bytes of events a coalesced frame gathers at most (Kafka's `batch.size`): once it holds
 * this many, it leaves, and the appends after it gather in the next frame. The server starts on
 * one frame while the next is written, and both sides keep each frame's text under the size
 * from which V8 allocates a string apart (128 KiB), which costs several times more per byte.
 * An `appendMany` batch larger than this still leaves whole, in a frame of its own.
 */
const COALESCED_BYTES = 64 * 1024;
/** A coalesced frame's limits while the server has not told its own: its defaults. */
const DEFAULT_LIMITS: CoalescerLimits = { maxEvents: 1000, maxBytes: COALESCED_BYTES };
/** `{"type":"append","id":` and the longest id: what a frame adds to its body. */
const FRAME_HEAD_BYTES = 22 + 16;

/**
 * @example
 * const producer = new JournalProducer('ws://127.0.0.1:7707', 'jobs');
 * const { seq, timestamp } = await producer.append('submit', { id: 'f3x', userid: 1000 });
 * await producer.close();
 */
export class JournalProducer extends EventEmitter<JournalProducerEvents> implements Channel {
  readonly journal: string;
  #shared: SharedConnection;
  readonly #context: Readonly<Record<string, unknown>>;
  readonly #closeTimeout: number;
  readonly #appendTimeout: number;
  /** One timer for every append's deadline: armed for the oldest, re-armed as it fires (never one per append). */
  #timeoutTimer: ReturnType<typeof setTimeout> | undefined;
  /** Why the connection last failed, for an append that times out; forgotten when it opens. */
  #lastError: ConnectionError | undefined;
  /** The server limits the coalescer's limits were derived from. */
  #limitsSeen: ServerLimits | undefined;
  #coalescerLimits: CoalescerLimits = DEFAULT_LIMITS;
  /** Gathers one turn's appends into one frame; undefined with `coalesce: false`. */
  readonly #coalescer: AppendCoalescer | undefined;
  readonly #linger: number;
  /** Appends not yet settled, by serial. */
  readonly #pending = new ChurnMap<number, PendingAppend>();
  /** Appends sent on the current socket, by request id. */
  readonly #byId = new ChurnMap<number, PendingAppend>();
  #serial = 0;
  /**
   * Batch keys are this producer's random prefix and a count: unique across producers and
   * restarts (a new producer draws a new prefix), and cheaper than a random UUID per batch.
   */
  readonly #keyPrefix = `${globalThis.crypto.randomUUID()}:`;
  #batches = 0;
  /** Set while close() waits: called when the last append in flight settles. */
  #onDrained: (() => void) | undefined;
  #joined = false;
  /** The schema registry's requests, made with the first of them. */
  #schemaRequests: SchemaRequests | undefined;
  /** False for the views made by `bind`/`unbind`. */
  #root = true;
  #closing: Promise<void> | undefined;

  constructor(url: string | readonly string[] | JournalConnection, journal: string, options: JournalProducerOptions = {}) {
    super();
    checkOptions(options, KNOWN_OPTIONS);
    this.journal = checkJournalName(journal);
    if (options.context !== undefined && !isPlainObject(options.context)) {
      throw new TypeError('options.context must be a plain object');
    }
    this.#context = { ...(options.context as Record<string, unknown> | undefined) };
    this.#closeTimeout = checkPositive(options.closeTimeout ?? 30, 'options.closeTimeout');
    this.#appendTimeout = checkPositive(options.appendTimeout ?? 30, 'options.appendTimeout');
    if (options.coalesce !== undefined && typeof options.coalesce !== 'boolean') throw new TypeError('options.coalesce must be a boolean');
    const linger = options.linger ?? 0;
    if (typeof linger !== 'number' || Number.isNaN(linger)) throw new TypeError('options.linger must be a number');
    if (!(linger >= 0) || !Number.isFinite(linger)) throw new RangeError(`options.linger must be a finite number >= 0, got ${linger}`);
    this.#linger = linger;
    this.#coalescer =
      options.coalesce === false
        ? undefined
        : new AppendCoalescer((encoded, count) => this.#enqueue(encoded, count, this.#newKey(), false), () => this.#frameLimits(), linger);
    if (url instanceof JournalConnection) {
      if (options.token !== undefined || options.reconnect !== undefined) {
        throw new TypeError('options.token and options.reconnect apply only with a URL; set them on the JournalConnection');
      }
      this.#shared = { connection: url, owned: false, producers: new Set([this]) };
    } else {
      const token = checkOptionalString(options.token, 'options.token');
      if (options.reconnect !== undefined && typeof options.reconnect !== 'boolean') {
        throw new TypeError('options.reconnect must be a boolean');
      }
      const connection = new JournalConnection(checkUrls(url), {
        ...(token === undefined ? {} : { token }),
        reconnect: options.reconnect ?? true,
      });
      this.#shared = { connection, owned: true, producers: new Set([this]) };
    }
  }

  /**
   * Appends one event; resolves with its `seq` and `timestamp` once it is durable. With
   * `options.schema`, the server checks the context against that registered schema first.
   * Given an {@link EventDefinition} from `defineEvent`, the context is typed and checked by
   * zod before it is sent (`INVALID_EVENT`), and the event names the definition's schema.
   * The appends of one turn share a frame (see `coalesce`), so single appends cost little
   * more than batches.
   */
  append<Name extends string, Shape extends z.ZodObject>(definition: EventDefinition<Name, Shape>, context: z.input<Shape>): Promise<AppendResult>;
  append(name: string, context?: object, options?: AppendOptions): Promise<AppendResult>;
  append(name: string | EventDefinition, context: object = {}, options: AppendOptions = {}): Promise<AppendResult> {
    let event: NewEvent;
    let encoded: string;
    try {
      // Anything but a definition goes to #encode, which refuses a bad name with INVALID_EVENT.
      event = isDefinition(name) ? name.event(context as Record<string, unknown>) : { name: name as string, context, ...(options.schema === undefined ? {} : { schema: options.schema }) };
      if (this.#coalescer === undefined || this.#closing || this.#shared.connection.isClosed) {
        return this.appendMany([event]).then((results) => results[0]!);
      }
      encoded = this.#encode([event], false);
    } catch (error) {
      return Promise.reject(error);
    }
    // The hot path of single appends: resolved with its own result, no array and no await.
    return this.#coalescer.addOne(encoded);
  }

  /** Appends a batch atomically: every event is stored, or none. Each event may name a schema. */
  appendMany(events: readonly NewEvent[], options: AppendManyOptions = {}): Promise<AppendResult[]> {
    if (this.#closing) return Promise.reject(new JournalError(ErrorCode.CLOSED, 'the producer is closed'));
    if (this.#shared.connection.isClosed) {
      return Promise.reject(new ConnectionError('the connection is closed', { code: ErrorCode.CLOSED }));
    }
    const { key, preserve = false } = options;
    let encoded: string;
    try {
      checkAppendOptions(key, preserve);
      encoded = this.#encode(events, preserve);
    } catch (error) {
      return Promise.reject(error);
    }
    // A batch with a key of its own, or preserved seqs, is a frame of its own, after the gathered ones.
    if (this.#coalescer === undefined || key !== undefined || preserve) {
      this.#coalescer?.flush();
      return this.#enqueue(encoded, events.length, key ?? this.#newKey(), preserve);
    }
    return this.#coalescer.add(encoded, events.length);
  }

  /**
   * @internal Appends events already encoded as JSON, `{"name":…,"context":…}` each, as one
   * atomic batch: with `key`, in a frame of its own with that key (which a resend after a crash
   * repeats, so that the server stores the batch once); without, coalesced like `appendMany`.
   * For the JournalLogger, which encodes its events itself.
   */
  appendEncoded(events: readonly string[], key?: string): Promise<AppendResult[]> {
    if (this.#closing) return Promise.reject(new JournalError(ErrorCode.CLOSED, 'the producer is closed'));
    if (this.#shared.connection.isClosed) {
      return Promise.reject(new ConnectionError('the connection is closed', { code: ErrorCode.CLOSED }));
    }
    if (key !== undefined || this.#coalescer === undefined) {
      // After the appends already gathered, so that the frames leave in call order.
      this.#coalescer?.flush();
      return this.#enqueue(events.join(','), events.length, key ?? this.#newKey(), false);
    }
    return this.#coalescer.add(events.join(','), events.length);
  }

  #newKey(): string {
    return `${this.#keyPrefix}${++this.#batches}`;
  }

  /** The coalescer's limits: the server's (its `hello`) when it told them, else its defaults. */
  #frameLimits(): CoalescerLimits {
    const limits = this.#shared.connection.limits;
    if (limits !== this.#limitsSeen) {
      this.#limitsSeen = limits;
      this.#coalescerLimits =
        limits === undefined
          ? DEFAULT_LIMITS
          : {
              maxEvents: limits.maxEventsPerAppend,
              // Room for the frame's other fields (id, journal, key) within the server's frame limit.
              maxBytes: Math.min(COALESCED_BYTES, Math.max(1, limits.maxFrameSize - Math.min(FRAME_OVERHEAD, Math.floor(limits.maxFrameSize / 2)))),
            };
    }
    return this.#coalescerLimits;
  }

  /**
   * Sends `count` encoded events as one batch with `key` (and `preserve`), resent with them after a
   * reconnect. A batch over the limits the server told (events, frame bytes) is refused here, unsent.
   */
  #enqueue(encoded: string, count: number, key: string, preserve: boolean): Promise<AppendResult[]> {
    const body = `,"journal":${JSON.stringify(this.journal)},"events":[${encoded}],"key":${JSON.stringify(key)}${preserve ? ',"preserve":true' : ''}}`;
    const limits = this.#shared.connection.limits;
    if (limits !== undefined) {
      const refusal = frameRefusal(limits, body, count);
      if (refusal !== undefined) return Promise.reject(refusal);
    }
    let pending!: PendingAppend;
    const result = new Promise<AppendResult[]>((resolve, reject) => {
      pending = { serial: ++this.#serial, count, deadline: performance.now() + this.#appendTimeout * 1000, body, resolve, reject, id: undefined };
    });
    this.#pending.set(pending.serial, pending);
    this.#timeoutTimer ??= this.#armTimeout(this.#appendTimeout * 1000);
    if (!this.#joined) {
      this.#joined = true;
      this.#shared.connection.on('error', this.#onConnectionError);
      this.#shared.connection.on('disconnect', this.#onConnectionDisconnect);
      this.#shared.connection.join(this);
    } else {
      this.#send(pending);
    }
    return result;
  }

  readonly #onConnectionError = (error: Error): void => {
    if (error instanceof ConnectionError) this.#lastError = error;
    this.emit('error', error);
  };

  readonly #onConnectionDisconnect = (error: ConnectionError): void => {
    this.#lastError = error;
    this.emit('disconnect', error);
  };

  #armTimeout(ms: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(this.#onTimeout, Math.max(0, ms));
    // Appends in flight keep the process alive through their socket, not through this timer.
    (timer as { unref?: () => void }).unref?.();
    return timer;
  }

  /** Rejects every append past its deadline (the oldest come first), then waits for the next one's. */
  readonly #onTimeout = (): void => {
    this.#timeoutTimer = undefined;
    const now = performance.now();
    for (let pending = this.#pending.first(); pending !== undefined; pending = this.#pending.first()) {
      if (pending.deadline > now) {
        this.#timeoutTimer = this.#armTimeout(pending.deadline - now);
        return;
      }
      this.#pending.delete(pending.serial);
      if (pending.id !== undefined) {
        this.#byId.delete(pending.id);
        this.#shared.connection.release(pending.id);
      }
      const cause = this.#lastError;
      const why = cause === undefined ? 'the server did not answer' : `the connection: ${cause.message}`;
      pending.reject(
        new JournalError(ErrorCode.APPEND_TIMEOUT, `no acknowledgement within ${this.#appendTimeout} s (${why}); it may or may not have been stored`, {
          cause,
        }),
      );
    }
    this.#onDrained?.();
  };

  /**
   * Registers a JSON Schema on the server, durably, for every server on its store. Resolves
   * with its `$id` and `version`, `created: false` when the same body was registered already;
   * rejects with `SCHEMA_CONFLICT` (another body under that `$id` and `version`) or
   * `INVALID_SCHEMA` (the metaschema or the validator refuses it), and with `TIMEOUT` when the
   * server has not answered within `appendTimeout`.
   */
  registerSchema(schema: object): Promise<SchemaRegistration> {
    return this.#schemas().register(schema);
  }

  /**
   * A page of the server's registered schemas, in `$id`, then `version`, order, from after
   * `options.after`; `next` is where the following page starts, `undefined` after the last.
   * Rejects with `TIMEOUT` when the server has not answered within `appendTimeout`.
   */
  listSchemas(options: { after?: SchemaRef; limit?: number } = {}): Promise<SchemaList> {
    const { after, limit } = options;
    if (after !== undefined && !isSchemaRef(after)) return Promise.reject(new TypeError('options.after must be { id, version }'));
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) {
      return Promise.reject(new RangeError('options.limit must be an integer from 1 to 1000'));
    }
    return this.#schemas().list(after, limit);
  }

  #schemas(): SchemaRequests {
    if (this.#closing) {
      const closed = new SchemaRequests(this.#shared.connection, this.#appendTimeout);
      closed.close(new JournalError(ErrorCode.CLOSED, 'the producer is closed'));
      return closed;
    }
    this.#schemaRequests ??= new SchemaRequests(this.#shared.connection, this.#appendTimeout);
    return this.#schemaRequests;
  }

  /** A producer on the same connection whose events also carry `context`. */
  bind(context: object): JournalProducer {
    if (!isPlainObject(context)) throw new TypeError('context must be a plain object');
    return this.#derive({ ...this.#context, ...context });
  }

  /** A producer on the same connection whose events no longer carry `keys` from the bound context. */
  unbind(...keys: string[]): JournalProducer {
    const context = { ...this.#context };
    for (const key of keys) delete context[key];
    return this.#derive(context);
  }

  /**
   * Waits for appends in flight (at most `closeTimeout`), then leaves the connection. Closing the
   * producer made from a URL also closes the views `bind`/`unbind` made from
   * it, and the connection. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Appends still being gathered into a frame go now, and are waited for like the others.
    this.#coalescer?.flush();
    // Appends waiting for a reconnect would wait for as long as the server is away.
    if (this.#shared.connection.isClosed || this.#shared.connection.isReconnecting) {
      this.#rejectAll(new JournalError(ErrorCode.CLOSED, 'the producer closed before the append was acknowledged'));
    }
    if (this.#pending.size > 0) {
      const drained = new Promise<void>((resolve) => (this.#onDrained = resolve));
      const timer = setTimeout(() => {
        const message = `the producer closed after waiting ${this.#closeTimeout} s for the acknowledgement`;
        this.#rejectAll(new JournalError(ErrorCode.CLOSED, message));
      }, this.#closeTimeout * 1000);
      await drained;
      clearTimeout(timer);
      this.#onDrained = undefined;
    }
    this.#schemaRequests?.close(new JournalError(ErrorCode.CLOSED, 'the producer closed before the server answered'));
    if (this.#timeoutTimer !== undefined) clearTimeout(this.#timeoutTimer);
    this.#timeoutTimer = undefined;
    this.#shared.connection.off('error', this.#onConnectionError);
    this.#shared.connection.off('disconnect', this.#onConnectionDisconnect);
    this.#shared.connection.leave(this);
    this.#shared.producers.delete(this);
    if (this.#shared.owned && this.#root) {
      await Promise.all([...this.#shared.producers].map((view) => view.close()));
      await this.#shared.connection.close();
    }
  }

  /** @internal */
  onOpen(): void {
    this.#lastError = undefined;
    for (const pending of this.#pending.values()) this.#send(pending);
  }

  /** @internal The server closed the connection with 1009 after this append's frame: refused, never resent. */
  onFrameRefused(id: number, error: JournalError): void {
    const pending = this.#byId.get(id);
    if (pending === undefined) return;
    this.#byId.delete(id);
    this.#pending.delete(pending.serial);
    pending.reject(error);
    if (this.#pending.size === 0) this.#onDrained?.();
  }

  /** @internal */
  onDisconnect(error: ConnectionError, final: boolean): void {
    this.#byId.clear();
    for (const pending of this.#pending.values()) pending.id = undefined;
    if (final) this.#rejectAll(error);
    // A closing producer does not wait for a reconnect.
    else if (this.#closing) this.#rejectAll(new JournalError(ErrorCode.CLOSED, 'the producer closed before the append was acknowledged', { cause: error }));
  }

  /** @internal */
  onFrame(frame: RequestFrame): void {
    const pending = this.#byId.get(frame.id!);
    if (!pending) return;
    this.#shared.connection.release(frame.id!);
    this.#byId.delete(frame.id!);
    this.#pending.delete(pending.serial);
    if (this.#pending.size === 0) this.#onDrained?.();
    if (frame.type === 'ack') {
      const { seqs, timestamps } = frame;
      if (seqs.length !== pending.count || timestamps.length !== pending.count) {
        const message = `the server acknowledged ${seqs.length} seqs and ${timestamps.length} timestamps for ${pending.count} events sent; the outcome is unknown`;
        pending.reject(new JournalError(ErrorCode.PROTOCOL_ERROR, message));
        return;
      }
      pending.resolve(seqs.map((seq, index) => ({ seq, timestamp: timestamps[index]! })));
    } else if (frame.type === 'error') {
      pending.reject(new JournalError(frame.code, frame.message, { details: frame.details }));
    } else {
      pending.reject(new JournalError(ErrorCode.BAD_FRAME, `unexpected ${frame.type} frame for an append`));
    }
  }

  #send(pending: PendingAppend): void {
    const connection = this.#shared.connection;
    if (!connection.isOpen) return;
    if (pending.id !== undefined) {
      connection.release(pending.id);
      this.#byId.delete(pending.id);
    }
    pending.id = connection.allocate(this);
    this.#byId.set(pending.id, pending);
    // The frame is an AppendFrame (src/protocol.ts), written out by hand to encode each context once.
    connection.sendText(`{"type":"append","id":${pending.id}${pending.body}`, pending.id);
  }

  /** The events as the JSON array's items: what the wire cannot carry is dropped, what JSON cannot encode refused. */
  #encode(events: readonly NewEvent[], preserve: boolean): string {
    if (!Array.isArray(events) || events.length === 0) {
      throw new JournalError(ErrorCode.INVALID_EVENT, 'events must be a non-empty array');
    }
    const bound = Object.keys(this.#context).length > 0;
    const maxEventSize = this.#shared.connection.limits?.maxEventSize;
    let lastSchema: SchemaRef | undefined;
    let lastId: unknown;
    let lastVersion: unknown;
    let lastMember = '';
    return events.map((event, index) => {
      if (!isPlainObject(event)) throw new JournalError(ErrorCode.INVALID_EVENT, `event ${index} must be an object`);
      if (typeof event.name !== 'string' || event.name === '') {
        throw new JournalError(ErrorCode.INVALID_EVENT, `event ${index}: name must be a non-empty string`);
      }
      if (event.context !== undefined && !isPlainObject(event.context)) {
        throw new JournalError(ErrorCode.INVALID_EVENT, `event ${index}: context must be a plain object`);
      }
      let context: string | undefined;
      try {
        context = JSON.stringify(bound ? { ...this.#context, ...event.context } : (event.context ?? {}));
      } catch (cause) {
        throw new JournalError(ErrorCode.INVALID_EVENT, `event ${index}: context cannot be encoded as JSON`, { cause });
      }
      // A toJSON method may turn the context into something other than an object.
      if (context?.charCodeAt(0) !== 0x7b) {
        throw new JournalError(ErrorCode.INVALID_EVENT, `event ${index}: context must encode as a JSON object`);
      }
      // Measured as the server measures it: UTF-8 bytes of the name and of the context's JSON.
      if (maxEventSize !== undefined && 3 * (event.name.length + context.length) > maxEventSize) {
        const size = utf8Length(event.name) + utf8Length(context);
        if (size > maxEventSize) {
          throw new JournalError(ErrorCode.EVENT_TOO_LARGE, `event ${index} is ${size} bytes; the server takes at most ${maxEventSize} per event`);
        }
      }
      const schema: unknown = event.schema;
      let schemaMember = '';
      if (schema !== undefined) {
        // The events of a batch mostly name one schema: the previous event's ref is checked once.
        const ref = schema as SchemaRef;
        if (ref !== lastSchema || ref.id !== lastId || ref.version !== lastVersion) {
          if (!isSchemaRef(ref)) {
            throw new JournalError(ErrorCode.INVALID_EVENT, `event ${index}: schema must be { id, version }: a URI or URN, and a positive integer`);
          }
          lastSchema = ref;
          lastId = ref.id;
          lastVersion = ref.version;
          // An id (SCHEMA_ID) holds nothing JSON escapes: the server's fast path reads this form.
          lastMember = `,"schema":{"id":"${ref.id}","version":${ref.version}}`;
        }
        schemaMember = lastMember;
      }
      if (!preserve) return `{"name":${JSON.stringify(event.name)},"context":${context}${schemaMember}}`;
      const { seq, timestamp } = event;
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1 || typeof timestamp !== 'number' || !(timestamp >= 0 && timestamp < Infinity)) {
        throw new JournalError(ErrorCode.INVALID_EVENT, `event ${index}: an append with preserve needs a positive integer seq and a timestamp >= 0`);
      }
      return `{"name":${JSON.stringify(event.name)},"context":${context}${schemaMember},"seq":${seq},"timestamp":${timestamp}}`;
    }).join(',');
  }

  /** Starts a run (see {@link Run}): appends its `start` event and resolves with the run once it is stored. */
  startRun(metadata?: object): Promise<Run> {
    return Run.start(this, metadata);
  }

  /**
   * Starts a run, calls `fn(run)`, and stops the run with `success` when `fn` resolves, or
   * `fail` (the error's message as `reason`) when it rejects; then settles as `fn` did.
   */
  withRun<T>(metadata: object | undefined, fn: (run: Run) => T | Promise<T>): Promise<T> {
    return Run.with(this, metadata, fn);
  }

  #derive(context: Record<string, unknown>): JournalProducer {
    const producer = new JournalProducer(this.#shared.connection, this.journal, {
      context,
      appendTimeout: this.#appendTimeout,
      closeTimeout: this.#closeTimeout,
      coalesce: this.#coalescer !== undefined,
      linger: this.#linger,
    });
    // The derived producer shares this one's connection, and its ownership of it.
    producer.#shared = this.#shared;
    producer.#root = false;
    this.#shared.producers.add(producer);
    return producer;
  }

  #rejectAll(error: Error): void {
    const pending = this.#pending.values();
    this.#pending.clear();
    this.#byId.clear();
    for (const append of pending) {
      if (append.id !== undefined) this.#shared.connection.release(append.id);
      append.reject(error);
    }
    this.#onDrained?.();
  }
}


/** The refusal of a batch over the server's limits (its events, its frame's bytes), or undefined when it fits. */
function frameRefusal(limits: ServerLimits, body: string, count: number): JournalError | undefined {
  if (count > limits.maxEventsPerAppend) {
    return new JournalError(ErrorCode.TOO_MANY_EVENTS, `${count} events in one append; the server takes at most ${limits.maxEventsPerAppend}`);
  }
  const { maxFrameSize } = limits;
  // UTF-8 takes at most 3 bytes per UTF-16 unit: most frames need no exact count.
  if (3 * (body.length + FRAME_HEAD_BYTES) <= maxFrameSize) return undefined;
  const bytes = utf8Length(body) + FRAME_HEAD_BYTES;
  if (bytes <= maxFrameSize) return undefined;
  return new JournalError(ErrorCode.FRAME_TOO_LARGE, `the append's frame is ${bytes} bytes; the server takes at most ${maxFrameSize}`);
}

/** True for what `defineEvent` returns. */
function isDefinition(value: unknown): value is EventDefinition {
  return typeof value === 'object' && value !== null && typeof (value as EventDefinition).event === 'function' && 'jsonSchema' in value;
}

function checkAppendOptions(key: unknown, preserve: unknown): void {
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 128)) {
    throw new RangeError('options.key must be a string of 1 to 128 characters');
  }
  if (typeof preserve !== 'boolean') throw new TypeError('options.preserve must be a boolean');
}
