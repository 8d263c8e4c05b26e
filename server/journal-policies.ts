/**
 * Journal policies: what a journal requires of the events appended to it, set per journal name
 * or per glob of names (`*` matches any run of characters). For each journal the most specific
 * key wins whole: a name without `*` before any glob, then the glob with the most characters
 * other than `*`, then the one with fewer `*`, then the first in code-point order. Policies are
 * not merged: a journal follows one key's policy or none.
 */
import { isPlainObject } from '../src/validate.js';
import { globPattern, JOURNAL_GLOB } from './journal-glob.js';

/** What a journal requires of the events appended to it. */
export interface JournalPolicy {
  /** Refuse events that name no schema, with `SCHEMA_REQUIRED`. @default false */
  readonly requireSchema?: boolean;
  /** The schema `$id`s events may name; an event naming another is refused with `SCHEMA_NOT_ALLOWED`. @default any */
  readonly allowedSchemas?: readonly string[];
  /** How long the journal keeps its events, and what happens to the older ones (see {@link RetentionPolicy}). @default keep everything */
  readonly retention?: RetentionPolicy;
}

/**
 * How much of a journal the server keeps: events past any limit are removed (or archived),
 * oldest first, in the background. The newest event is always kept.
 */
export interface RetentionPolicy {
  /** Seconds: events older than this go. */
  readonly maxAge?: number;
  /** Events: the newest this many are kept. */
  readonly maxEvents?: number;
  /** Bytes of stored events (their JSON, UTF-8): the newest that fit are kept. */
  readonly maxBytes?: number;
  /** Move the events past a limit into archive files instead of deleting them. @default false */
  readonly archive?: boolean;
}

/** A policy as the server applies it. */
export interface ResolvedPolicy {
  readonly key: string;
  readonly requireSchema: boolean;
  readonly allowedSchemas: ReadonlySet<string> | undefined;
  readonly retention: RetentionPolicy | undefined;
}

/** A policy key: a journal name whose characters may include `*`. */
const POLICY_KEY = JOURNAL_GLOB;
const KNOWN_FIELDS = new Set(['requireSchema', 'allowedSchemas', 'retention']);
const RETENTION_FIELDS = new Set(['maxAge', 'maxEvents', 'maxBytes', 'archive']);
/** Journals whose policy is remembered; past it the memory starts again empty. */
const CACHE_LIMIT = 10_000;

interface Rule {
  readonly policy: ResolvedPolicy;
  readonly pattern: RegExp | undefined;
  /** Characters other than `*`, and the number of `*`: how specific a glob is. */
  readonly literal: number;
  readonly stars: number;
}

export class JournalPolicies {
  readonly #exact = new Map<string, ResolvedPolicy>();
  /** Globs, most specific first. */
  readonly #globs: Rule[] = [];
  readonly #cache = new Map<string, ResolvedPolicy | undefined>();
  #retention = false;

  /** Checks `journals` (the server's `journals` option), throwing `TypeError` naming the bad key or field. */
  constructor(journals: unknown = {}) {
    if (!isPlainObject(journals)) throw new TypeError('options.journals must be an object of journal names or globs to policies');
    for (const [key, value] of Object.entries(journals)) {
      const where = `options.journals[${JSON.stringify(key)}]`;
      if (!POLICY_KEY.test(key)) throw new TypeError(`${where}: a key is a journal name, or a glob of them with "*"`);
      if (!isPlainObject(value)) throw new TypeError(`${where} must be an object`);
      for (const field of Object.keys(value)) if (!KNOWN_FIELDS.has(field)) throw new TypeError(`${where}.${field} is not a known policy field`);
      const { requireSchema = false, allowedSchemas } = value as JournalPolicy;
      if (typeof requireSchema !== 'boolean') throw new TypeError(`${where}.requireSchema must be a boolean`);
      if (allowedSchemas !== undefined && (!Array.isArray(allowedSchemas) || allowedSchemas.some((id) => typeof id !== 'string' || id === ''))) {
        throw new TypeError(`${where}.allowedSchemas must be an array of schema $ids`);
      }
      const retention = checkRetention((value as JournalPolicy).retention, `${where}.retention`);
      if (retention !== undefined) this.#retention = true;
      const policy: ResolvedPolicy = {
        key,
        requireSchema,
        allowedSchemas: allowedSchemas === undefined ? undefined : new Set(allowedSchemas),
        retention,
      };
      if (!key.includes('*')) {
        this.#exact.set(key, policy);
        continue;
      }
      const stars = key.split('*').length - 1;
      this.#globs.push({ policy, pattern: globPattern(key), literal: key.length - stars, stars });
    }
    this.#globs.sort((a, b) => b.literal - a.literal || a.stars - b.stars || (a.policy.key < b.policy.key ? -1 : 1));
  }

  /** True when no policy is set: every journal takes any event. */
  get empty(): boolean {
    return this.#exact.size === 0 && this.#globs.length === 0;
  }

  /** True when some policy has a retention: the server then enforces retention in the background. */
  get hasRetention(): boolean {
    return this.#retention;
  }

  /** The policy `journal` follows, if any. */
  for(journal: string): ResolvedPolicy | undefined {
    const exact = this.#exact.get(journal);
    if (exact !== undefined || this.#globs.length === 0) return exact;
    if (this.#cache.has(journal)) return this.#cache.get(journal);
    const found = this.#globs.find((rule) => rule.pattern!.test(journal))?.policy;
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(journal, found);
    return found;
  }
}

/** The `retention` field checked, or undefined when absent or empty of limits. */
function checkRetention(value: unknown, where: string): RetentionPolicy | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) throw new TypeError(`${where} must be an object`);
  for (const field of Object.keys(value)) if (!RETENTION_FIELDS.has(field)) throw new TypeError(`${where}.${field} is not a known retention field`);
  const { maxAge, maxEvents, maxBytes, archive = false } = value as RetentionPolicy;
  if (maxAge !== undefined && (typeof maxAge !== 'number' || !(maxAge > 0) || !Number.isFinite(maxAge))) {
    throw new TypeError(`${where}.maxAge must be a positive number of seconds`);
  }
  for (const [field, limit] of [['maxEvents', maxEvents], ['maxBytes', maxBytes]] as const) {
    if (limit !== undefined && (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1)) {
      throw new TypeError(`${where}.${field} must be a positive integer`);
    }
  }
  if (typeof archive !== 'boolean') throw new TypeError(`${where}.archive must be a boolean`);
  if (maxAge === undefined && maxEvents === undefined && maxBytes === undefined) return undefined;
  return { ...(maxAge === undefined ? {} : { maxAge }), ...(maxEvents === undefined ? {} : { maxEvents }), ...(maxBytes === undefined ? {} : { maxBytes }), archive };
}
