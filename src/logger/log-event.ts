/**
 * A log call as the JSON text of a journal event, `{"name":"log","context":{…}}`,
 * made without ever throwing: what JSON cannot hold (cycles, BigInt, throwing
 * getters or `toJSON`) is replaced by a string, errors become plain objects,
 * and depth and breadth are bounded so that one call cannot hold the event
 * loop for long.
 */
import { configure } from 'safe-stable-stringify';
import { utf8Length } from '../utf8.js';

/** Object nesting kept in fields; deeper objects are written as `"[Object]"`. */
const MAX_DEPTH = 16;
/** Keys or items kept per object or array; the rest are counted in a `"..."` entry. */
const MAX_BREADTH = 1000;
/** Links of an error's `cause` chain (and nested `errors`) kept. */
const MAX_CAUSES = 8;
/** Characters of the message kept when an event is cut to fit the server's largest event. */
const TRUNCATED_MESSAGE = 4096;

const stringify = configure({
  bigint: 'string',
  circularValue: '[Circular]',
  deterministic: false,
  maximumDepth: MAX_DEPTH,
  maximumBreadth: MAX_BREADTH,
  safe: true,
});

/** The context keys the logger writes itself; a bound key or field of the same name is kept with a `_` before it. */
const RESERVED = new Set(['level', 'levelno', 'message']);

/** An error as a log field: its name, message, stack, code, and the same for its `cause` chain. */
export interface ErrorFields {
  name?: string;
  message: string;
  stack?: string;
  code?: unknown;
  cause?: ErrorFields;
  errors?: ErrorFields[];
}

/** `error` as plain fields; a thrown value that is not an Error gives `{ message: String(value) }`. */
export function describeError(error: unknown, depth = 0, seen = new Set<unknown>()): ErrorFields {
  if (!(error instanceof Error)) return { message: safeString(error) };
  seen.add(error);
  const fields: ErrorFields = { name: safeString(error.name), message: safeString(error.message) };
  if (typeof error.stack === 'string') fields.stack = error.stack;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') fields.code = code;
  if (depth < MAX_CAUSES) {
    const cause = (error as { cause?: unknown }).cause;
    if (cause !== undefined && !seen.has(cause)) fields.cause = describeError(cause, depth + 1, seen);
    if (error instanceof AggregateError && Array.isArray(error.errors)) {
      fields.errors = error.errors.slice(0, MAX_CAUSES).map((item: unknown) => describeError(item, depth + 1, seen));
    }
  }
  return fields;
}

/** `String(value)`, or a placeholder when even that throws. */
export function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '[unprintable]';
  }
}

/**
 * The bound context of a logger, encoded once: its keys (to detect fields that
 * repeat them) and its JSON members without braces.
 */
export class BoundContext {
  readonly values: Readonly<Record<string, unknown>>;
  readonly #keys: ReadonlySet<string>;
  /** `"k":v,"k2":v2`, or "" when empty. */
  readonly #members: string;

  constructor(values: Record<string, unknown>) {
    this.values = renameReserved(values);
    this.#keys = new Set(Object.keys(this.values));
    this.#members = members(this.values);
  }

  /**
   * The event `log` as JSON text: `{ level, levelno, message, source?, …bound, …fields }`
   * (a later key wins over an earlier one of the same name).
   */
  encode(level: string, levelno: number, message: string, source: string | undefined, fields: unknown): string {
    const head = `{"name":"log","context":{"level":"${level}","levelno":${levelno},"message":${JSON.stringify(message)}`;
    let rest: string;
    const own = fieldValues(fields);
    if (own === undefined) {
      rest = joinMembers(source === undefined ? '' : `"source":${JSON.stringify(source)}`, this.#members);
    } else if (this.#clashes(own)) {
      rest = members({ ...(source === undefined ? {} : { source }), ...this.values, ...own });
    } else {
      rest = joinMembers(joinMembers(source === undefined ? '' : `"source":${JSON.stringify(source)}`, this.#members), members(own));
    }
    return rest === '' ? `${head}}}` : `${head},${rest}}}`;
  }

  #clashes(own: Record<string, unknown>): boolean {
    for (const key in own) if (key === 'source' || this.#keys.has(key)) return true;
    return false;
  }
}

/**
 * `event` (from {@link BoundContext.encode}) cut to fit `maxBytes` (the server's largest event,
 * name and context): the message shortened, the fields left out, and
 * `truncated: <the original size>` added. `undefined` if even that does not fit.
 */
export function truncateEvent(
  maxBytes: number,
  bound: BoundContext,
  level: string,
  levelno: number,
  message: string,
  source: string | undefined,
  bytes: number,
): string | undefined {
  const short = message.length > TRUNCATED_MESSAGE ? `${message.slice(0, TRUNCATED_MESSAGE)}…` : message;
  for (const context of [bound, new BoundContext({})]) {
    const event = context.encode(level, levelno, short, source, { truncated: bytes });
    if (utf8Length(event) <= maxBytes) return event;
  }
  return undefined;
}

/** The fields as an object whose errors are plain fields, or undefined when there are none. */
function fieldValues(fields: unknown): Record<string, unknown> | undefined {
  if (fields === undefined || fields === null) return undefined;
  if (typeof fields !== 'object' || Array.isArray(fields)) return { fields: fields as unknown };
  let own: Record<string, unknown> | undefined;
  let renamed = false;
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue;
    own ??= {};
    let value: unknown;
    try {
      value = (fields as Record<string, unknown>)[key];
    } catch (error) {
      value = `[unreadable: ${safeString((error as Error)?.message ?? error)}]`;
    }
    own[key] = value instanceof Error ? describeError(value) : value;
    if (RESERVED.has(key)) renamed = true;
  }
  if (own === undefined) return undefined;
  return renamed ? renameReserved(own) : own;
}

function renameReserved(values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(values)) out[RESERVED.has(key) ? `_${key}` : key] = values[key];
  return out;
}

/** An object's JSON members without the braces, "" when it has none. */
function members(values: Record<string, unknown>): string {
  const json = stringify(values) ?? '{}';
  return json.length <= 2 ? '' : json.slice(1, -1);
}

function joinMembers(a: string, b: string): string {
  return a === '' ? b : b === '' ? a : `${a},${b}`;
}
