/**
 * A principal: who a connection or an HTTP request acts as, resolved once from its token,
 * and what it may do (`can`). A connection keeps its principal for its whole life.
 */
import { ALL_GRANTS, type Grant, type Scope } from './scope.js';

/** Journals whose answers a principal remembers; past it the memory starts again empty. */
const CACHE_LIMIT = 1000;

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
  /** Whether a glob matches a journal, by glob and journal (1 or 0). */
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
    return rule.patterns.some((pattern) => this.#matches(pattern, journal));
  }

  /** Whether this principal holds `scope` on at least one journal. */
  canSome(scope: Scope): boolean {
    return this.#rules.has(scope);
  }

  #matches(pattern: RegExp, journal: string): boolean {
    const key = `${pattern.source}\u0000${journal}`;
    const known = this.#cache.get(key);
    if (known !== undefined) return known === 1;
    const found = pattern.test(journal);
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(key, found ? 1 : 0);
    return found;
  }
}
