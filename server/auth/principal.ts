/**
 * A principal: who a connection or an HTTP request acts as, resolved once from its token,
 * and what it may do (`can`). A connection keeps its principal for its whole life.
 */
import { ALL_GRANTS, type Grant, type Scope } from './scope.js';

/** Journals whose answers a principal remembers; past it the memory starts again empty. */
const CACHE_LIMIT = 1000;

/** Each scope as a bit of a journal's remembered answer. */
const BITS: Readonly<Record<Scope, number>> = { read: 1, append: 2, admin: 4 };

interface ScopeRule {
  /** The scope on every journal. */
  readonly everywhere: boolean;
  /** The journals it is limited to otherwise. */
  readonly patterns: readonly RegExp[];
}

export class Principal {
  /** Every scope on every journal: a server without tokens, or a token of a plain list. */
  static readonly ALL = new Principal(ALL_GRANTS);

  readonly #rules: ReadonlyMap<Scope, ScopeRule>;
  /** Journal → the scopes a glob grants on it, as BITS: an append checks a map, not its globs. */
  readonly #cache = new Map<string, number>();
  /** The grants as given, in order. */
  readonly grants: readonly Grant[];

  constructor(grants: readonly Grant[]) {
    this.grants = grants;
    const rules = new Map<Scope, { everywhere: boolean; patterns: RegExp[] }>();
    for (const grant of grants) {
      const rule = rules.get(grant.scope) ?? { everywhere: false, patterns: [] };
      if (grant.pattern === undefined) rule.everywhere = true;
      else rule.patterns.push(grant.pattern);
      rules.set(grant.scope, rule);
    }
    this.#rules = rules;
  }

  /**
   * Whether this principal holds `scope` on `journal`; without a journal, whether it holds
   * `scope` on every journal (what a server-wide operation such as registering a schema needs).
   */
  can(scope: Scope, journal?: string): boolean {
    const rule = this.#rules.get(scope);
    if (rule === undefined) return false;
    if (rule.everywhere) return true;
    if (journal === undefined) return false;
    return (this.#globbed(journal) & BITS[scope]) !== 0;
  }

  /** Whether this principal holds `scope` on at least one journal. */
  canSome(scope: Scope): boolean {
    return this.#rules.has(scope);
  }

  /** The scopes this principal's globs grant on `journal`, as BITS. */
  #globbed(journal: string): number {
    const known = this.#cache.get(journal);
    if (known !== undefined) return known;
    let bits = 0;
    for (const [scope, rule] of this.#rules) {
      if (rule.patterns.some((pattern) => pattern.test(journal))) bits |= BITS[scope];
    }
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(journal, bits);
    return bits;
  }
}
