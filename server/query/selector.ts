/**
 * Selectors: MongoDB-style queries on an event's `{ name, timestamp, seq, context }`, with
 * dotted paths, evaluated by sift. Only the operators of the contract are accepted:
 * `$eq $ne $gt $gte $lt $lte $in $nin $exists $regex` (with `$options`) `$and $or $nor $not`;
 * anything else, and any selector past the size limits, is refused with `INVALID_SELECTOR`
 * before sift sees it.
 *
 * `$regex` is the one operator whose cost a client could blow up: a backtracking engine takes
 * exponential time on patterns like `(a|a)*b`. Patterns run on re2js, a JavaScript port of RE2
 * (the engine the server's schema validation uses too), whose time is linear in pattern ×
 * subject; RE2 refuses what it cannot run that way (backreferences, lookaround). Subjects are
 * event strings, at most `maxEventSize` long.
 */
import { RE2JS } from 're2js';
import sift from 'sift';
import { ErrorCode, JournalError } from '../../src/errors.js';
import { isPlainObject } from '../../src/validate.js';
import { textPrefilter, type TextPrefilter } from './text-prefilter.js';

/** The fields of an event a selector sees. */
export interface EventDocument {
  readonly name: string;
  readonly timestamp: number;
  readonly seq: number;
  readonly context?: Record<string, unknown>;
}

/** A checked, compiled selector. */
export interface Selector {
  /** True when the event matches. */
  test(event: EventDocument): boolean;
  /** Whether the selector reads `context` (the event's JSON must then be parsed). */
  readonly readsContext: boolean;
  /** A check of an event's JSON text that is false only for events the selector cannot match (text-prefilter.ts). */
  readonly mayMatch?: TextPrefilter | undefined;
}

/** How large a selector may be. */
export interface SelectorLimits {
  /** UTF-16 units of the selector's JSON. @default 4096 */
  readonly maxLength: number;
  /** Nesting of objects and arrays. @default 8 */
  readonly maxDepth: number;
  /** Values in the selector, operators and operands counted alike. @default 256 */
  readonly maxNodes: number;
  /** Characters of one `$regex` pattern. @default 256 */
  readonly maxRegexLength: number;
}

export const SELECTOR_LIMITS: SelectorLimits = { maxLength: 4096, maxDepth: 8, maxNodes: 256, maxRegexLength: 256 };

/** The operators that combine queries. */
const LOGICAL = new Set(['$and', '$or', '$nor']);
/** The operators that apply to a field's value. */
const FIELD = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$regex', '$options', '$not']);
/** What a path may start with. */
const ROOTS = new Set(['name', 'timestamp', 'seq', 'context']);
/** Path segments that would reach an object's prototype instead of its data. */
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);
/** `$options` letters: case-insensitive, multi-line, dot-all (MongoDB's `x` and JavaScript's stateful `g` and `y` are not taken). */
const REGEX_OPTIONS = /^[ims]*$/;
const REGEX_FLAGS: Readonly<Record<string, number>> = { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL };

const { createQueryTester, createEqualsOperation, $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists, $and, $or, $nor, $not, $options } =
  sift as unknown as typeof import('sift');

/** sift's own operators, but `$regex`, which compiles for re2js. */
const OPERATIONS = {
  $eq,
  $ne,
  $gt,
  $gte,
  $lt,
  $lte,
  $in,
  $nin,
  $exists,
  $and,
  $or,
  $nor,
  $not,
  $options,
  $regex: (pattern: string, ownerQuery: Record<string, unknown>, options: Parameters<typeof createEqualsOperation>[2]) =>
    createEqualsOperation(linearRegExp(pattern, ownerQuery['$options']), ownerQuery, options),
};

/**
 * Parses a selector's JSON text (as the HTTP `where` parameter carries it) and compiles it.
 * Throws a JournalError `INVALID_SELECTOR` saying what is wrong.
 */
