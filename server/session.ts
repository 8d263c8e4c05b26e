/** One client connection: decodes and validates its frames, runs its subscriptions and appends. */
import type { Socket } from 'node:net';
import type { RawData, WebSocket } from 'ws';
import type { z } from 'zod';
import { ErrorCode, JournalError, type ErrorDetail } from '../src/errors.js';
import {
  asAppendFrame,
  CLIENT_FRAME_TYPES,
  ClientFrame,
  type AppendFrame,
  type ListSchemasFrame,
  type RegisterFrame,
  type SubscribeFrame,
} from '../src/protocol.js';
import { decodeAppend, type DecodedAppend } from './append-decoder.js';
import type { Principal } from './auth/principal.js';
import { forbiddenMessage, type Scope } from './auth/scope.js';
import { formatMicros, toMicros } from './encode.js';
import { boundedDetails, boundedMessage } from './error-bounds.js';
import type { LivePart } from './live-frame.js';
import { nonFiniteNumberPath } from './finite-numbers.js';
import { OutputBudget } from './budget/output-budget.js';
import type { ServerBudget } from './budget/server-budget.js';
import type { SliceRunner } from './budget/scan-slicer.js';
import type { LiveFilterClock } from './budget/live-filter-clock.js';
import { isPlainObject } from '../src/validate.js';
import type { AppendCheck, CheckedEvent, Verdict } from './schemas/append-check.js';
import type { SchemaRegistry } from './schemas/registry.js';
import type { ConnectionObserver } from './observe/observer.js';
import { eventFilter, type EventFilter } from './query/event-filter.js';
import { compileSelector } from './query/selector.js';
import type { JournalStore, NewEvent, StoredEvent } from './store.js';
import { Subscription, type SubscriptionLimits, type SubscriptionSink } from './subscription.js';

/** The schema registry and the checks every append passes (server/schemas/). */
export interface SessionSchemas {
  readonly registry: SchemaRegistry;
  readonly check: AppendCheck;
}

/** The server-wide budgets a session draws from (server/budget/). */
export interface SessionBudgets {
  /** The server's memory budget for output, which this connection's output budget charges. */
  readonly server: ServerBudget;
  /** Runs history reads in slices that share the event loop with every other scan. */
  readonly slicer: SliceRunner;
  /** The time live selectors may take per turn of the event loop, server-wide. */
  readonly liveFilters: LiveFilterClock;
}

/**
 * Frames of one connection handled in one turn of the event loop at most; the rest wait for
 * the next turn (reading paused meanwhile), so that a client sending many small frames takes
 * its share of the loop, not all of it.
 */
const FRAMES_PER_TURN = 128;

/**
 * Time one connection's frames may take in one turn of the event loop, ms: past it the rest
 * wait for the next turn, so that frames that are slow to handle (large ones, refused ones)
 * cannot hold the loop for as long as {@link FRAMES_PER_TURN} of them take.
 */
const TURN_BUDGET_MS = 2;

/** Schemas per `schemas` page when the request gives no limit. */
const SCHEMA_PAGE = 100;

export interface SessionLimits extends SubscriptionLimits {
  readonly maxEventsPerAppend: number;
  readonly maxEventSize: number;
  readonly maxPendingAppends: number;
  readonly maxPendingAppendBytes: number;
  readonly maxSubscriptions: number;
}

export class Session implements SubscriptionSink {
  readonly #ws: WebSocket;
  /** Every frame this connection is sent goes through it (server/budget/output-budget.ts). */
  readonly #output: OutputBudget;
  readonly #slicer: SliceRunner;
  readonly #store: JournalStore;
  readonly #schemas: SessionSchemas;
  readonly #limits: SessionLimits;
  readonly #observer: ConnectionObserver;
  /** Who the connection acts as: what its token may read, append to and administer. */
  readonly #principal: Principal;
  readonly #subscriptions = new Map<number, Subscription>();
  /** Units of live batches taken by subscriptions and not queued yet (reserveLive). */
  #liveReserved = 0;
  #closed = false;
  /** Appends handed to the store and not yet answered, and the bytes of their frames. */
  #pendingAppends = 0;
  #pendingBytes = 0;
  /**
   * Frames read while the pending appends were at a limit, the output over its high-water
   * mark, or this turn's frames handled, taken in order once none holds; reading is paused
   * meanwhile, so this holds at most what one socket read brought.
   */
  readonly #held: [data: RawData, isBinary: boolean][] = [];
  /**
   * Appends whose checks are still running (their schemas loading or validating), and the
   * promise the newest of them settles: each append waits for the ones before it, so that
   * this connection's appends reach the store in the order it sent them.
   */
  #checking = 0;
  #lastCheck: Promise<void> = Promise.resolve();
  /**
   * Set by each pong, and by each ping or frame from the client (a client whose reading is
   * paused cannot pong, but pings); cleared by each heartbeat ping.
   */
  alive = true;
  /** The time live selectors may take per turn of the event loop, server-wide (SubscriptionSink). */
  readonly liveFilters: LiveFilterClock;

