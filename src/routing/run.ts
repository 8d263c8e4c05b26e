/**
 * Runs from a producer (after bluesky's `compose_run`, and e3's events with their begin and
 * end): a `start` event with a new run id, the run's events each carrying that id and a
 * per-run `seq_num`, and a `stop` event that closes it, in the shape a {@link RunRouter}
 * reads (`context.run`). Made by `producer.startRun()` and `producer.withRun()`.
 */
import { fileDigest, type FileDigest } from '#platform';
import { ErrorCode, JournalError } from '../errors.js';
import type { AppendOptions, AppendResult, JournalProducer } from '../journal-producer.js';
import { isPlainObject } from '../validate.js';

/** How a run ended: `success`, `fail` (an error), or `abort` (left open, or stopped on purpose). */
export type RunExitStatus = 'success' | 'fail' | 'abort';

/** What `run.stop()` records. */
export interface RunStopOptions {
  /** @default 'success' */
  exitStatus?: RunExitStatus;
  /** Why the run ended so, as `reason` in the stop event (at most 4096 characters are kept). */
  reason?: string;
}

/** A file a run recorded with `attach()`: sent in its stop event's `attachments`. */
export type RunAttachment = FileDigest;

/** The most files one run records; `attach()` past it rejects with a RangeError. */
export const MAX_RUN_ATTACHMENTS = 100;
/** Longer reasons are cut to this many characters, so that the stop event stays small. */
const MAX_REASON = 4096;
const EXIT_STATUSES: ReadonlySet<string> = new Set(['success', 'fail', 'abort']);

/**
 * One run of a producer. Its events carry `run` (the id) and `seq_num` (1, 2, … in call
 * order); its `stop` event carries `exit_status`, `reason` (when given), `num_events` (the
 * events appended through the run and stored), `duration` (seconds since the start was
 * stored, by this process's monotonic clock) and `attachments` (when any).
 *
 * A run is `AsyncDisposable`: one still open when its `await using` block is left is
 * stopped with `abort` (a disposer cannot tell success from an exception).
 *
 * @example
 * await using run = await producer.startRun({ plan: 'scan', sample: 'Fe' });
 * await run.append('descriptor', { descriptor: 'primary', keys: ['motor', 'det'] });
 * await run.append('event', { descriptor: 'primary', motor: 1.5, det: 42 });
 * await run.stop({ exitStatus: 'success' });
 */
export class Run implements AsyncDisposable {
  /** The run's id: `context.run` of each of its events. */
  readonly id: string;
  /** Where the run's start event landed. */
  readonly started: AppendResult;
  readonly #producer: JournalProducer;
  readonly #began = performance.now();
  #seqNum = 0;
  #stored = 0;
  /** Appends and attachments not yet settled: the stop waits for them. */
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #attachments: RunAttachment[] = [];
  #attaching = 0;
  #stopping: Promise<AppendResult> | undefined;

  private constructor(producer: JournalProducer, id: string, started: AppendResult) {
    this.#producer = producer;
    this.id = id;
    this.started = started;
  }

  /** @internal `producer.startRun()`: appends the start event, with `metadata` and the run's id. */
  static async start(producer: JournalProducer, metadata: object = {}): Promise<Run> {
    if (!isPlainObject(metadata)) throw new TypeError('metadata must be a plain object');
    const given = metadata['run'];
    if (given !== undefined && (typeof given !== 'string' || given === '')) {
      throw new TypeError('metadata.run, when given, must be a non-empty string: the run id');
    }
    const id = given ?? globalThis.crypto.randomUUID();
    const started = await producer.append('start', { ...metadata, run: id });
    return new Run(producer, id, started);
  }

