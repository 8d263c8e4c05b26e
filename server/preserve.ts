/**
 * Appends with `preserve`: a batch whose events keep the seq and timestamp they carry, how
 * `wsjournal import --preserve` moves a journal from one store to another. Every store
 * checks such a batch here (RedisStore checks the part that needs the head in its script),
 * so that a journal stays what the rest of the server takes it to be: seqs and timestamps
 * strictly increasing, timestamps whole microseconds.
 */
import { ErrorCode, JournalError } from '../src/errors.js';
import { toMicros } from './encode.js';
import type { NewEvent } from './store.js';

/** The positions a preserving batch asks for, in microseconds for the timestamps. */
export interface PreservedPositions {
  readonly seqs: number[];
  readonly micros: number[];
}

/**
 * The seqs and timestamps (as whole microseconds) of a batch appended with `preserve`.
 * Throws `INVALID_EVENT` when an event lacks either or holds one no store can keep, and
 * `OUT_OF_ORDER` when they do not increase strictly through the batch.
 */
export function preservedPositions(events: readonly NewEvent[]): PreservedPositions {
  const seqs = new Array<number>(events.length);
  const micros = new Array<number>(events.length);
  for (let i = 0; i < events.length; i++) {
    const { seq, timestamp } = events[i]!;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      throw new JournalError(ErrorCode.INVALID_EVENT, `event ${i}: an append with preserve needs each event's seq, a positive integer`);
    }
    const at = typeof timestamp === 'number' ? toMicros(timestamp) : NaN;
    // Whole microseconds above zero that a double holds exactly: what every store keys events by.
    if (!(at >= 1 && at <= Number.MAX_SAFE_INTEGER)) {
      throw new JournalError(ErrorCode.INVALID_EVENT, `event ${i}: an append with preserve needs each event's timestamp, in seconds since the epoch`);
    }
    if (i > 0 && (seq <= seqs[i - 1]! || at <= micros[i - 1]!)) {
      throw new JournalError(
        ErrorCode.OUT_OF_ORDER,
        `event ${i} (seq ${seq}, timestamp ${at / 1e6}) does not follow the event before it (seq ${seqs[i - 1]}, timestamp ${micros[i - 1]! / 1e6})`,
      );
    }
    seqs[i] = seq;
    micros[i] = at;
  }
  return { seqs, micros };
}

/** Throws `OUT_OF_ORDER` unless the batch starts above the journal's head, seq and timestamp alike. */
export function checkContinues(journal: string, positions: PreservedPositions, headSeq: number, headMicros: number): void {
  const seq = positions.seqs[0]!;
  const micros = positions.micros[0]!;
  if (seq > headSeq && micros > headMicros) return;
  throw new JournalError(ErrorCode.OUT_OF_ORDER, outOfOrderMessage(journal, seq, micros, headSeq, headMicros));
}

/** Why a preserving batch does not continue the journal: what RedisStore's script reports too. */
export function outOfOrderMessage(journal: string, seq: number, micros: number, headSeq: number, headMicros: number): string {
  return `the batch (first seq ${seq}, timestamp ${micros / 1e6}) does not continue ${journal} (head seq ${headSeq}, timestamp ${headMicros / 1e6})`;
}