  /**
   * `socket` is the connection's TCP socket (the upgrade request's `socket`); `observer` counts
   * and logs what it does; `budgets` are the server's output budget and scan slicer it shares;
   * `principal` says what its token may do.
   */
  constructor(
    ws: WebSocket,
    store: JournalStore,
    limits: SessionLimits,
    schemas: SessionSchemas,
    socket: Socket | undefined,
    observer: ConnectionObserver,
    budgets: SessionBudgets,
    principal: Principal,
  ) {
    this.#ws = ws;
    this.#output = new OutputBudget(ws, socket, limits, budgets.server, this.#release, () => observer.closedSlow());
    this.#slicer = budgets.slicer;
    this.liveFilters = budgets.liveFilters;
    this.#store = store;
    this.#schemas = schemas;
    this.#limits = limits;
    this.#observer = observer;
    this.#principal = principal;
    ws.on('message', (data, isBinary) => {
      this.alive = true;
      if (this.#held.length > 0 || this.#mustHold()) this.#hold(data, isBinary);
      else this.#handleNow(data, isBinary);
    });
    ws.on('pong', this.#onLife);
    ws.on('ping', this.#onLife);
    ws.on('close', (code, reason) => this.#onClose(code, reason.toString()));
    // A socket error is always followed by 'close'; listening keeps it from being thrown.
    ws.on('error', () => {});
  }

  get bufferedAmount(): number {
    return this.#output.buffered;
  }

  send(frame: string): void {
    if (this.#closed) return;
    this.#output.send(frame);
    this.#pauseIfOver();
  }

  sendFragments(fragments: readonly LivePart[]): void {
    if (this.#closed) return;
    this.#output.sendFragments(fragments);
    this.#pauseIfOver();
  }

  /** Past the mark, the rest of what this socket read waits: a client is answered only as fast as it reads. */
  #pauseIfOver(): void {
    if (!this.readPaused && this.#output.overHighWater) this.#ws.pause();
  }

  hasRoom(): boolean {
    return this.#output.hasRoom();
  }

  reserveLive(units: number): boolean {
    const committed = this.#output.buffered + this.#liveReserved;
    if (committed > 0 && committed + units > this.#limits.maxSendBuffer) return false;
    this.#liveReserved += units;
    return true;
  }

  releaseLive(units: number): void {
    this.#liveReserved -= units;
  }

  ready(): Promise<void> {
    return this.#output.ready();
  }

  read<T>(subscription: Subscription, work: () => Promise<T>): Promise<T> {
    return this.#slicer.run(subscription, work);
  }

  ended(subscription: Subscription, code?: string, message?: string): void {
    if (this.#subscriptions.get(subscription.id) === subscription) this.#subscriptions.delete(subscription.id);
    this.#observer.subscriptionEnded(subscription.journal, subscription.id, code ?? 'cancelled', message);
  }

  /** Open subscriptions on this connection. */
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /** Ends every subscription and closes the socket with `code`. */
  close(code: number, reason: string): void {
    for (const subscription of this.#subscriptions.values()) subscription.end(ErrorCode.SHUTTING_DOWN, reason);
    this.#ws.close(code, reason);
  }

  terminate(): void {
    this.#ws.terminate();
  }

  ping(): void {
    this.alive = false;
    this.#ws.ping();
  }

  /**
   * Whether the client showed life since the last heartbeat: a pong, a ping or a frame, or
   * output of ours it read. Clears the output's mark (the heartbeat's ping clears `alive`).
   */
  heardFrom(): boolean {
    const heard = this.alive || this.#output.progressed;
    this.#output.progressed = false;
    return heard;
  }

  readonly #onLife = (): void => {
    this.alive = true;
  };

  /** True while reading is paused: the pending appends at a limit, or the output over its high-water mark. */
  get readPaused(): boolean {
    return this.#held.length > 0 || this.#ws.isPaused;
  }

  /** True while reading is paused for the store (appends at a limit), not for the client. */
  get waitingForStore(): boolean {
    return this.#appendsAtLimit();
  }

  #mustHold(): boolean {
    return (
      this.#appendsAtLimit() ||
      this.#output.overHighWater ||
      (this.#framesThisTurn > 0 && (this.#framesThisTurn >= FRAMES_PER_TURN || performance.now() > this.#turnDeadline))
    );
  }

  /** Frames handled in this turn of the event loop; past {@link FRAMES_PER_TURN} the rest wait for the next. */
  #framesThisTurn = 0;
  /** When this turn's {@link TURN_BUDGET_MS} for this connection's frames is spent (`performance.now()`). */
  #turnDeadline = 0;

  #handleNow(data: RawData, isBinary: boolean): void {
    if (this.#framesThisTurn++ === 0) {
      this.#turnDeadline = performance.now() + TURN_BUDGET_MS;
      setImmediate(this.#nextTurn);
    }
    this.#onMessage(data, isBinary);
  }

  /** A new turn: this connection may be read again (its frames held for the turn's budget go first). */
  readonly #nextTurn = (): void => {
    this.#framesThisTurn = 0;
    this.#release();
  };

  #appendsAtLimit(): boolean {
    return this.#pendingAppends >= this.#limits.maxPendingAppends || this.#pendingBytes >= this.#limits.maxPendingAppendBytes;
  }

  #hold(data: RawData, isBinary: boolean): void {
    this.#ws.pause();
    this.#held.push([data, isBinary]);
  }

  /** An append was answered: the frames held back may go on. */
  #appendSettled(bytes: number): void {
    this.#pendingAppends--;
    this.#pendingBytes -= bytes;
    this.#release();
  }

  /** Handles the frames held back while neither limit holds, then reads again. */
  readonly #release = (): void => {
    if (this.#closed) return;
    while (this.#held.length > 0 && !this.#mustHold()) {
      const [data, isBinary] = this.#held.shift()!;
      this.#handleNow(data, isBinary);
    }
    if (this.#held.length === 0 && !this.#mustHold() && this.#ws.isPaused) this.#ws.resume();
  };

  #onClose(code: number, reason: string): void {
    this.#closed = true;
    this.#held.length = 0;
    this.#observer.closed(code, reason);
    for (const subscription of this.#subscriptions.values()) {
      subscription.dispose();
      this.#observer.subscriptionEnded(subscription.journal, subscription.id, 'disconnected');
    }
    this.#subscriptions.clear();
    this.#output.closed();
  }

  #error(code: string, message: string, id?: number, details?: readonly ErrorDetail[]): void {
    this.#observer.frameRefused(code, message);
    // Short whatever the input: a message is cut, and at most a few details are sent, each cut too.
    message = boundedMessage(message);
    const frame: Record<string, unknown> = id === undefined ? { type: 'error', code, message } : { type: 'error', id, code, message };
    if (details !== undefined) frame['details'] = boundedDetails(details);
    this.send(JSON.stringify(frame));
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    try {
      this.#handle(data, isBinary);
    } catch (error) {
      // Input must never take the server down: whatever a frame makes throw becomes an error frame.
      this.#error(ErrorCode.BAD_FRAME, `the frame could not be handled: ${(error as Error).message}`);
    }
  }

  #handle(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.#error(ErrorCode.BAD_FRAME, 'binary frames are not accepted; send JSON text frames');
      return;
    }
    const text = data.toString();
    // The frames the client library writes are read without building objects; the rest,
    // and every frame that is refused, go the general way below.
    const decoded = decodeAppend(text, this.#schemas.check.contextCheck, this.#limits.maxEventsPerAppend);
    if (decoded !== undefined) {
      this.#appendDecoded(decoded, frameBytes(data));
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.#error(ErrorCode.BAD_FRAME, 'the frame is not valid JSON');
      return;
    }
    if (!isPlainObject(json)) {
      this.#error(ErrorCode.BAD_FRAME, 'a frame must be a JSON object');
      return;
    }
    const rawId = json['id'];
    const id = typeof rawId === 'number' && Number.isSafeInteger(rawId) && rawId >= 0 ? rawId : undefined;
    const type = json['type'];
    if (typeof type !== 'string' || !CLIENT_FRAME_TYPES.has(type)) {
      const shown = typeof type === 'string' ? JSON.stringify(type.slice(0, 64)) : typeof type;
      this.#error(ErrorCode.UNKNOWN_TYPE, `unknown frame type ${shown}`, id);
      return;
    }
    // The count first: reading or checking each event of a frame of tens of thousands would cost more than refusing it.
    const events = type === 'append' ? json['events'] : undefined;
    if (Array.isArray(events) && !this.#fewEnough(events.length, id)) return;
    let frame: ClientFrame | undefined = type === 'append' ? asAppendFrame(json) : undefined;
    if (frame === undefined) {
      const parsed = ClientFrame.safeParse(json);
      if (!parsed.success) {
        const [code, message] = describeIssues(parsed.error.issues);
        this.#error(code, message, id);
        return;
      }
      frame = parsed.data;
    }
    switch (frame.type) {
      case 'subscribe':
        this.#subscribe(frame);
        break;
      case 'cancel': {
        const subscription = this.#subscriptions.get(frame.id);
        if (subscription) subscription.end();
        else this.send(`{"type":"end","id":${frame.id}}`);
        break;
      }
      case 'append':
        this.#append(frame, frameBytes(data));
        break;
      case 'register':
        this.#register(frame, frameBytes(data));
        break;
      case 'schemas':
        this.#listSchemas(frame);
        break;
    }
  }

  /** False, after answering with FORBIDDEN, when the connection's token lacks `scope` (on `journal`). */
  #allowed(scope: Scope, id: number, journal?: string): boolean {
    if (this.#principal.can(scope, journal)) return true;
    this.#error(ErrorCode.FORBIDDEN, forbiddenMessage(scope, journal), id);
    return false;
  }

  #subscribe(frame: SubscribeFrame): void {
    if (this.#subscriptions.has(frame.id)) {
      this.#error(ErrorCode.DUPLICATE_ID, `request id ${frame.id} is already in use`, frame.id);
      return;
    }
    if (!this.#allowed('read', frame.id, frame.journal)) return;
    if (this.#subscriptions.size >= this.#limits.maxSubscriptions) {
      this.#error(
        ErrorCode.TOO_MANY_SUBSCRIPTIONS,
        `at most ${this.#limits.maxSubscriptions} subscriptions per connection`,
        frame.id,
      );
      return;
    }
    const names = frame.payload.names === undefined ? undefined : new Set(frame.payload.names);
    const schemas = frame.payload.schemas === undefined ? undefined : new Set(frame.payload.schemas);
    let where: EventFilter | undefined;
    if (frame.payload['where'] !== undefined) {
      try {
        where = eventFilter({ where: compileSelector(frame.payload['where']) });
      } catch (error) {
        this.#error((error as JournalError).code ?? ErrorCode.INVALID_PAYLOAD, (error as Error).message, frame.id);
        return;
      }
    }
    const subscription = new Subscription(
      { id: frame.id, journal: frame.journal, full: frame.full, since: frame.since, names, schemas, where },
      this.#store,
      this,
      this.#limits,
    );
    this.#subscriptions.set(frame.id, subscription);
    void subscription.start();
  }

  #append(frame: AppendFrame, bytes: number): void {
    if (!this.#allowed('append', frame.id, frame.journal)) return;
    if (!this.#fewEnough(frame.events.length, frame.id)) return;
    const preserve = frame.preserve === true;
    const events = new Array<NewEvent>(frame.events.length);
    for (let index = 0; index < frame.events.length; index++) {
      const event = frame.events[index]!;
      // Only an append with preserve says where its events go, and it must say so for each.
      if (preserve ? event.seq === undefined || event.timestamp === undefined : event.seq !== undefined || event.timestamp !== undefined) {
        const message = preserve
          ? `event ${index}: an append with preserve needs each event's seq and timestamp`
          : `event ${index}: seq and timestamp are assigned by the server (only an append with preserve carries them)`;
        this.#error(ErrorCode.INVALID_EVENT, message, frame.id);
        return;
      }
      const context = event.context ?? {};
      let contextJson: string;
      try {
        contextJson = JSON.stringify(context);
      } catch {
        this.#error(ErrorCode.INVALID_EVENT, `event ${index}: the context cannot be encoded (nested too deeply)`, frame.id);
        return;
      }
      if (!this.#smallEnough(index, event.name, contextJson, frame.id)) return;
      const nonFinite = nonFiniteNumberPath(context, contextJson);
      if (nonFinite !== undefined) {
        this.#error(ErrorCode.INVALID_EVENT, `events.${index}.${nonFinite}: a number JSON cannot hold (not finite)`, frame.id);
        return;
      }
      events[index] = preserve
        ? { name: event.name, context, contextJson, schema: event.schema, seq: event.seq!, timestamp: event.timestamp! }
        : { name: event.name, context, contextJson, schema: event.schema };
    }
    this.#checkAndSubmit(frame.id, frame.journal, frame.key, events as (NewEvent & CheckedEvent)[], bytes, preserve);
  }

  /** An append read by `decodeAppend`: its events already carry their name and context as JSON. */
  #appendDecoded(frame: DecodedAppend, bytes: number): void {
    const { events } = frame;
    if (!this.#allowed('append', frame.id, frame.journal)) return;
    if (!this.#fewEnough(events.length, frame.id)) return;
    for (let index = 0; index < events.length; index++) {
      const event = events[index]!;
      if (!this.#smallEnough(index, event.name, event.contextJson, frame.id)) return;
    }
    // Each decoded event is a `{ name, nameJson, contextJson, schema }` the store takes as it is.
    this.#checkAndSubmit(frame.id, frame.journal, frame.key, events, bytes, false, frame.text);
  }

  /**
   * Runs the journal's policy and the events' schemas over the batch (server/schemas/append-check.ts),
   * then stores it or refuses it whole. A batch whose checks answer at once, with none running
   * before it, goes straight on; the rest wait their turn, counted as pending appends. `source`:
   * the frame's text, of which the decoded events' contexts are slices.
   */
  #checkAndSubmit(id: number, journal: string, key: string | undefined, events: readonly (NewEvent & CheckedEvent)[], bytes: number, preserve = false, source?: string): void {
    let verdict: Verdict | Promise<Verdict>;
    try {
      verdict = this.#schemas.check.check(journal, events, source);
    } catch (error) {
      verdict = new JournalError(ErrorCode.STORE_UNAVAILABLE, `the append could not be checked: ${(error as Error).message}`);
    }
    if (this.#checking === 0 && !(verdict instanceof Promise)) {
      if (verdict === undefined) this.#submit(id, journal, key, events, bytes, preserve);
      else this.#refuse(id, verdict);
      return;
    }
    this.#pendingAppends++;
    this.#pendingBytes += bytes;
    this.#checking++;
    const before = this.#lastCheck;
    this.#lastCheck = (async () => {
      const result = await verdict;
      await before;
      this.#checking--;
      try {
        if (result === undefined) {
          this.#storeBatch(id, journal, key, events, bytes, preserve);
          return;
        }
        this.#refuse(id, result);
      } catch (error) {
        this.#error(ErrorCode.BAD_FRAME, `the append could not be handled: ${(error as Error).message}`, id);
      }
      this.#appendSettled(bytes);
    })();
  }

  #refuse(id: number, error: JournalError): void {
    this.#error(error.code, error.message, id, error.details);
  }

  /** Registers a schema, counted like an append in flight: the validator compiles it in a worker thread. */
  #register(frame: RegisterFrame, bytes: number): void {
    if (!this.#allowed('admin', frame.id)) return;
    this.#pendingAppends++;
    this.#pendingBytes += bytes;
    this.#schemas.registry.register(frame.schema).then(
      ({ id, version, created }) => {
        this.send(JSON.stringify({ type: 'registered', id: frame.id, schema: { id, version }, created }));
        this.#appendSettled(bytes);
      },
      (error: unknown) => {
        const { code, message } = asJournalError(error);
        this.#error(code, message, frame.id);
        this.#appendSettled(bytes);
      },
    );
  }

  #listSchemas(frame: ListSchemasFrame): void {
    this.#schemas.registry.list(frame.after, frame.limit ?? SCHEMA_PAGE).then(
      ({ schemas, next }) => {
        const reply: Record<string, unknown> = { type: 'schemas', id: frame.id, schemas };
        if (next !== undefined) reply['next'] = next;
        this.send(JSON.stringify(reply));
      },
      (error: unknown) => {
        const { code, message } = asJournalError(error);
        this.#error(code, message, frame.id);
      },
    );
  }

  /** False, after answering with TOO_MANY_EVENTS, when an append carries more events than allowed. */
  #fewEnough(count: number, id: number | undefined): boolean {
    const { maxEventsPerAppend } = this.#limits;
    if (count <= maxEventsPerAppend) return true;
    this.#error(ErrorCode.TOO_MANY_EVENTS, `at most ${maxEventsPerAppend} events per append`, id);
    return false;
  }

  /** False, after answering with EVENT_TOO_LARGE, when event `index` is over `maxEventSize` bytes. */
  #smallEnough(index: number, name: string, contextJson: string, id: number): boolean {
    const { maxEventSize } = this.#limits;
    // UTF-8 takes at most 3 bytes per UTF-16 unit: most events need no exact count.
    const units = name.length + contextJson.length;
    const size = 3 * units <= maxEventSize ? units : Buffer.byteLength(name) + Buffer.byteLength(contextJson);
    if (size <= maxEventSize) return true;
    this.#error(ErrorCode.EVENT_TOO_LARGE, `event ${index} is ${size} bytes; at most ${maxEventSize} per event`, id);
    return false;
  }

  /** Hands a checked batch to the store, counts it as pending, and answers with its ack or an error. */
  #submit(id: number, journal: string, key: string | undefined, events: readonly NewEvent[], bytes: number, preserve = false): void {
    this.#pendingAppends++;
    this.#pendingBytes += bytes;
    this.#storeBatch(id, journal, key, events, bytes, preserve);
  }

  /** Hands a batch counted as pending to the store, and answers with its ack or an error. */
  #storeBatch(id: number, journal: string, key: string | undefined, events: readonly NewEvent[], bytes: number, preserve = false): void {
    // The callbacks keep only the id, the count and the byte count, not the frame or its events.
    const started = performance.now();
    const count = events.length;
    let appended: Promise<StoredEvent[]>;
    try {
      appended = this.#store.append(journal, events, preserve ? { key, preserve } : { key });
    } catch (error) {
      appended = Promise.reject(error);
    }
    appended.then(
      (stored) => {
        this.send(ackFrame(id, stored));
        this.#observer.appended(count, (performance.now() - started) / 1000);
        this.#appendSettled(bytes);
      },
      (error: unknown) => {
        // A batch the store refused for what it holds is the client's to hear about as such.
        if (error instanceof JournalError && REFUSALS.has(error.code)) {
          this.#error(error.code, error.message, id);
        } else {
          this.#observer.appendFailed(error);
          this.#error(ErrorCode.STORE_UNAVAILABLE, `the store did not confirm the append: ${(error as Error).message}`, id);
        }
        this.#appendSettled(bytes);
      },
    );
  }
}

