/**
 * The embedded store's write-ahead log: each append's writes, written with
 * one `write(2)` before the batch goes to LMDB, so that an event can be
 * delivered to subscribers before its LMDB commit and fsync and still survive
 * `kill -9` of the process (the kernel keeps what a write handed it). It is
 * not fsync'd: after a power loss, only what LMDB committed is certain.
 *
 * Records are JSON lines in numbered segment files (`<n>.wal`). A segment is
 * deleted once every record in it is committed to LMDB and a newer segment
 * has taken over; on open, the records of the segments found are recovered
 * (a torn last line, which only a power loss or a full disk leaves, ends the
 * recovery of its segment), then those segments are deleted.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** One append as LMDB will store it. */
export interface WalRecord {
  readonly journal: string;
  /** The microsecond timestamps of the batch's events: their LMDB keys. */
  readonly micros: readonly number[];
  /** The stored values, one per event. */
  readonly values: readonly string[];
  /** The journal's head after the batch: the seq of its last event. */
  readonly seq: number;
}

export interface WriteAheadLogOptions {
  /** A segment past this size is closed and a new one started. @default 64 MiB */
  readonly segmentBytes?: number;
}

interface Segment {
  readonly number: number;
  readonly path: string;
  readonly fd: number;
  bytes: number;
  /** Records written to it and not yet committed to LMDB. */
  pending: number;
}

const SEGMENT = /^(\d{1,15})\.wal$/;

export class WriteAheadLog {
  readonly #dir: string;
  readonly #segmentBytes: number;
  /** Segments found at open, oldest first, until `discardRecovered()`. */
  #recovered: string[];
  #current: Segment;
  /** Older segments still holding uncommitted records. */
  readonly #draining = new Set<Segment>();
  /** Set when a write failed: the segment may end in a torn record, so nothing more is written after it. */
  #failed: Error | undefined;
  #closed = false;

  /** Opens (creating if needed) the log in `dir`. Throws what the file system throws. */
  constructor(dir: string, options: WriteAheadLogOptions = {}) {
    this.#dir = dir;
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    mkdirSync(dir, { recursive: true });
    const found = readdirSync(dir)
      .map((name) => SEGMENT.exec(name))
      .filter((match) => match !== null)
      .map((match) => Number(match[1]))
      .sort((a, b) => a - b);
    this.#recovered = found.map((number) => join(dir, `${number}.wal`));
    this.#current = this.#open((found.at(-1) ?? 0) + 1);
  }

  /** The records of the segments found at open, oldest first. */
  *recovered(): Generator<WalRecord> {
    for (const path of this.#recovered) {
      const text = readFileSync(path, 'utf8');
      let start = 0;
      for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
        const record = parseRecord(text.slice(start, end));
        if (record === undefined) break;
        yield record;
        start = end + 1;
      }
    }
  }

  /** Deletes the segments found at open: call once their records are committed to LMDB. */
  discardRecovered(): void {
    for (const path of this.#recovered) unlinkSync(path);
    this.#recovered = [];
  }

  /**
   * Writes one record. Returns the function to call once the record is committed to LMDB
   * (exactly once). Throws if the record could not be written whole, and from then on.
   */
  write(record: WalRecord): () => void {
    if (this.#closed) throw new Error('the write-ahead log is closed');
    if (this.#failed) throw new Error('an earlier write to the write-ahead log failed', { cause: this.#failed });
    const line = `${JSON.stringify([record.journal, record.seq, record.micros, record.values])}\n`;
    const buffer = Buffer.from(line);
    let segment = this.#current;
    if (segment.bytes > 0 && segment.bytes + buffer.length > this.#segmentBytes) {
      this.#draining.add(segment);
      segment = this.#current = this.#open(segment.number + 1);
      this.#release(this.#draining);
    }
    try {
      const written = writeSync(segment.fd, buffer);
      segment.bytes += written;
      if (written !== buffer.length) throw new Error(`the write-ahead log took ${written} of ${buffer.length} bytes`);
    } catch (error) {
      this.#failed = error as Error;
      throw error;
    }
    segment.pending++;
    return () => {
      segment.pending--;
      if (segment !== this.#current && segment.pending === 0) this.#release(this.#draining);
    };
  }

  /** Closes the log; with nothing left uncommitted, its files are deleted. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#draining.add(this.#current);
    this.#release(this.#draining);
  }

  #open(number: number): Segment {
    const path = join(this.#dir, `${number}.wal`);
    return { number, path, fd: openSync(path, 'a'), bytes: 0, pending: 0 };
  }

  /** Closes and deletes the draining segments whose records are all committed. */
  #release(segments: Set<Segment>): void {
    for (const segment of segments) {
      if (segment.pending > 0) continue;
      segments.delete(segment);
      closeSync(segment.fd);
      unlinkSync(segment.path);
    }
  }
}

function parseRecord(line: string): WalRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 4) return undefined;
  const [journal, seq, micros, values] = value as unknown[];
  if (typeof journal !== 'string' || typeof seq !== 'number' || !Array.isArray(micros) || !Array.isArray(values)) return undefined;
  if (micros.length === 0 || micros.length !== values.length) return undefined;
  if (!micros.every((m) => typeof m === 'number') || !values.every((v) => typeof v === 'string')) return undefined;
  return { journal, seq, micros: micros as number[], values: values as string[] };
}
