/**
 * The abstract journal consumer: replays a journal's history, marks its end
 * with a sentinel, then follows live events, and resumes from `since`. Modelled
 * on Flux's `JournalConsumerBase`; subclasses say how a response becomes events.
 */
import { EventEmitter } from 'eventemitter3';
import { Backoff } from './backoff.js';
import { JournalConnection, type Channel } from './connection.js';
import { ConnectionError, ErrorCode, JournalError, NotStartedError, TimeoutError } from './errors.js';
import { Fifo } from './fifo.js';
import { checkPagesOptions, consumerPages, type PagesOptions } from './pages.js';
import { JournalEvent } from './journal-event.js';
import type { EventEntry, Head, RequestFrame } from './protocol.js';
import { checkBoolean, checkJournalName, checkOptions, checkOptionalString, checkPositive, checkTimestamp, checkUrls } from './validate.js';

export type { EventEntry } from './protocol.js';

/** A response from the server: a history page, a live batch, or (with no events) the sentinel. */
export interface JournalResponse {
  events: EventEntry[];
  [extra: string]: unknown;
}

export interface JournalConsumerOptions {
  /** Replay history (events after `since`) before live events. @default true */
  full?: boolean;
  /** Deliver only events with `timestamp > since` (seconds). @default 0 */
  since?: number;
  /** Deliver `SENTINEL_EVENT` once between history and live events. @default false */
  includeSentinel?: boolean;
  /**
   * Hold history until the sentinel, then deliver it sorted by timestamp
   * (Flux's behaviour). `false` delivers history as it arrives, in bounded
   * memory, for histories larger than RAM. @default true
   */
  bufferHistory?: boolean;
  /** Reconnect and resume when the connection drops (only with a URL). @default true */
  reconnect?: boolean;
  /** Bearer token for the server (only with a URL). */
  token?: string;
  /**
   * Events waiting to be consumed before the consumer stops reading the
   * socket, so that the server holds back (history) or ends and later resumes
   * (live) the stream. Applies to live events, and to history when
   * `bufferHistory` is false. @default 10000
   */
  maxQueued?: number;
}

/** The events a consumer emits. */
export interface JournalConsumerEvents<E> {
  /** The server accepted the subscription; appends after this are certain to be seen. */
  subscribed: [head: Head];
  /** An event was queued for delivery, in delivery order. */
  event: [event: E];
  /** History has ended (once per `start()`). */
  sentinel: [];
  /** The consumer stopped; `null` follows the events already received. */
  end: [];
  /**
   * Something failed: an attempt to connect before the connection was ever open (a retry
   * follows; `cause` says why, e.g. `ECONNREFUSED`), the connection for good (the consumer
   * then ends), the server ended or refused the subscription (a refusal such as `FORBIDDEN`
   * outside the token's scopes is not retried: the consumer stops), or the callback threw.
   */
  error: [error: Error];
  /** The connection dropped, or an attempt to open it failed; the consumer resumes once it is back. */
  disconnect: [error: ConnectionError];
  /** The connection dropped and is open again; the stream resumes from the last event received. */
  reconnect: [];
  /**
   * Retention removed events after `since` (or after the last event received, on a resume):
   * emitted before the first event that follows, which is `first`, the oldest event kept.
   */
  truncated: [info: { first: Head }];
}

type Callback<E> = (event: E | null, ...args: any[]) => unknown;

