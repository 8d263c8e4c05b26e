/** What every store's `trim` shares: checking its options and turning them into one time bound. */
import { ErrorCode, JournalError } from '../src/errors.js';
import { firstMicrosFrom } from './encode.js';
import type { StoredEvent, TrimOptions } from './store.js';

/** Throws `BAD_REQUEST` unless `options` names a bound: `before` a number of seconds, `beforeSeq` a positive integer. */
export function checkTrimOptions(options: TrimOptions): void {
  if (typeof options !== 'object' || options === null) throw new JournalError(ErrorCode.BAD_REQUEST, 'trim options must be an object');
  const { before, beforeSeq } = options;
  if (before === undefined && beforeSeq === undefined) throw new JournalError(ErrorCode.BAD_REQUEST, 'a trim needs before or beforeSeq');
  if (before !== undefined && (typeof before !== 'number' || Number.isNaN(before))) {
    throw new JournalError(ErrorCode.BAD_REQUEST, 'before must be a timestamp in seconds');
  }
  if (beforeSeq !== undefined && (typeof beforeSeq !== 'number' || !Number.isInteger(beforeSeq) || beforeSeq < 0)) {
    throw new JournalError(ErrorCode.BAD_REQUEST, 'beforeSeq must be a non-negative integer');
  }
}

/**
 * The micros below which a trim removes events: from `before`, and from `beforeSeq` through
 * `seek` (the store's `readFromSeq`), never above `headMicros` (the newest event is kept).
 */
export async function trimBoundMicros(
  options: TrimOptions,
  headMicros: number,
  seek: (seq: number) => Promise<StoredEvent | undefined>,
): Promise<number> {
  let bound = headMicros;
  if (options.before !== undefined) bound = Math.min(bound, firstMicrosFrom(options.before));
  if (options.beforeSeq !== undefined) {
    const kept = await seek(options.beforeSeq);
    // No event at or after that seq: all but the newest go.
    if (kept !== undefined) bound = Math.min(bound, Math.round(kept.timestamp * 1e6));
  }
  return Math.max(0, bound);
}
