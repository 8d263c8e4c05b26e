/**
 * Routing events by name (after bluesky's `DocumentRouter`): each event goes to the handler
 * declared for its name, what the handler returns goes on to `emit`, and events no handler
 * is declared for go to `default`.
 */
import type { JournalEvent } from '../journal-event.js';
import { checkOptions } from '../validate.js';
import { isThenable } from './call-each.js';

/** A handler of one event name; called with the router as `this`, so a subclass may pass its methods. */
export type RouteHandler<E extends JournalEvent = JournalEvent> = (this: EventRouter<E>, event: E) => unknown;

export interface EventRouterOptions<E extends JournalEvent = JournalEvent> {
  /** Receives what a handler returned, when it is not `undefined`, with the event it came from. */
  emit?: (value: unknown, event: E) => unknown;
  /** Receives the events whose name no handler is declared for. @default they are dropped */
  default?: (event: E) => unknown;
}

const KNOWN_OPTIONS = ['emit', 'default'] as const;

/**
 * Routes each event to the handler declared for its name. Only names declared in
 * `handlers` (own keys of an object, or a Map's keys) have a handler: an event named
 * `constructor`, `__proto__`, `toString` or `route` reaches a handler only if one was
 * declared under that very name. (An object literal's `__proto__: f` sets its prototype
 * and declares nothing; write `['__proto__']: f` or use a Map.)
 *
 * `route` is bound: give it straight to `consumer.setCallback(router.route)`. It ignores the
 * `null` that ends a consumer's stream and the empty (sentinel) event, which have no name. A
 * handler that returns a promise makes `route` return one, which the consumer awaits
 * before its next event.
 *
 * @example
 * const router = new EventRouter({
 *   submit: (event) => `job ${event.context.id} submitted`,
 *   finish: (event) => `job ${event.context.id} done`,
 * }, { emit: (line) => console.log(line), default: (event) => console.log(`other: ${event}`) });
 * consumer.setCallback(router.route);
 */
export class EventRouter<E extends JournalEvent = JournalEvent> {
  readonly #handlers: ReadonlyMap<string, RouteHandler<E>>;
  readonly #emit: ((value: unknown, event: E) => unknown) | undefined;
  readonly #default: ((event: E) => unknown) | undefined;

  constructor(handlers: Readonly<Record<string, RouteHandler<E>>> | ReadonlyMap<string, RouteHandler<E>>, options: EventRouterOptions<E> = {}) {
    checkOptions(options, KNOWN_OPTIONS);
    // Own keys only: what an object inherits (from Object.prototype or any other) is not a handler.
    const entries = handlers instanceof Map ? [...handlers] : isObject(handlers) ? Object.entries(handlers) : undefined;
    if (entries === undefined) throw new TypeError('handlers must be an object or a Map from event names to functions');
    for (const [name, handler] of entries) {
      if (typeof handler !== 'function') throw new TypeError(`handlers[${JSON.stringify(name)}] must be a function`);
    }
    this.#handlers = new Map(entries);
    this.#emit = optionalFunction(options.emit, 'options.emit');
    this.#default = optionalFunction(options.default, 'options.default');
  }

  /** The event names a handler is declared for. */
  get names(): string[] {
    return [...this.#handlers.keys()];
  }

  /** Routes one event (bound to the router). Returns a promise when a handler or `emit` did. */
  readonly route = (event: E | null): unknown => {
    const name = event?.name;
    if (name === undefined) return undefined;
    const handler = this.#handlers.get(name);
    if (handler === undefined) return this.#default?.(event!);
    const result = handler.call(this, event!);
    const emit = this.#emit;
    if (emit === undefined) return result;
    if (isThenable(result)) return Promise.resolve(result).then((value) => (value === undefined ? undefined : emit(value, event!)));
    return result === undefined ? undefined : emit(result, event!);
  };
}

function optionalFunction<F>(value: F | undefined, option: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`${option} must be a function`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
