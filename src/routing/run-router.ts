/**
 * Routing events by run (after bluesky's `RunRouter`): callbacks made per run by factories
 * when the run starts, fed the run's events, and dropped when it stops, so that memory
 * follows the runs open, not the runs seen.
 */
import type { JournalEvent } from '../journal-event.js';
import { checkOptions, checkPositive } from '../validate.js';
import { callEach, isThenable } from './call-each.js';

/** Receives events of one run (or of one descriptor of it). */
export type RunCallback<E extends JournalEvent = JournalEvent> = (event: E) => unknown;

/** Called on a `descriptor` event of a run; returns the callbacks for that descriptor's events. */
export type DescriptorFactory<E extends JournalEvent = JournalEvent> = (descriptor: E) => readonly RunCallback<E>[];

/**
 * Called on a run's start event; returns the run's callbacks, and optionally the
 * sub-factories called on each of its descriptors (bluesky's two lists).
 */
export type RunFactory<E extends JournalEvent = JournalEvent> = (
  start: E,
) => readonly [callbacks: readonly RunCallback<E>[], subfactories?: readonly DescriptorFactory<E>[]];

export interface RunRouterOptions<E extends JournalEvent = JournalEvent> {
  /** The context key holding an event's run id (a string or a number). @default 'run' */
  key?: string;
  /** The name of the event that starts a run. @default 'start' */
  start?: string;
  /** The name of the event that stops a run. @default 'stop' */
  stop?: string;
  /** The name of descriptor events, and the context key by which a descriptor and its events name it. @default 'descriptor' */
  descriptor?: string;
  /**
   * Receives the events of runs whose start was not seen: history began inside the run, the
   * run had stopped, or it was evicted. @default they are dropped
   */
  orphan?: (event: E) => unknown;
  /**
   * Runs open at once, at most. Opening one more evicts a run that has gone long without
   * an event (least recently used, by the second-chance rule: the oldest run with no event
   * since eviction last passed over it): its callbacks are dropped, `onEvict` is told, and
   * its later events go to `orphan`. A run whose stop never comes so costs memory only
   * until newer runs push it out. @default 1000
   */
  maxOpenRuns?: number;
  /** Descriptors open at once per run, at most; past it the oldest descriptor's callbacks are dropped. @default 100 */
  maxDescriptors?: number;
  /** Told of each run evicted (or replaced by a second start with its id), with its start event. */
  onEvict?: (start: E) => void;
}

interface OpenRun<E extends JournalEvent> {
  readonly start: E;
  /** Set by each event of the run, cleared as eviction passes over it: its second chance. */
  recent: boolean;
  readonly callbacks: readonly RunCallback<E>[];
  readonly subfactories: readonly DescriptorFactory<E>[];
  /** Descriptor id → the callbacks its sub-factories made, oldest descriptor first. */
  readonly descriptors: Map<unknown, readonly RunCallback<E>[]>;
}

const KNOWN_OPTIONS = ['key', 'start', 'stop', 'descriptor', 'orphan', 'maxOpenRuns', 'maxDescriptors', 'onEvict'] as const;

/**
 * Routes each run's events to callbacks made for that run. A run is the events whose
 * `context[key]` holds the same id; events without one are not a run's and are dropped.
 *
 * - On a run's start event, each factory is called with it and returns `[callbacks,
 *   subfactories?]`. The callbacks receive every event of the run, start and stop included.
 * - On each `descriptor` event of the run, each sub-factory is called with it and returns
 *   callbacks that receive the run's start, that descriptor event, the run's events whose
 *   `context.descriptor` names it, and the run's stop.
 * - After the stop event, the run's callbacks are dropped.
 *
 * Callbacks are called in order (the run's, then each descriptor's), one at a time: a
 * callback that returns a promise holds the next until it settles, and makes `route`
 * return a promise the consumer awaits. A factory that throws opens no run; its error
 * comes out of `route`. A second start with an open run's id replaces that run.
 *
 * @example
 * const router = new RunRouter([
 *   (start) => {
 *     let count = 0;
 *     const summary = (event) => { if (event.name === 'event') count++; else if (event.name === 'stop') console.log(`${start.context.run}: ${count} events`); };
 *     return [[summary]];
 *   },
 * ]);
 * consumer.setCallback(router.route);
 */
export class RunRouter<E extends JournalEvent = JournalEvent> {
  readonly #factories: readonly RunFactory<E>[];
  readonly #key: string;
  readonly #startName: string;
  readonly #stopName: string;
  readonly #descriptorName: string;
  readonly #orphan: ((event: E) => unknown) | undefined;
  readonly #onEvict: ((start: E) => void) | undefined;
  readonly #maxOpenRuns: number;
  readonly #maxDescriptors: number;
  /**
   * Open runs by id, oldest first. An event marks its run `recent` rather than moving it to
   * the end, which would cost a delete and a set per event; eviction moves marked runs then.
   */
  readonly #runs = new Map<unknown, OpenRun<E>>();