/** Store errors that refuse a batch for what it holds, passed on with their own code; any other is STORE_UNAVAILABLE. */
const REFUSALS: ReadonlySet<string> = new Set([ErrorCode.OUT_OF_ORDER, ErrorCode.INVALID_EVENT]);

/** The ack of an append: its events' seqs and timestamps, each list made in one `join`. */
function ackFrame(id: number, stored: readonly StoredEvent[]): string {
  if (stored.length === 1) {
    const [event] = stored;
    return `{"type":"ack","id":${id},"seqs":[${event!.seq}],"timestamps":[${timestampJson(event!.timestamp)}]}`;
  }
  const seqs = new Array<number>(stored.length);
  const timestamps = new Array<string>(stored.length);
  for (let i = 0; i < stored.length; i++) {
    seqs[i] = stored[i]!.seq;
    timestamps[i] = timestampJson(stored[i]!.timestamp);
  }
  return `{"type":"ack","id":${id},"seqs":[${seqs.join(',')}],"timestamps":[${timestamps.join(',')}]}`;
}

/** A timestamp as JSON: by integer arithmetic when it is whole microseconds, as stores make them. */
function timestampJson(timestamp: number): string {
  const micros = toMicros(timestamp);
  return micros / 1e6 === timestamp ? formatMicros(micros) : `${timestamp}`;
}

function asJournalError(error: unknown): { code: string; message: string } {
  if (error instanceof JournalError) return { code: error.code, message: error.message };
  return { code: ErrorCode.STORE_UNAVAILABLE, message: `the request failed: ${(error as Error).message}` };
}

function frameBytes(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, chunk) => sum + chunk.length, 0);
  return data.byteLength;
}

/** Turns zod issues into the most specific error code and a readable message. */
function describeIssues(issues: readonly z.core.$ZodIssue[]): [string, string] {
  const first = issues[0];
  const path = first?.path ?? [];
  const where = path.length > 0 ? path.join('.') : 'frame';
  const message = `${where}: ${first?.message ?? 'invalid frame'}`;
  if (path[0] === 'journal') return [ErrorCode.INVALID_JOURNAL, message];
  if (path[0] === 'events') return [ErrorCode.INVALID_EVENT, message];
  if (path[0] === 'payload') return [ErrorCode.INVALID_PAYLOAD, message];
  if (path[0] === 'schema') return [ErrorCode.INVALID_SCHEMA, message];
  return [ErrorCode.BAD_FRAME, message];
}