export function parseSelector(text: string, limits: SelectorLimits = SELECTOR_LIMITS): Selector {
  if (text.length > limits.maxLength) invalid(`the selector is ${text.length} characters; at most ${limits.maxLength}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    invalid(`the selector is not valid JSON (${(error as Error).message})`);
  }
  return compileSelector(value, limits, text.length);
}

/**
 * Checks a selector (a parsed JSON value, as a subscription's payload carries it) against
 * the operators and limits, and compiles it. Throws a JournalError `INVALID_SELECTOR`.
 */
export function compileSelector(selector: unknown, limits: SelectorLimits = SELECTOR_LIMITS, length?: number): Selector {
  const size = length ?? jsonLength(selector);
  if (size > limits.maxLength) invalid(`the selector is ${size} characters of JSON; at most ${limits.maxLength}`);
  if (!isPlainObject(selector)) invalid('a selector must be a JSON object, like {"context.state":"failed"}');
  const check = new Checker(limits);
  check.query(selector, 1);
  let test: (event: EventDocument) => boolean;
  try {
    test = createQueryTester(selector, { operations: OPERATIONS }) as (event: EventDocument) => boolean;
  } catch (error) {
    if (error instanceof JournalError) throw error;
    invalid((error as Error).message);
  }
  return { test, readsContext: check.readsContext, mayMatch: check.readsContext ? textPrefilter(selector) : undefined };
}

/** Walks a selector, refusing what the contract does not allow and counting its size. */
class Checker {
  readonly #limits: SelectorLimits;
  #nodes = 0;
  readsContext = false;

  constructor(limits: SelectorLimits) {
    this.#limits = limits;
  }

  /** A query: logical operators and field paths. */
  query(query: Record<string, unknown>, depth: number): void {
    this.#enter(depth);
    for (const [key, value] of Object.entries(query)) {
      if (LOGICAL.has(key)) {
        if (!Array.isArray(value) || value.length === 0) invalid(`${key} takes a non-empty array of selectors`);
        this.#enter(depth + 1);
        for (const item of value) {
          if (!isPlainObject(item)) invalid(`each selector in ${key} must be an object`);
          this.query(item, depth + 2);
        }
      } else if (key.startsWith('$')) {
        invalid(unknownOperator(key));
      } else {
        this.#path(key);
        this.#condition(key, value, depth + 1);
      }
    }
  }

  /** What a field must satisfy: an operator object, or a value it must equal. */
  #condition(path: string, value: unknown, depth: number): void {
    if (!isPlainObject(value) || !Object.keys(value).some((key) => key.startsWith('$'))) {
      this.#literal(value, depth);
      return;
    }
    this.#enter(depth);
    for (const [key, operand] of Object.entries(value)) {
      if (!key.startsWith('$')) invalid(`${path}: operators and plain fields cannot be mixed (${key})`);
      if (!FIELD.has(key)) invalid(unknownOperator(key));
      switch (key) {
        case '$in':
        case '$nin':
          if (!Array.isArray(operand)) invalid(`${path}: ${key} takes an array`);
          this.#literal(operand, depth + 1);
          break;
        case '$exists':
          if (typeof operand !== 'boolean') invalid(`${path}: $exists takes true or false`);
          this.#enter(depth + 1);
          break;
        case '$regex':
          if (typeof operand !== 'string') invalid(`${path}: $regex takes a string`);
          if (operand.length > this.#limits.maxRegexLength) {
            invalid(`${path}: the $regex pattern is ${operand.length} characters; at most ${this.#limits.maxRegexLength}`);
          }
          this.#enter(depth + 1);
          break;
        case '$options':
          if (typeof operand !== 'string' || !REGEX_OPTIONS.test(operand)) invalid(`${path}: $options takes letters of "ims"`);
          if (!('$regex' in value)) invalid(`${path}: $options needs $regex`);
          this.#enter(depth + 1);
          break;
        case '$not':
          if (!isPlainObject(operand) || !Object.keys(operand).every((k) => k.startsWith('$'))) {
            invalid(`${path}: $not takes an operator object, like {"$in":[1,2]}`);
          }
          this.#condition(path, operand, depth + 1);
          break;
        default:
          this.#literal(operand, depth + 1);
      }
    }
  }

  /** A JSON value compared as it is: only its size counts. */
  #literal(value: unknown, depth: number): void {
    this.#enter(depth);
    if (Array.isArray(value)) for (const item of value) this.#literal(item, depth + 1);
    else if (isPlainObject(value)) for (const item of Object.values(value)) this.#literal(item, depth + 1);
  }

  #path(path: string): void {
    const segments = path.split('.');
    if (segments.some((segment) => segment === '')) invalid(`${JSON.stringify(path)} is not a valid path`);
    if (!ROOTS.has(segments[0]!)) {
      invalid(`${JSON.stringify(path)}: a selector sees name, timestamp, seq and context (did you mean "context.${path}"?)`);
    }
    if (segments.some((segment) => FORBIDDEN_SEGMENTS.has(segment))) invalid(`${JSON.stringify(path)} is not a valid path`);
    if (segments[0] === 'context') this.readsContext = true;
  }

  #enter(depth: number): void {
    if (depth > this.#limits.maxDepth) invalid(`the selector is nested more than ${this.#limits.maxDepth} deep`);
    if (++this.#nodes > this.#limits.maxNodes) invalid(`the selector has more than ${this.#limits.maxNodes} values`);
  }
}

/** Compiles a `$regex` for re2js, as the test sift applies to each value; refuses what RE2 cannot run. */
function linearRegExp(pattern: string, options: unknown): (value: unknown) => boolean {
  let flags = 0;
  for (const letter of typeof options === 'string' ? options : '') flags |= REGEX_FLAGS[letter] ?? 0;
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(RE2JS.translateRegExp(pattern), flags);
  } catch (error) {
    invalid(`$regex ${JSON.stringify(pattern)} cannot be used: ${(error as Error).message} (backreferences and lookaround are not supported)`);
  }
  return (value) => typeof value === 'string' && regex.test(value);
}

function unknownOperator(key: string): string {
  return `unknown operator ${key}; a selector may use $eq $ne $gt $gte $lt $lte $in $nin $exists $regex $options $and $or $nor $not`;
}

function jsonLength(value: unknown): number {
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    invalid('the selector cannot be encoded as JSON');
  }
}

function invalid(message: string): never {
  throw new JournalError(ErrorCode.INVALID_SELECTOR, message);
}
