/**
 * The forwarder (after e3's `EventManager`): a consumer that gives every event of a journal
 * to each of its handlers, in order, retrying what fails, and keeps a durable checkpoint of
 * how far every handler got, so that after a restart it goes on from there.
 */
import { ErrorCode, JournalError } from '../errors.js';
import type { JournalConnection } from '../connection.js';
import { JournalConsumer, type JournalConsumerEvents, type JournalConsumerOptions, type JournalResponse } from '../journal-consumer.js';
import { JournalEvent } from '../journal-event.js';
import { JournalProducer } from '../journal-producer.js';
import type { EventEntry } from '../protocol.js';
import { checkJournalName, checkPositive, isPlainObject } from '../validate.js';
import { backoffDelay, sleep } from './backoff.js';
import { Checkpoint, type CheckpointPosition } from './checkpoint.js';
import { eventKey, isRefusal, type Delivery, type EventHandler } from './handler.js';

export interface ForwarderOptions extends JournalConsumerOptions {
  /** Where the events go: each handler gets every event, in order. At least one. */
  handlers: readonly EventHandler[];
  /**
   * A file that keeps the position of the last event every handler has taken (written
   * atomically). A forwarder started on an existing one goes on after that event; one for
   * another journal is refused with `INVALID_CHECKPOINT`. @default none: the position lives
   * in memory only
   */
  checkpoint?: string;
  /**
   * Seconds between checkpoint writes at most: the position is written once this long has
   * passed since the last write, after 5,000 events, and at `stop()`. Handlers with a
   * `flush()` are flushed first. @default 1
   */
  checkpointInterval?: number;
  /** Seconds before the first retry of a failed send; each retry of the same event waits twice as long. @default 0.1 */
  retryDelay?: number;
  /** Longest wait between retries, seconds. @default 30 */
  maxRetryDelay?: number;
  /**
   * What to do with an event a handler refuses for good (`EVENT_REFUSED`: a webhook's 4xx
   * other than 408 and 429). Unset (the default), the forwarder emits the error and stops,
   * its checkpoint before that event, so that nothing after it is skipped and a restart
   * (once the cause is fixed) sends it again. Set to a journal name, the forwarder appends
   * a `refused` event to that journal on the same server (with the handler, the event's
   * journal, seq and timestamp, the error, and the event itself) and goes on.
   */
  deadLetter?: string;
  /** Events given to the handlers at once, at most (a handler with `sendBatch` takes them in one call). @default 1000 */
  maxPageSize?: number;
}

/** The events a forwarder emits: a consumer's, and `'forwarded'` each time every handler has taken more. */
export interface ForwarderEvents extends JournalConsumerEvents<JournalEvent> {
  /** Every handler has taken the events up to `position` (the checkpoint is written later, per `checkpointInterval`). */
  forwarded: [position: CheckpointPosition];
  /** Every handler has taken the history (the events stored when the stream started); live events follow. */
  caughtUp: [];
}

/** The position is written after this many events even if `checkpointInterval` has not passed. */
const CHECKPOINT_EVENTS = 5000;

/**
 * A {@link JournalConsumer} that forwards its journal to handlers. Each page of events (as
 * they arrive, at most `maxPageSize`) goes to every handler at once, and to each in order; the
 * position moves past a page only once every handler has taken all of it. A send that fails
 * is retried, the same event again, with capped exponential backoff and an `'error'` event
 * for each failure; it is never skipped. So each handler gets every event at least once, and
 * through the idempotency key (`journal:seq`) can store it once.
 *
 * History is delivered as it arrives (`bufferHistory` defaults to false here), in bounded
 * memory; `'caughtUp'` says when every handler has it (`includeSentinel` has no effect). Read a forwarder through its handlers only: not with `poll`, a callback or an
 * iterator. `stop()` ends the stream and any send in progress, writes the checkpoint, then
 * emits `'end'`; `close()` also closes the handlers. `lastTimestamp` is the position's: a
 * forwarder started again goes on from it.
 *
 * @example
 * const forwarder = new Forwarder('ws://127.0.0.1:7707', 'jobs', {
 *   handlers: [new FileHandler('/var/log/jobs.jsonl'), new WebhookHandler('https://example.com/hook')],
 *   checkpoint: './jobs.checkpoint.json',
 * }).start();
 * forwarder.on('error', (error) => console.error(error.message));
 */
