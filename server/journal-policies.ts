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
}

/** A policy as the server applies it. */
export interface ResolvedPolicy {
  readonly key: string;
  readonly requireSchema: boolean;
  readonly allowedSchemas: ReadonlySet<string> | undefined;
}

/** A policy key: a journal name whose characters may include `*`. */
const POLICY_KEY = JOURNAL_GLOB;
const KNOWN_FIELDS = new Set(['requireSchema', 'allowedSchemas']);
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
      const policy: ResolvedPolicy = {
        key,
        requireSchema,
        allowedSchemas: allowedSchemas === undefined ? undefined : new Set(allowedSchemas),
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
