/**
 * The tokens `wsjournal serve` requires, from three sources, merged:
 *
 * - `--token T` (repeatable): every scope. Visible to every user of the machine in `ps`.
 * - `WSJOURNAL_TOKENS`: tokens separated by commas, each with every scope.
 * - `--token-file FILE`: one token a line, optionally followed by its scopes
 *   (`TOKEN read:jobs.* append:jobs`), `#` comments and blank lines ignored; or a JSON
 *   object of tokens to their scopes (the server's `tokens` option), or a JSON array of tokens.
 *   A file that every user may read is refused.
 *
 * No message ever shows a token's value: a token is named by where it was given.
 */
import { readFile, stat } from 'node:fs/promises';
import { AccessTokens } from '../server/auth/access-tokens.js';
import { parseScope, SCOPES } from '../server/auth/scope.js';
import { CliError, UsageError } from './args.js';

/** The environment variable `serve` reads tokens from. */
export const TOKENS_VARIABLE = 'WSJOURNAL_TOKENS';
/** The largest token file read, in bytes. */
export const MAX_TOKEN_FILE_BYTES = 1024 * 1024;

export interface TokenSources {
  /** `--token` values. */
  readonly flags?: readonly string[] | undefined;
  /** The value of `WSJOURNAL_TOKENS`; empty counts as unset. */
  readonly env?: string | undefined;
  /** `--token-file`. */
  readonly file?: string | undefined;
}

/** Tokens to their scopes, as the server's `tokens` option takes them. */
export type TokenScopes = Record<string, string[]>;

/**
 * The tokens of every source given, or `undefined` when none is: then the server needs no
 * token. A token given twice, a bad scope, an unreadable or world-readable file, or a source
 * holding no token is refused (UsageError for the command line, CliError for the file).
 */
export async function serverTokens(sources: TokenSources): Promise<TokenScopes | undefined> {
  const merged = new Map<string, { scopes: string[]; where: string }>();
  const add = (token: string, scopes: readonly string[], where: string): void => {
    if (token === '') throw new UsageError(`${where}: a token must not be empty`);
    if (/[\s\p{Cc}]/u.test(token)) throw new UsageError(`${where}: a token must not hold white space or control characters`);
    const earlier = merged.get(token);
    if (earlier !== undefined) throw new UsageError(`the same token is given twice: ${earlier.where} and ${where}`);
    merged.set(token, { scopes: [...scopes], where });
  };
  sources.flags?.forEach((token, index) => add(token, SCOPES, `--token ${index + 1}`));
  if (sources.env !== undefined && sources.env !== '') {
    const tokens = sources.env.split(',').map((token) => token.trim()).filter((token) => token !== '');
    if (tokens.length === 0) throw new UsageError(`${TOKENS_VARIABLE} holds no token; list them separated by commas, or unset it`);
    tokens.forEach((token, index) => add(token, SCOPES, `${TOKENS_VARIABLE} item ${index + 1}`));
  }
  if (sources.file !== undefined) {
    if (sources.file === '') throw new UsageError('--token-file must not be empty');
    const entries = await readTokenFile(sources.file);
    for (const [token, scopes, where] of entries) add(token, scopes, where);
  }
  if (merged.size === 0) return undefined;
  const tokens: TokenScopes = {};
  for (const [token, { scopes }] of merged) tokens[token] = scopes;
  return tokens;
}

/** The tokens of a token file, each with its scopes and where it was written. */
async function readTokenFile(path: string): Promise<[token: string, scopes: readonly string[], where: string][]> {
  const name = `--token-file ${path}`;
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new CliError(`${name} is not a file`);
    // Modes mean nothing on Windows; elsewhere a file any user may read is no secret.
    if (process.platform !== 'win32' && (info.mode & 0o004) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw new CliError(`${name} can be read by every user of this machine (mode ${mode}); make it private: chmod 600 ${path}`);
    }
    if (info.size > MAX_TOKEN_FILE_BYTES) throw new CliError(`${name} is ${info.size} bytes; a token file is at most ${MAX_TOKEN_FILE_BYTES}`);
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot read ${name}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return jsonTokens(trimmed, name);
  const entries: [string, readonly string[], string][] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const words = line.trim().split(/\s+/).filter((word) => word !== '');
    if (words.length === 0 || words[0]!.startsWith('#')) return;
    const where = `${name} line ${index + 1}`;
    const [token, ...scopes] = words;
    for (const scope of scopes) {
      try {
        parseScope(scope);
      } catch (error) {
        throw new CliError(`${where}: ${(error as Error).message}`);
      }
    }
    entries.push([token!, scopes.length === 0 ? SCOPES : scopes, where]);
  });
  if (entries.length === 0) throw new CliError(`${name} holds no token; write one a line, optionally followed by its scopes (TOKEN read:jobs.* append:jobs)`);
  return entries;
}

/** A token file in JSON: the server's `tokens` option, checked as the server checks it. */
function jsonTokens(text: string, name: string): [string, readonly string[], string][] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // Only where: the parser's message may quote the file, tokens included.
    const at = /line \d+ column \d+|position \d+/.exec((error as Error).message)?.[0];
    throw new CliError(`${name} is not valid JSON${at === undefined ? '' : ` (at ${at})`}`);
  }
  try {
    new AccessTokens(value, name);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  if (Array.isArray(value)) return (value as string[]).map((token, index) => [token, SCOPES, `${name} token ${index + 1}`]);
  return Object.entries(value as Record<string, string[]>).map(([token, scopes], index) => [token, scopes, `${name} token ${index + 1}`]);
}