export class Forwarder extends JournalConsumer<JournalEvent> {
  readonly #handlers: readonly EventHandler[];
  readonly #checkpoint: Checkpoint | undefined;
  readonly #checkpointMs: number;
  readonly #retryDelay: number;
  readonly #maxRetryDelay: number;
  readonly #deadLetterJournal: string | undefined;
  readonly #maxPageSize: number;
  readonly #url: string | readonly string[] | JournalConnection;
  readonly #token: string | undefined;
  #deadLetter: JournalProducer | undefined;
  /** The last event every handler has taken, and the last position written to the checkpoint. */
  #position: CheckpointPosition | undefined;
  #saved: CheckpointPosition | undefined;
  #lastSave = performance.now();
  #sinceSave = 0;
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  /** The checkpoint write running, if any, and whether another was asked for meanwhile. */
  #saving: Promise<void> | undefined;
  #saveAgain = false;
  /** Aborted by `stop()`: every send and retry wait in progress gives up. */
  #abort = new AbortController();
  /** The delivery loop, while it runs; and whether `start()` wants one. */
  #loop: Promise<void> | undefined;
  #wanted = false;
  /** The base class's `'end'` waits here while the loop writes the checkpoint. */
  #endHeld = false;
  #closing: Promise<void> | undefined;
  /** The refusal that stopped the forwarder, if one did. */
  #failure: JournalError | undefined;

  constructor(url: string | readonly string[] | JournalConnection, journal: string, options: ForwarderOptions) {
    const { forwarder, consumer, saved } = Forwarder.#split(journal, options);
    super(url, journal, consumer);
    this.#url = url;
    this.#token = options.token;
    this.#handlers = forwarder.handlers;
    this.#checkpoint = forwarder.checkpoint;
    this.#checkpointMs = forwarder.checkpointInterval * 1000;
    this.#retryDelay = forwarder.retryDelay;
    this.#maxRetryDelay = forwarder.maxRetryDelay;
    this.#deadLetterJournal = forwarder.deadLetter;
    this.#maxPageSize = forwarder.maxPageSize;
    this.#position = saved;
    this.#saved = saved;
  }

