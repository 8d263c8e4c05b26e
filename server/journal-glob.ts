/**
 * Journal globs: a journal name whose characters may include `*`, which matches any run of
 * characters (none included). Journal policies (`journals` option) and token scopes
 * (`read:jobs.*`) name journals this way.
 */

/** A journal name or a glob of them: the characters of a journal name, and `*`. */
export const JOURNAL_GLOB = /^[A-Za-z0-9._*-]{1,128}$/;

/** The regular expression matching exactly the journal names `glob` covers. */
export function globPattern(glob: string): RegExp {
  const source = glob.split('*').map((part) => part.replace(/[.]/g, '\\.')).join('.*');
  return new RegExp(`^${source}$`);
}