interface Waiter<E> {
  resolve(event: E | null): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const KNOWN_OPTIONS = ['full', 'since', 'includeSentinel', 'bufferHistory', 'reconnect', 'token', 'maxQueued'] as const;

/**
 * @example
 * class JobConsumer extends JournalConsumer<JobEvent> {
 *   processResponse(resp) { return {}; }
 *   createEvent(entry) { return new JobEvent(entry); }
 * }
 * for await (const event of new JobConsumer(url, 'jobs').start()) console.log(`${event}`);
 */
export abstract class JournalConsumer<E extends JournalEvent = JournalEvent>
  extends EventEmitter<JournalConsumerEvents<E>>
  implements Channel
{
  /** The empty event delivered between history and live events with `includeSentinel`. Subclasses may override it. */
  static SENTINEL_EVENT: JournalEvent = new JournalEvent({});

  readonly journal: string;
  readonly full: boolean;
  readonly since: number;
  readonly includeSentinel: boolean;
  readonly #bufferHistory: boolean;
  readonly #maxQueued: number;
  readonly #url: readonly string[] | undefined;
  readonly #connectionOptions: { token?: string; reconnect: boolean };
  #connection: JournalConnection | undefined;
  #state: 'new' | 'running' | 'stopped' = 'new';
  /** The current subscription's request id on the connection. */
  #id: number | undefined;
  /** Newest timestamp received and accepted: where a resubscription resumes. */
  #cursor: number;
  #lastTimestamp: number;
  #headKnown = false;
  /** For a stream without `full`: the head when it first subscribed. Restarts never go back before it. */
  #floor: number | undefined;
  #sentinelSeen = false;
  #history: E[] = [];
  /** `'truncated'` notices that came while history was held: emitted before the held event at `at`. */
  #truncations: { readonly at: number; readonly first: Head }[] = [];
  readonly #queue = new Fifo<E>();
  #paused = false;
  #waiters: Waiter<E>[] = [];
  #callback: Callback<E> | undefined;
  #callbackArgs: unknown[] = [];
  #pumping = false;
  #nullDelivered = false;
  #resubscribeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Paces resubscriptions after the server ended the subscription, with the connection's policy. */
  #resubscribeBackoff: Backoff | undefined;
  /** The connection whose 'error' and 'disconnect' this consumer passes on. */
  #watched: JournalConnection | undefined;
  /** The last error emitted, so that one failure is told once. */
  #lastError: Error | undefined;

  constructor(url: string | readonly string[] | JournalConnection, journal: string, options: JournalConsumerOptions = {}) {
    super();
    checkOptions(options, KNOWN_OPTIONS);
    this.journal = checkJournalName(journal);
    const merged = {
      full: true,
      since: 0,
      includeSentinel: false,
      bufferHistory: true,
      reconnect: true,
      maxQueued: 10_000,
      ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
    } as Required<Omit<JournalConsumerOptions, 'token'>>;
    this.full = checkBoolean(merged.full, 'options.full');
    this.since = checkTimestamp(merged.since, 'options.since');
    this.includeSentinel = checkBoolean(merged.includeSentinel, 'options.includeSentinel');
    this.#bufferHistory = checkBoolean(merged.bufferHistory, 'options.bufferHistory');
    this.#maxQueued = checkPositive(merged.maxQueued, 'options.maxQueued', { integer: true });
    const reconnect = checkBoolean(merged.reconnect, 'options.reconnect');
    const token = checkOptionalString(options.token, 'options.token');
    if (url instanceof JournalConnection) {
      if (options.token !== undefined || options.reconnect !== undefined) {
        throw new TypeError('options.token and options.reconnect apply only with a URL; set them on the JournalConnection');
      }
      this.#connection = url;
    } else {
      this.#url = checkUrls(url);
    }
    this.#connectionOptions = token === undefined ? { reconnect } : { token, reconnect };
    this.#cursor = this.since;
    this.#lastTimestamp = this.since;
  }

  /** Says which values `createEvent` receives for each event of `resp` (the same for all of them). */
  abstract processResponse(resp: JournalResponse): Record<string, unknown>;

  /** Makes the application's event from one entry and the values `processResponse` returned. */
  abstract createEvent(entry: EventEntry, kwargs: Record<string, unknown>): E;

  /** True for the sentinel response that ends history. */
  isEmptyResponse(resp: JournalResponse): boolean {
    return resp.events.length === 0;
  }

  /** Sent with the subscription; `{ names: [...] }` filters by event name. */
  get requestPayload(): Record<string, unknown> {
    return {};
  }

  /** The newest event's timestamp handed to the application; `since` if none yet. */
  get lastTimestamp(): number {
    return this.#lastTimestamp;
  }

  /**
   * Opens the subscription in the background and returns at once. Calling it
   * again restarts the stream from `lastTimestamp`.
   */
  start(): this {
    if (this.#state === 'running') this.#cancel();
    const restart = this.#state !== 'new';
    this.#state = 'running';
    // Through the getter: a subclass that hands events on after taking them (Forwarder) says how far it got.
    this.#cursor = restart ? Math.max(this.lastTimestamp, this.#floor ?? 0) : this.since;
    // A restarted stream without `full` resumes with history from the cursor, like a reconnect.
    this.#headKnown = restart && this.#floor !== undefined;
    this.#sentinelSeen = false;
    this.#history = [];
    this.#truncations = [];
    this.#queue.clear();
    this.#nullDelivered = false;
    this.#setPaused(false);
    if (this.#url !== undefined) this.#connection = new JournalConnection(this.#url, this.#connectionOptions);
    const connection = this.#connection!;
    this.#resubscribeBackoff = new Backoff(connection.backoffPolicy);
    this.#lastError = undefined;
    this.#watch(connection);
    connection.join(this);
    return this;
  }

  /** Cancels the subscription. After the events already received, `null` follows. Idempotent. */
  stop(): void {
    if (this.#state !== 'running') return;
    this.#cancel();
    this.#flushHistory();
    this.#finish();
  }

  /**
   * The next event, or `null` once the consumer has stopped and every event
   * received was consumed. `timeout` in seconds; -1 waits forever.
   * Rejects with `TimeoutError` when the time passes, `NotStartedError` before `start()`.
   */
  poll(timeout = -1): Promise<E | null> {
    if (typeof timeout !== 'number' || Number.isNaN(timeout)) return Promise.reject(new TypeError('timeout must be a number'));
    if (this.#state === 'new') return Promise.reject(new NotStartedError());
    if (this.#queue.length > 0) return Promise.resolve(this.#take());
    if (this.#state === 'stopped') return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const waiter: Waiter<E> = { resolve, reject, timer: undefined };
      if (timeout >= 0) {
        waiter.timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((other) => other !== waiter);
          reject(new TimeoutError(`no event within ${timeout} s`));
        }, timeout * 1000);
      }
      this.#waiters.push(waiter);
    });
  }

  /**
   * Delivers every event to `cb(event, ...args)`, in order, awaiting an async
   * `cb` before the next. After `stop()`, `cb(null, ...args)` is the last call.
   * Replacing the callback stops delivery to the old one.
   */
  setCallback(cb: Callback<E>, ...args: any[]): this {
    if (typeof cb !== 'function') throw new TypeError('cb must be a function');
    this.#callback = cb;
    this.#callbackArgs = args;
    this.#pump();
    return this;
  }

  /** `for await (const event of consumer)`: starts the consumer if needed; ends where `poll` gives `null`; `break` stops it. */
  [Symbol.asyncIterator](): AsyncIterator<E> {
    if (this.#state === 'new') this.start();
    return {
      next: async () => {
        const event = await this.poll();
        return event === null ? { done: true, value: undefined } : { done: false, value: event };
      },
      return: async () => {
        this.stop();
        return { done: true, value: undefined };
      },
    };
  }

  /**
   * `for await (const page of consumer.pages())`: arrays of events as they arrive (history
   * pages, live batches), at most `maxPageSize` each, in order; with `includeSentinel` the
   * sentinel comes as a page of its own. Starts the consumer if needed; ends where `poll`
   * gives `null`; `break` stops it. Use one way of reading a consumer: pages, poll, the
   * iterator or a callback.
   */
  pages(options: PagesOptions = {}): AsyncGenerator<E[], void, undefined> {
    const maxPageSize = checkPagesOptions(options);
    if (this.#state === 'new') this.start();
    return consumerPages(this, (page, max) => this.#takeQueued(page, max), this.#sentinel(), maxPageSize);
  }

  /** Hands over events already queued onto `page`, until it holds `max`; never the sentinel, which `poll` gives alone. */
  #takeQueued(page: E[], max: number): void {
    const sentinel = this.#sentinel();
    while (page.length < max) {
      const next = this.#queue.peek();
      if (next === undefined || next === sentinel) break;
      page.push(this.#take()!);
    }
  }

  // Channel: called by the connection.

  /** @internal */
  onOpen(reconnected: boolean): void {
    if (this.#state !== 'running') return;
    this.#clearResubscribeTimer();
    if (reconnected) this.emit('reconnect');
    this.#subscribe();
  }

  /** @internal */
  onDisconnect(error: ConnectionError, final: boolean): void {
    if (this.#id !== undefined) this.#id = undefined;
    // The reconnect resubscribes.
    this.#clearResubscribeTimer();
    if (!final || this.#state !== 'running') return;
    this.#error(error);
    this.#flushHistory();
    this.#finish();
  }

  /** @internal The server closed the connection with 1009 after the subscribe frame: resending it would meet the same. */
  onFrameRefused(id: number, error: JournalError): void {
    if (this.#state !== 'running' || id !== this.#id) return;
    this.#id = undefined;
    this.#error(error);
    this.stop();
  }

  #watch(connection: JournalConnection): void {
    if (this.#watched === connection) return;
    this.#unwatch();
    this.#watched = connection;
    connection.on('error', this.#onConnectionError);
    connection.on('disconnect', this.#onConnectionDisconnect);
  }

  #unwatch(): void {
    this.#watched?.off('error', this.#onConnectionError);
    this.#watched?.off('disconnect', this.#onConnectionDisconnect);
    this.#watched = undefined;
  }

  readonly #onConnectionError = (error: Error): void => {
    if (this.#state === 'running') this.#error(error);
  };

  readonly #onConnectionDisconnect = (error: ConnectionError): void => {
    if (this.#state === 'running') this.emit('disconnect', error);
  };

  /** Emits 'error', once per failure however many ways it is heard of. */
  #error(error: Error): void {
    if (error === this.#lastError) return;
    this.#lastError = error;
    this.emit('error', error);
  }

  /** @internal */
  onFrame(frame: RequestFrame): void {
    if (this.#state !== 'running' || frame.id !== this.#id) return;
    switch (frame.type) {
      case 'subscribed':
        if (!this.full && !this.#headKnown) {
          this.#cursor = Math.max(this.#cursor, frame.head.timestamp);
          this.#floor = this.#cursor;
        }
        this.#headKnown = true;
        this.#resubscribeBackoff?.succeeded();
        this.emit('subscribed', frame.head);
        break;
      case 'response':
        this.#onResponse(frame);
        break;
      case 'truncated':
        // While history is held (bufferHistory), the notice waits for its place among the events.
        if (this.full && this.#bufferHistory && !this.#sentinelSeen && this.#history.length > 0) {
          this.#truncations.push({ at: this.#history.length, first: frame.first });
        } else {
          this.emit('truncated', { first: frame.first });
        }
        break;
      case 'end':
        this.#onEnd(frame.code, frame.message);
        break;
      case 'error':
        this.#onEnd(frame.code, frame.message, true);
        break;
      case 'ack':
        break;
    }
  }

  #subscribe(): void {
    const connection = this.#connection!;
    this.#id = connection.allocate(this);
    // Resuming after a drop or a server-side end reads from the cursor; a
    // non-full stream whose head is known resumes with full history from it.
    const full = this.full || this.#headKnown;
    connection.send({
      type: 'subscribe',
      id: this.#id,
      journal: this.journal,
      full,
      since: this.#cursor,
      payload: this.requestPayload,
    });
  }

  #onResponse(resp: JournalResponse): void {
    if (this.isEmptyResponse(resp)) {
      if (!this.full || this.#sentinelSeen) return;
      this.#sentinelSeen = true;
      this.#flushHistory();
      if (this.includeSentinel) this.#enqueue(this.#sentinel(), false);
      this.emit('sentinel');
      return;
    }
    const kwargs = this.processResponse(resp);
    const holdHistory = this.full && this.#bufferHistory && !this.#sentinelSeen;
    for (const entry of resp.events) {
      if (entry.timestamp <= this.#cursor) continue;
      this.#cursor = entry.timestamp;
      const event = this.createEvent(entry, kwargs);
      if (holdHistory) this.#history.push(event);
      else this.#enqueue(event, true);
    }
  }

  /**
   * The server ended (or refused) the subscription. A refusal other than STORE_UNAVAILABLE
   * stops the consumer; otherwise it resubscribes from its cursor after the backoff's delay,
   * which grows while subscriptions keep ending within `healthyAfter` of being accepted.
   */
  #onEnd(code: string | undefined, message: string | undefined, refused = false): void {
    if (this.#id !== undefined) this.#connection?.release(this.#id);
    this.#id = undefined;
    // A shutting-down server closes the socket next; the reconnect resubscribes.
    if (code === ErrorCode.SHUTTING_DOWN) return;
    // A slow consumer catches up from the store: not a failure the application must hear of.
    if (code !== ErrorCode.SLOW_CONSUMER) {
      this.#error(new JournalError(code ?? ErrorCode.CONNECTION_CLOSED, message ?? 'the server ended the subscription'));
      if (refused && code !== ErrorCode.STORE_UNAVAILABLE) {
        this.stop();
        return;
      }
    }
    this.#clearResubscribeTimer();
    const delay = this.#resubscribeBackoff!.next();
    this.#resubscribeTimer = setTimeout(() => {
      this.#resubscribeTimer = undefined;
      // Down meanwhile: the reconnect resubscribes.
      if (this.#state === 'running' && this.#id === undefined && this.#connection?.isOpen) this.#subscribe();
    }, delay * 1000);
  }

  #cancel(): void {
    this.#clearResubscribeTimer();
    this.#unwatch();
    const connection = this.#connection;
    if (connection && this.#id !== undefined) {
      connection.send({ type: 'cancel', id: this.#id });
      connection.release(this.#id);
    }
    this.#id = undefined;
    connection?.leave(this);
    if (this.#url !== undefined && connection) void connection.close();
  }

  #finish(): void {
    this.#state = 'stopped';
    this.#clearResubscribeTimer();
    this.#unwatch();
    this.#setPaused(false);
    this.emit('end');
    if (this.#queue.length === 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.resolve(null);
      }
    }
    this.#pump();
  }

  #flushHistory(): void {
    const history = this.#history;
    const truncations = this.#truncations;
    this.#truncations = [];
    this.#history = [];
    // History arrives in time order (the sort is stable, and keeps the notices' places right).
    history.sort((a, b) => a.timestamp - b.timestamp);
    let next = 0;
    for (let i = 0; i < history.length; i++) {
      while (next < truncations.length && truncations[next]!.at === i) this.emit('truncated', { first: truncations[next++]!.first });
      this.#enqueue(history[i]!, false);
    }
    while (next < truncations.length) this.emit('truncated', { first: truncations[next++]!.first });
  }

  #enqueue(event: E, bounded: boolean): void {
    if (event !== this.#sentinel()) this.emit('event', event);
    const waiter = this.#callback === undefined ? this.#waiters.shift() : undefined;
    if (waiter) {
      clearTimeout(waiter.timer);
      this.#handOver(event);
      waiter.resolve(event);
      return;
    }
    this.#queue.push(event);
    if (bounded && this.#queue.length >= this.#maxQueued) this.#setPaused(true);
    if (this.#callback !== undefined) this.#pump();
  }

  #take(): E | null {
    const event = this.#queue.shift();
    if (event === undefined) return null;
    this.#handOver(event);
    if (this.#paused && this.#queue.length <= this.#maxQueued / 2) this.#setPaused(false);
    return event;
  }

  #handOver(event: E): void {
    if (event !== this.#sentinel()) this.#lastTimestamp = event.timestamp;
  }

  #sentinel(): E {
    return (this.constructor as typeof JournalConsumer).SENTINEL_EVENT as E;
  }

  /**
   * Hands queued events to the callback, one at a time. Runs synchronously
   * while the callback returns plain values; a returned promise is awaited
   * before the next event.
   */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    for (;;) {
      const callback = this.#callback;
      if (callback === undefined) break;
      let event: E | null;
      if (this.#queue.length > 0) event = this.#take();
      else if (this.#state === 'stopped' && !this.#nullDelivered) {
        this.#nullDelivered = true;
        event = null;
      } else break;
      let result: unknown;
      try {
        const args = this.#callbackArgs;
        result = args.length === 0 ? callback(event) : callback(event, ...args);
      } catch (error) {
        this.#callbackFailed(error);
        continue;
      }
      if (isThenable(result)) {
        result.then(this.#resumePump, (error: unknown) => {
          this.#callbackFailed(error);
          this.#resumePump();
        });
        return;
      }
    }
    this.#pumping = false;
  }

  readonly #resumePump = (): void => {
    this.#pumping = false;
    this.#pump();
  };

  #callbackFailed(error: unknown): void {
    this.emit('error', error instanceof Error ? error : new Error(String(error)));
  }

  #setPaused(paused: boolean): void {
    if (this.#paused === paused) return;
    this.#paused = paused;
    if (paused) this.#connection?.pause(this);
    else this.#connection?.resume(this);
  }

  #clearResubscribeTimer(): void {
    if (this.#resubscribeTimer !== undefined) clearTimeout(this.#resubscribeTimer);
    this.#resubscribeTimer = undefined;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
