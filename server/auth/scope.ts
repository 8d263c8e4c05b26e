/**
 * Scopes: what a token may do. `read` (subscribe, query, reports), `append` (append events)
 * and `admin` (register schemas, the `/v1/admin/…` routes), each on every journal, or limited
 * to the journals of one glob: `read:jobs.*`. A scope does not imply another.
 */
import { z } from 'zod';
import { globPattern, JOURNAL_GLOB } from '../journal-glob.js';

/** The scopes a token may hold. */
export const SCOPES = ['read', 'append', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** One scope a token holds: on every journal (`pattern` undefined), or on those `glob` matches. */
export interface Grant {
  readonly scope: Scope;
  /** The journals it covers, as written (`jobs.*`); `undefined` for every journal. */
  readonly glob: string | undefined;
  readonly pattern: RegExp | undefined;
}

/** Every scope on every journal: what a token of a plain list holds. */
export const ALL_GRANTS: readonly Grant[] = SCOPES.map((scope) => ({ scope, glob: undefined, pattern: undefined }));

const SCOPE_TEXT = /^(read|append|admin)(?::(.*))?$/;

/** A scope as written in the `tokens` option or a token file: `read`, `append:jobs`, `admin:lab.*`. */
export const ScopeString = z.string().transform((text, ctx): Grant => {
  const match = SCOPE_TEXT.exec(text);
  if (match === null) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(text.slice(0, 64))} is not a scope: a scope is read, append or admin, optionally limited to journals as SCOPE:GLOB (e.g. read:jobs.*)`,
    });
    return z.NEVER;
  }
  const scope = match[1] as Scope;
  const glob = match[2];
  if (glob === undefined || glob === '*') return { scope, glob: undefined, pattern: undefined };
  if (!JOURNAL_GLOB.test(glob)) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(text.slice(0, 64))}: after "${scope}:" comes a journal name, or a glob of them with "*" (letters, digits, . _ - and *, at most 128)`,
    });
    return z.NEVER;
  }
  return { scope, glob, pattern: globPattern(glob) };
});

/** The grant `text` names, or a TypeError saying why it is not a scope. */
export function parseScope(text: string): Grant {
  const parsed = ScopeString.safeParse(text);
  if (!parsed.success) throw new TypeError(parsed.error.issues[0]?.message ?? `${JSON.stringify(text)} is not a scope`);
  return parsed.data;
}

/** Why an operation outside a token's scopes is refused (`FORBIDDEN`), naming the scope it needs. */
export function forbiddenMessage(scope: Scope, journal?: string): string {
  const what = journal === undefined ? `${scope} on every journal` : `${scope} on journal ${journal}`;
  return `this token's scopes do not allow ${what}`;
}