  constructor(factories: readonly RunFactory<E>[], options: RunRouterOptions<E> = {}) {
    if (!Array.isArray(factories) || factories.some((factory) => typeof factory !== 'function')) {
      throw new TypeError('factories must be an array of functions');
    }
    checkOptions(options, KNOWN_OPTIONS);
    this.#factories = [...factories];
    this.#key = name(options.key ?? 'run', 'options.key');
    this.#startName = name(options.start ?? 'start', 'options.start');
    this.#stopName = name(options.stop ?? 'stop', 'options.stop');
    this.#descriptorName = name(options.descriptor ?? 'descriptor', 'options.descriptor');
    this.#orphan = optionalFunction(options.orphan, 'options.orphan');
    this.#onEvict = optionalFunction(options.onEvict, 'options.onEvict');
    this.#maxOpenRuns = checkPositive(options.maxOpenRuns ?? 1000, 'options.maxOpenRuns', { integer: true });
    this.#maxDescriptors = checkPositive(options.maxDescriptors ?? 100, 'options.maxDescriptors', { integer: true });
  }

  /** How many runs are open now (started, not stopped nor evicted). */
  get openRuns(): number {
    return this.#runs.size;
  }

  /** Routes one event (bound to the router); `null` and the empty (sentinel) event are ignored. */
  readonly route = (event: E | null): unknown => {
    if (event === null || event.name === undefined) return undefined;
    const id = event.context[this.#key];
    if (typeof id !== 'string' && typeof id !== 'number') return undefined;
    if (event.name === this.#startName) return this.#open(id, event);
    const run = this.#runs.get(id);
    if (run === undefined) return this.#orphan?.(event);
    if (event.name === this.#stopName) {
      this.#runs.delete(id);
      return this.#deliver(run, event, [...run.descriptors.values()]);
    }
    run.recent = true;
    if (event.name === this.#descriptorName) return this.#describe(run, event);
    const first = callEach(run.callbacks, event);
    if (run.descriptors.size === 0) return first;
    const descriptor = run.descriptors.get(event.context[this.#descriptorName]);
    if (descriptor === undefined) return first;
    return first === undefined ? callEach(descriptor, event) : first.then(() => callEach(descriptor, event));
  };

  #open(id: string | number, start: E): unknown {
    const callbacks: RunCallback<E>[] = [];
    const subfactories: DescriptorFactory<E>[] = [];
    for (const factory of this.#factories) {
      const made = factory(start);
      if (!Array.isArray(made) || !Array.isArray(made[0])) throw new TypeError('a run factory must return [callbacks, subfactories?]');
      callbacks.push(...checkFunctions<RunCallback<E>>(made[0], 'a run factory'));
      if (made[1] !== undefined) subfactories.push(...checkFunctions<DescriptorFactory<E>>(made[1], 'a run factory (sub-factories)'));
    }
    const replaced = this.#runs.get(id);
    if (replaced !== undefined) {
      this.#runs.delete(id);
      this.#onEvict?.(replaced.start);
    }
    if (this.#runs.size >= this.#maxOpenRuns) this.#evict();
    this.#runs.set(id, { start, recent: false, callbacks, subfactories, descriptors: new Map() });
    return callEach(callbacks, start);
  }

  /** Evicts the oldest run with no event since eviction last passed over it (second chance). */
  #evict(): void {
    for (const [id, run] of this.#runs) {
      if (run.recent) {
        // Its second chance: to the end, unmarked. A full pass unmarks every run, so this ends.
        run.recent = false;
        this.#runs.delete(id);
        this.#runs.set(id, run);
        continue;
      }
      this.#runs.delete(id);
      this.#onEvict?.(run.start);
      return;
    }
  }

  /** A descriptor event: the run's callbacks get it, then the callbacks its sub-factories make get the start and it. */
  #describe(run: OpenRun<E>, event: E): unknown {
    const descriptorId = event.context[this.#descriptorName];
    if (run.subfactories.length === 0 || (typeof descriptorId !== 'string' && typeof descriptorId !== 'number')) {
      return callEach(run.callbacks, event);
    }
    const made: RunCallback<E>[] = [];
    for (const subfactory of run.subfactories) made.push(...checkFunctions<RunCallback<E>>(subfactory(event), 'a descriptor factory'));
    run.descriptors.delete(descriptorId);
    if (run.descriptors.size >= this.#maxDescriptors) run.descriptors.delete(run.descriptors.keys().next().value);
    run.descriptors.set(descriptorId, made);
    const first = callEach(run.callbacks, event);
    const start = run.start;
    const feed = () => {
      const started = callEach(made, start);
      return isThenable(started) ? started.then(() => callEach(made, event)) : callEach(made, event);
    };
    return isThenable(first) ? first.then(feed) : feed();
  }

  /** The run's callbacks get `event`, then each of `descriptors`' callbacks, one list after another. */
  #deliver(run: OpenRun<E>, event: E, descriptors: readonly (readonly RunCallback<E>[])[]): unknown {
    let pending = callEach(run.callbacks, event);
    for (const callbacks of descriptors) {
      pending = pending === undefined ? callEach(callbacks, event) : pending.then(() => callEach(callbacks, event));
    }
    return pending;
  }
}

function name(value: unknown, option: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${option} must be a non-empty string`);
  return value;
}

function optionalFunction<F>(value: F | undefined, option: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`${option} must be a function`);
  return value;
}

function checkFunctions<F>(list: unknown, what: string): F[] {
  if (!Array.isArray(list) || list.some((item) => typeof item !== 'function')) {
    throw new TypeError(`${what} must return an array of functions`);
  }
  return list as F[];
}