  /** Checks the options, reads the checkpoint, and says where the stream starts. */
  static #split(journal: string, options: ForwarderOptions) {
    if (!isPlainObject(options)) throw new TypeError('options must be an object with options.handlers');
    const { handlers, checkpoint, checkpointInterval = 1, retryDelay = 0.1, maxRetryDelay = 30, deadLetter, maxPageSize = 1000, ...consumer } = options;
    if (!Array.isArray(handlers) || handlers.length === 0) throw new TypeError('options.handlers must be a non-empty array of handlers');
    for (const [index, handler] of handlers.entries()) {
      if (typeof handler?.send !== 'function' || typeof handler.name !== 'string') throw new TypeError(`options.handlers[${index}] is not a handler (name, send)`);
    }
    checkPositive(checkpointInterval, 'options.checkpointInterval');
    checkPositive(retryDelay, 'options.retryDelay');
    checkPositive(maxRetryDelay, 'options.maxRetryDelay');
    checkPositive(maxPageSize, 'options.maxPageSize', { integer: true });
    if (deadLetter !== undefined) checkJournalName(deadLetter, 'options.deadLetter');
    const file = checkpoint === undefined ? undefined : new Checkpoint(checkpoint, checkJournalName(journal));
    const saved = file?.read();
    const since = Math.max(typeof consumer.since === 'number' ? consumer.since : 0, saved?.timestamp ?? 0);
    return {
      forwarder: { handlers: [...handlers], checkpoint: file, checkpointInterval, retryDelay, maxRetryDelay, deadLetter, maxPageSize },
      // The sentinel marks, in delivery order, where history ends: 'caughtUp'.
      consumer: { bufferHistory: false, ...consumer, since, includeSentinel: true },
      saved,
    };
  }

  /** The last event every handler has taken (or the checkpoint's, before any). */
  get position(): CheckpointPosition | undefined {
    return this.#position;
  }

  /** The refusal that stopped the forwarder, when its refusal policy did (no `deadLetter`). */
  get failure(): JournalError | undefined {
    return this.#failure;
  }

  /** Where a restart goes on from: the last event every handler has taken. */
  override get lastTimestamp(): number {
    return Math.max(this.#position?.timestamp ?? 0, this.since);
  }

  processResponse(_resp: JournalResponse): Record<string, unknown> {
    return {};
  }

  createEvent(entry: EventEntry, _kwargs: Record<string, unknown>): JournalEvent {
    return new JournalEvent(entry);
  }

  /** Starts (or restarts) the stream and the delivery to the handlers. */
  override start(): this {
    if (this.#closing) throw new JournalError(ErrorCode.CLOSED, 'the forwarder is closed');
    this.#wanted = true;
    this.#failure = undefined;
    if (this.#abort.signal.aborted) this.#abort = new AbortController();
    super.start();
    this.#runLoop();
    return this;
  }

  /** Stops the stream and any send in progress; the checkpoint is written before `'end'`. Idempotent. */
  override stop(): void {
    this.#wanted = false;
    if (!this.#abort.signal.aborted) this.#abort.abort(new JournalError(ErrorCode.CLOSED, 'the forwarder stopped'));
    super.stop();
  }

  /** Stops, waits for the checkpoint, then closes every handler. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.stop();
      while (this.#loop) await this.#loop;
      await Promise.allSettled(this.#handlers.map((handler) => handler.close?.()));
    })();
    return this.#closing;
  }

  override on<T extends keyof ForwarderEvents>(event: T, listener: (...args: ForwarderEvents[T]) => void, context?: unknown): this {
    return super.on(event as never, listener as never, context);
  }

  override once<T extends keyof ForwarderEvents>(event: T, listener: (...args: ForwarderEvents[T]) => void, context?: unknown): this {
    return super.once(event as never, listener as never, context);
  }

  override off<T extends keyof ForwarderEvents>(event: T, listener?: (...args: ForwarderEvents[T]) => void, context?: unknown, once?: boolean): this {
    return super.off(event as never, listener as never, context, once);
  }

  /** Holds the base class's `'end'` while the loop finishes, so that it follows the checkpoint. */
  override emit(event: any, ...args: any[]): boolean {
    if (event === 'end' && this.#loop !== undefined) {
      this.#endHeld = true;
      return this.listenerCount('end') > 0;
    }
    return super.emit(event, ...args);
  }

  #runLoop(): void {
    if (this.#loop !== undefined) return;
    this.#loop = this.#deliverAll().finally(() => {
      this.#loop = undefined;
      if (this.#endHeld) {
        this.#endHeld = false;
        super.emit('end');
      }
      // start() again while the loop was finishing: a new loop takes the new stream.
      if (this.#wanted) this.#runLoop();
    });
  }

  async #deliverAll(): Promise<void> {
    const sentinel = (this.constructor as typeof JournalConsumer).SENTINEL_EVENT;
    const signal = this.#abort.signal;
    try {
      for await (const page of this.pages({ maxPageSize: this.#maxPageSize })) {
        if (page[0] === sentinel) {
          this.emit('caughtUp');
          continue;
        }
        // How far into the page each handler got: the position moves to where all of them did,
        // also when a stop or a refusal cuts the page short.
        const progress = new Array<number>(this.#handlers.length).fill(0);
        const results = await Promise.allSettled(this.#handlers.map((handler, i) => this.#deliverTo(handler, page, signal, progress, i)));
        const taken = Math.min(...progress);
        if (taken > 0) {
          const last = page[taken - 1]!;
          this.#position = { seq: last.seq ?? 0, timestamp: last.timestamp };
          this.#sinceSave += taken;
          this.emit('forwarded', this.#position);
        }
        const failed = results.find((result) => result.status === 'rejected');
        if (failed !== undefined) throw failed.reason;
        // The write goes on beside the deliveries: they need not wait for the disk.
        if (this.#sinceSave >= CHECKPOINT_EVENTS || performance.now() - this.#lastSave >= this.#checkpointMs) this.#save();
        else this.#scheduleSave();
      }
    } catch (error) {
      // A stop cuts deliveries short; a refusal was reported where it happened.
      if (!signal.aborted && !isRefusal(error)) this.emit('error', error instanceof Error ? error : new Error(String(error)));
    } finally {
      clearTimeout(this.#saveTimer);
      this.#saveTimer = undefined;
      while (this.#saving) await this.#saving;
      await this.#write();
      const deadLetter = this.#deadLetter;
      this.#deadLetter = undefined;
      await deadLetter?.close().catch(() => {});
    }
  }

  /** Gives `page` to `handler` in order, retrying each failure, until it has taken all of it. */
  async #deliverTo(handler: EventHandler, page: readonly JournalEvent[], signal: AbortSignal, progress: number[], slot: number): Promise<void> {
    const delivery: Delivery = { journal: this.journal, signal };
    let batched = typeof handler.sendBatch === 'function';
    let index = 0;
    let attempt = 0;
    while (index < page.length) {
      if (signal.aborted) throw signal.reason;
      const event = page[index]!;
      try {
        if (batched) {
          await untilAborted(handler.sendBatch!(index === 0 ? page : page.slice(index), delivery), signal);
          index = page.length;
        } else {
          await untilAborted(handler.send(event, delivery), signal);
          index++;
        }
        progress[slot] = index;
        attempt = 0;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (isRefusal(error)) {
          // A refused batch does not say which event: one at a time finds it.
          if (batched) {
            batched = false;
            continue;
          }
          await this.#refused(handler, event, error as JournalError, signal);
          progress[slot] = ++index;
          attempt = 0;
          continue;
        }
        const delay = backoffDelay(attempt++, this.#retryDelay, this.#maxRetryDelay);
        const message = `the ${handler.name} handler did not take ${this.#key(event)} (attempt ${attempt}): ${(error as Error)?.message ?? String(error)}; retrying in ${delay.toFixed(2)} s`;
        this.emit('error', new JournalError(ErrorCode.HANDLER_FAILED, message, { cause: error }));
        await sleep(delay, signal);
      }
    }
  }

  /** The refusal policy: stop and report, or record the event in the dead-letter journal and go on. */
  async #refused(handler: EventHandler, event: JournalEvent, error: JournalError, signal: AbortSignal): Promise<void> {
    const key = this.#key(event);
    if (this.#deadLetterJournal === undefined) {
      const refusal = new JournalError(
        ErrorCode.EVENT_REFUSED,
        `the ${handler.name} handler refused ${key} for good (${error.message}); the forwarder stops before it, so that nothing after it is skipped`,
        { cause: error },
      );
      this.#failure = refusal;
      this.emit('error', refusal);
      this.stop();
      throw refusal;
    }
    const record = {
      handler: handler.name,
      journal: this.journal,
      seq: event.seq,
      timestamp: event.timestamp,
      error: { code: error.code, message: error.message },
      event: event.toJSON(),
    };
    let withEvent = true;
    for (let attempt = 0; ; ) {
      if (signal.aborted) throw signal.reason;
      try {
        const { event: _event, ...withoutEvent } = record;
        const context = withEvent ? record : withoutEvent;
        this.#deadLetter ??= this.#deadLetterProducer(this.#deadLetterJournal);
        await untilAborted(this.#deadLetter.appendMany([{ name: 'refused', context }], { key: eventKey(this.journal, event.seq ?? 0, `:${handler.name}`) }), signal);
        this.emit('error', new JournalError(ErrorCode.EVENT_REFUSED, `the ${handler.name} handler refused ${key} for good (${error.message}); recorded in ${this.#deadLetterJournal}`, { cause: error }));
        return;
      } catch (failure) {
        if (signal.aborted) throw signal.reason;
        const code = failure instanceof JournalError ? failure.code : undefined;
        // An event too large to carry along is recorded by its position alone.
        if (withEvent && (code === ErrorCode.EVENT_TOO_LARGE || code === ErrorCode.INVALID_EVENT)) {
          withEvent = false;
          continue;
        }
        const delay = backoffDelay(attempt++, this.#retryDelay, this.#maxRetryDelay);
        this.emit('error', new JournalError(ErrorCode.HANDLER_FAILED, `recording ${key} in ${this.#deadLetterJournal} failed: ${(failure as Error).message}; retrying in ${delay.toFixed(2)} s`, { cause: failure }));
        await sleep(delay, signal);
      }
    }
  }

  #deadLetterProducer(journal: string): JournalProducer {
    if (typeof this.#url === 'string' || Array.isArray(this.#url)) {
      return new JournalProducer(this.#url as string | readonly string[], journal, this.#token === undefined ? {} : { token: this.#token });
    }
    return new JournalProducer(this.#url as JournalConnection, journal);
  }

  /** Writes the checkpoint after the next interval, unless a write is due earlier. */
  #scheduleSave(): void {
    if (this.#checkpoint === undefined || this.#saveTimer !== undefined) return;
    const wait = Math.max(0, this.#lastSave + this.#checkpointMs - performance.now());
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      this.#save();
    }, wait);
  }

  /** Starts a checkpoint write, or, while one runs, asks for one more after it: never two at once, never a queue. */
  #save(): void {
    if (this.#saving !== undefined) {
      this.#saveAgain = true;
      return;
    }
    this.#saving = this.#write().finally(() => {
      this.#saving = undefined;
      if (!this.#saveAgain) return;
      this.#saveAgain = false;
      this.#save();
    });
  }

  async #write(): Promise<void> {
    const position = this.#position;
    if (this.#checkpoint === undefined || position === undefined || position === this.#saved) return;
    try {
      for (const handler of this.#handlers) await handler.flush?.();
      await this.#checkpoint.write(position);
      this.#saved = position;
      this.#lastSave = performance.now();
      this.#sinceSave = 0;
    } catch (error) {
      // The position stays where it was: what follows it is sent again after a restart.
      this.emit('error', new JournalError(ErrorCode.INVALID_CHECKPOINT, `cannot write the checkpoint ${this.#checkpoint.path}: ${(error as Error).message}`, { cause: error }));
    }
  }

  #key(event: JournalEvent): string {
    return eventKey(this.journal, event.seq ?? 0);
  }
}

/** `promise`, or the signal's reason as soon as it is aborted (the promise's own outcome is then ignored). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
