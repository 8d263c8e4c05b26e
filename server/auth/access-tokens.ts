/**
 * The server's `tokens` option, checked with zod, and the principal each token stands for.
 *
 * - `undefined`: no token is needed; every connection acts as {@link Principal.ALL}.
 * - `string[]`: each token holds every scope on every journal.
 * - `{ [token]: scope[] }`: each token holds the scopes listed (`read`, `append`, `admin`,
 *   each optionally `:GLOB`, see `scope.ts`).
 *
 * Error messages name a token by its position, never by its value.
 */
import { z } from 'zod';
import { isPlainObject } from '../../src/validate.js';
import { Principal } from './principal.js';
import { ScopeString, type Grant } from './scope.js';

/** Most tokens one server knows, and most scopes one token holds. */
export const MAX_TOKENS = 10_000;
export const MAX_SCOPES_PER_TOKEN = 100;

/** A token: 1 to 4096 characters, none of them white space or a control character. */
export const TokenString = z
  .string()
  .min(1, 'a token must not be empty')
  .max(4096, 'a token is at most 4096 characters')
  .regex(/^[^\s\p{Cc}]+$/u, 'a token must not hold white space or control characters');

/** The scopes of one token: at least one. */
export const ScopeList = z.array(ScopeString).min(1, 'a token needs at least one scope').max(MAX_SCOPES_PER_TOKEN, `at most ${MAX_SCOPES_PER_TOKEN} scopes per token`);

/** The `tokens` option's two forms: a plain list (every scope), or tokens to their scopes. */
export type TokensOption = readonly string[] | Readonly<Record<string, readonly string[]>>;

export class AccessTokens {
  readonly #principals: ReadonlyMap<string, Principal>;

  /** Checks the `tokens` option, throwing a TypeError that names what is wrong (`where` prefixes it). */
  constructor(option: unknown, where = 'options.tokens') {
    const principals = new Map<string, Principal>();
    const add = (token: unknown, grants: readonly Grant[], index: number): void => {
      const checked = TokenString.safeParse(token);
      if (!checked.success) throw new TypeError(`${where}: token ${index + 1}: ${checked.error.issues[0]!.message}`);
      if (principals.has(checked.data)) throw new TypeError(`${where}: token ${index + 1} is listed twice`);
      principals.set(checked.data, grants.length === 0 ? Principal.ALL : new Principal(grants));
    };
    if (Array.isArray(option)) {
      if (option.length === 0) throw new TypeError(`${where} must list at least one token`);
      if (option.length > MAX_TOKENS) throw new TypeError(`${where}: at most ${MAX_TOKENS} tokens`);
      option.forEach((token, index) => add(token, [], index));
    } else if (isPlainObject(option)) {
      const entries = Object.entries(option);
      if (entries.length === 0) throw new TypeError(`${where} must list at least one token`);
      if (entries.length > MAX_TOKENS) throw new TypeError(`${where}: at most ${MAX_TOKENS} tokens`);
      entries.forEach(([token, scopes], index) => {
        const parsed = ScopeList.safeParse(scopes);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          const at = typeof issue.path[0] === 'number' ? `, scope ${issue.path[0] + 1}` : '';
          const message = issue.code === 'invalid_type' && issue.path.length === 0 ? 'the scopes must be an array of strings like "read:jobs.*"' : issue.message;
          throw new TypeError(`${where}: token ${index + 1}${at}: ${message}`);
        }
        add(token, parsed.data, index);
      });
    } else {
      throw new TypeError(`${where} must be an array of tokens, or an object of tokens to their scopes (e.g. { "t1": ["read:jobs.*"] })`);
    }
    this.#principals = principals;
  }

  /** How many tokens the server knows. */
  get size(): number {
    return this.#principals.size;
  }

  /** The principal `token` stands for, or `undefined` for no token or an unknown one. */
  resolve(token: string | undefined): Principal | undefined {
    return token === undefined ? undefined : this.#principals.get(token);
  }
}
