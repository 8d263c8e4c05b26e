/**
 * A forwarder's checkpoint: the position of the last event every handler has taken, kept in
 * a small JSON file written atomically, `{"journal":"jobs","seq":1234,"timestamp":1700000000.123456}`.
 */
import { readTextFileSync, writeFileAtomic } from '#platform';
import { ErrorCode, JournalError } from '../errors.js';

/** A checkpoint is a line of JSON; a larger file is not one. */
const MAX_CHECKPOINT_BYTES = 64 * 1024;

/** An event's position in its journal. */
export interface CheckpointPosition {
  readonly seq: number;
  readonly timestamp: number;
}

export class Checkpoint {
  readonly path: string;
  readonly journal: string;

  constructor(path: string, journal: string) {
    if (typeof path !== 'string' || path === '') throw new TypeError('options.checkpoint must be a non-empty path');
    this.path = path;
    this.journal = journal;
  }

  /**
   * The position saved, or undefined when there is no file yet. Throws `INVALID_CHECKPOINT`
   * for a file that is not a checkpoint, or that belongs to another journal.
   */
  read(): CheckpointPosition | undefined {
    let text: string | undefined;
    try {
      text = readTextFileSync(this.path, MAX_CHECKPOINT_BYTES);
    } catch (error) {
      throw new JournalError(ErrorCode.INVALID_CHECKPOINT, `cannot read the checkpoint ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    if (text === undefined) return undefined;
    let saved: unknown;
    try {
      saved = JSON.parse(text);
    } catch (error) {
      throw new JournalError(ErrorCode.INVALID_CHECKPOINT, `the checkpoint ${this.path} is not JSON`, { cause: error });
    }
    const { journal, seq, timestamp } = (saved ?? {}) as Record<string, unknown>;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0 || typeof timestamp !== 'number' || !(timestamp >= 0 && timestamp < Infinity)) {
      throw new JournalError(ErrorCode.INVALID_CHECKPOINT, `the checkpoint ${this.path} holds no position ({"journal","seq","timestamp"})`);
    }
    if (journal !== this.journal) {
      throw new JournalError(ErrorCode.INVALID_CHECKPOINT, `the checkpoint ${this.path} is for journal ${JSON.stringify(journal)}, not ${JSON.stringify(this.journal)}`);
    }
    return { seq, timestamp };
  }

  /** Saves `position`: after a crash the file holds it or the position saved before, whole. */
  write(position: CheckpointPosition): Promise<void> {
    return writeFileAtomic(this.path, `${JSON.stringify({ journal: this.journal, seq: position.seq, timestamp: position.timestamp })}\n`);
  }
}