  /** @internal `producer.withRun()`. */
  static async with<T>(producer: JournalProducer, metadata: object | undefined, fn: (run: Run) => T | Promise<T>): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError('fn must be a function');
    const run = await Run.start(producer, metadata);
    let result: T;
    try {
      result = await fn(run);
    } catch (error) {
      // The run's own error is what the caller hears of; a failed stop would only hide it.
      await run.stop({ exitStatus: 'fail', reason: messageOf(error) }).catch(() => {});
      throw error;
    }
    await run.stop({ exitStatus: 'success' });
    return result;
  }

  /** True once `stop()` was called (or the run disposed). */
  get stopped(): boolean {
    return this.#stopping !== undefined;
  }

  /**
   * Appends an event of the run: its context gets `run` and the next `seq_num` (`options`
   * as `producer.append`'s: a `schema` to check it against). `start` and `stop` are the
   * run's own (`startRun()`, `stop()`) and are refused here.
   */
  append(name: string, context: object = {}, options: AppendOptions = {}): Promise<AppendResult> {
    if (this.#stopping) return Promise.reject(this.#stoppedError('append'));
    if (name === 'start' || name === 'stop') {
      return Promise.reject(new JournalError(ErrorCode.INVALID_EVENT, `a run's ${name} event is appended by ${name === 'start' ? 'startRun()' : 'run.stop()'}`));
    }
    if (!isPlainObject(context)) return Promise.reject(new JournalError(ErrorCode.INVALID_EVENT, 'context must be a plain object'));
    const appended = this.#producer.append(name, { ...context, run: this.id, seq_num: ++this.#seqNum }, options);
    return this.#track(appended.then((result) => {
      this.#stored++;
      return result;
    }));
  }

  /**
   * Records a file's name (`name`, or the file's own), absolute path, size and SHA-1 (the
   * file is read, not uploaded); the stop event lists every file recorded. At most
   * {@link MAX_RUN_ATTACHMENTS} per run.
   */
  attach(path: string, name?: string): Promise<RunAttachment> {
    if (this.#stopping) return Promise.reject(this.#stoppedError('attach'));
    if (typeof path !== 'string' || path === '') return Promise.reject(new TypeError('path must be a non-empty string'));
    if (name !== undefined && (typeof name !== 'string' || name === '')) return Promise.reject(new TypeError('name must be a non-empty string'));
    if (this.#attachments.length + this.#attaching >= MAX_RUN_ATTACHMENTS) {
      return Promise.reject(new RangeError(`a run records at most ${MAX_RUN_ATTACHMENTS} attachments`));
    }
    this.#attaching++;
    const recorded = fileDigest(path).then(
      (digest) => {
        this.#attaching--;
        const attachment = name === undefined ? digest : { ...digest, name };
        this.#attachments.push(attachment);
        return attachment;
      },
      (error: unknown) => {
        this.#attaching--;
        throw error;
      },
    );
    return this.#track(recorded);
  }

  /**
   * Appends the run's `stop` event once the run's appends and attachments in flight have
   * settled, and resolves with where it landed. Later calls return the same promise.
   */
  stop(options: RunStopOptions = {}): Promise<AppendResult> {
    if (this.#stopping) return this.#stopping;
    if (!isPlainObject(options)) return Promise.reject(new TypeError('options must be an object'));
    const { exitStatus = 'success', reason } = options;
    if (typeof exitStatus !== 'string' || !EXIT_STATUSES.has(exitStatus)) {
      return Promise.reject(new TypeError(`options.exitStatus must be 'success', 'fail' or 'abort', got ${JSON.stringify(exitStatus)}`));
    }
    if (reason !== undefined && typeof reason !== 'string') return Promise.reject(new TypeError('options.reason must be a string'));
    this.#stopping = this.#stop(exitStatus as RunExitStatus, reason);
    return this.#stopping;
  }

  /** Stops the run with `abort` if it is still open; else waits for its stop. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#stopping) {
      // Whoever called stop() holds its promise and hears of its failure.
      await this.#stopping.catch(() => {});
      return;
    }
    await this.stop({ exitStatus: 'abort', reason: 'the run was still open when its scope was left' });
  }

  async #stop(exitStatus: RunExitStatus, reason: string | undefined): Promise<AppendResult> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    const context: Record<string, unknown> = {
      run: this.id,
      exit_status: exitStatus,
      num_events: this.#stored,
      duration: Math.round(performance.now() - this.#began) / 1000,
    };
    if (reason !== undefined) context['reason'] = reason.slice(0, MAX_REASON);
    if (this.#attachments.length > 0) context['attachments'] = this.#attachments;
    return this.#producer.append('stop', context);
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    const settled = () => this.#inFlight.delete(promise);
    promise.then(settled, settled);
    return promise;
  }

  #stoppedError(what: string): JournalError {
    return new JournalError(ErrorCode.RUN_STOPPED, `cannot ${what}: run ${this.id} is stopped`);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
