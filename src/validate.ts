/** Argument checks shared by the client's constructors: bad use throws at once, naming the argument. */
import { JOURNAL_NAME } from './protocol.js';

export function checkJournalName(journal: unknown, argument = 'journal'): string {
  if (typeof journal !== 'string' || !JOURNAL_NAME.test(journal)) {
    throw new TypeError(
      `${argument} must be a string matching ${JOURNAL_NAME}, got ${JSON.stringify(journal)}`,
    );
  }
  return journal;
}

export function checkUrl(url: unknown, argument = 'url'): string {
  if (typeof url !== 'string') throw new TypeError(`${argument} must be a ws:// or wss:// URL string`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`${argument} is not a valid URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new TypeError(`${argument} must use ws: or wss:, got ${JSON.stringify(parsed.protocol)}`);
  }
  return url;
}

/** One URL or a non-empty list of them (several servers sharing one store). */
export function checkUrls(url: unknown, argument = 'url'): string[] {
  if (!Array.isArray(url)) return [checkUrl(url, argument)];
  if (url.length === 0) throw new TypeError(`${argument} must not be an empty list`);
  return url.map((item, index) => checkUrl(item, `${argument}[${index}]`));
}

export function checkBoolean(value: unknown, argument: string): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${argument} must be a boolean`);
  return value;
}

export function checkTimestamp(value: unknown, argument: string): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${argument} must be a number`);
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${argument} must be a finite number >= 0, got ${value}`);
  }
  return value;
}

export function checkPositive(value: unknown, argument: string, { integer = false } = {}): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${argument} must be a number`);
  if (!(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${argument} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  }
  return value;
}

export function checkOptionalString(value: unknown, argument: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${argument} must be a non-empty string`);
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Rejects options that are not an object or that name keys the constructor does not know. */
export function checkOptions(options: unknown, known: readonly string[], argument = 'options'): void {
  if (options === undefined) return;
  if (!isPlainObject(options)) throw new TypeError(`${argument} must be an object`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new TypeError(`${argument}.${key} is not a known option`);
  }
}
