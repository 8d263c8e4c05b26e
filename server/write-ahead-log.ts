/**
 * The embedded store's write-ahead log: each append's writes, staged by
 * `stage()` and written by `write()`, the records staged meanwhile in one
 * `write(2)`, before the batch goes to LMDB. Once written, a record survives
 * `kill -9` of the process (the kernel keeps what a write handed it), so its
 * events can be delivered; once `sync()` resolves, it survives a power loss
 * too, so its append can be acknowledged. LMDB takes the records later, many
 * per transaction.
 *
 * Records are lines in numbered segment files (`<n>.wal`): a JSON header
 * `[journal,seq,[micros…]]` (`[journal,seq,[micros…],prev]` for a batch whose
 * seqs do not follow its journal's head one by one), a tab, then each stored value as
 * `<length>:<value>` (its length in UTF-16 units), then a newline. The values
 * go in as they are: as JSON strings, every quote of the event JSON they
 * carry would be escaped, on the hot path and on disk. (Segments written as
 * JSON lines, `[journal,seq,[micros…],[values…]]`, by earlier versions are
 * still read, and a record whose values hold a NUL is written that way.)
 * A segment is deleted, off the event loop, once every record in it is
 * committed to LMDB and a newer segment has taken over; on open, the records
 * of the segments found are recovered (a torn last record, which only a power
 * loss or a full disk leaves, ends the recovery of its segment), then those
 * segments are deleted.
 *
 * A segment is zero-filled ahead of its records, PREALLOCATE_BYTES at a time,
 * and records overwrite the zeros: a record then changes neither the file's
 * size nor its blocks, so the fdatasync that makes it durable flushes data
 * only, with no file-system journal commit (two to three times faster on
 * ext4). The zeros go in one `write(2)` per 4 KiB page: a larger write lets
 * the kernel cache the range as one large folio, which every fdatasync then
 * writes whole (measured on Linux 6.18 ext4: 25.7 GB written to disk for
 * 8.5 MB of records with 1 MiB writes, 120 MB with page writes), and a
 * record written meanwhile waits for that write-back. Records hold no NUL
 * byte (JSON escapes it, and a record with one in a value is written as
 * JSON), so the first NUL ends a segment's records. That cut is also what
 * finds a record torn by a power loss in its middle: the pages of a record
 * not yet fdatasync'd may reach the disk in any order, and one that did not
 * reads as zeros. Length framing alone would accept such a record, its
 * lengths and final newline intact, with zeros inside a value.
 *
 * One log per directory: its LOCK file (src/dir-lock.ts) keeps a second
 * process, or a second log in this one, out while the owner lives.
 */
import { closeSync, fdatasync, fsync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { decimalLength, writeDecimal } from './decimal.js';
import { lock, unlock } from '../src/dir-lock.js';

/** One append as LMDB will store it. */
export interface WalRecord {
  readonly journal: string;
  /** The microsecond timestamps of the batch's events: their LMDB keys. */
  readonly micros: readonly number[];
  /** The stored values, one per event. */
  readonly values: readonly string[];
  /** The journal's head after the batch: the seq of its last event. */
  readonly seq: number;
  /**
   * The journal's head seq before the batch, when it is not `seq - micros.length`: a batch
   * appended with `preserve` whose seqs skip some (a journal moved from a store whose
   * retention removed its oldest events). Recovery takes a batch only if it follows the head.
   */
  readonly prev?: number | undefined;
}

export interface WriteAheadLogOptions {
  /** A segment past this size is closed and a new one started. @default 64 MiB */
  readonly segmentBytes?: number;
}

interface Segment {
  readonly number: number;
  readonly path: string;
  readonly fd: number;
  /** Bytes of records written. */
  bytes: number;
  /** Bytes zero-filled ahead of the records (best effort: a write past it extends the file). */
  allocated: number;
  /** Records written to it and not yet committed to LMDB. */
  pending: number;
  /** True when it was written since its last fdatasync began. */
  unsynced: boolean;
  /** Set while an fdatasync of it runs: its descriptor stays open until then. */
  syncing: boolean;
}

const SEGMENT = /^(\d{1,15})\.wal$/;
/** How far ahead of its records a segment is zero-filled at a time. */
const PREALLOCATE_BYTES = 256 * 1024;
/** The zero-fill's unit: one write per page, so that the page cache holds the segment in pages (see above). */
const PAGE_BYTES = 4096;
const ZEROS = Buffer.alloc(PAGE_BYTES);
/** The staging buffer's size to start with. */
const STAGE_BYTES = 64 * 1024;
/**
 * The largest staging buffer kept once written: a turn of pipelined batches stages a few
 * hundred KiB, and allocating that anew every turn cost more than writing it. A larger one,
 * staged by an unusually large turn, is dropped after its write, so that an idle server does
 * not hold it. (When the buffer grew by the bound of 3 bytes per UTF-16 unit, a turn of 1,600
 * events of 200 bytes passed this, and the server's scavenges took twice as long.)
 */
const KEPT_STAGE_BYTES = 1024 * 1024;

export class WriteAheadLog {
  readonly #dir: string;
  readonly #segmentBytes: number;
  /** Segments found at open, oldest first, until `discardRecovered()`. */
  #recovered: string[];
  #current: Segment;
  /** Older segments still holding uncommitted records. */
  readonly #draining = new Set<Segment>();
  /** Set when a write or sync failed: the segment may end in a torn record, so nothing more is written after it. */
  #failed: Error | undefined;
  #closed = false;
  /** The directory, open for the fsync that makes a new segment's name durable. */
  readonly #dirFd: number;
  #dirUnsynced = true;
  /** The fdatasync round running, and the one that will start next (group commit). */
  #syncing: Promise<void> | undefined;
  #nextSync: Promise<void> | undefined;
  /** Records staged and not yet written, encoded, and the bytes of them in use. */
  #staged = Buffer.allocUnsafe(STAGE_BYTES);
  #stagedBytes = 0;
  #stagedRecords = 0;
  /** Deletions of released segments still running: `close()` waits for them. */
  readonly #deleting = new Set<Promise<void>>();
  /** Called with the seconds each successful flush round (fdatasync of the segments written) took. */
  onSync: ((seconds: number) => void) | undefined;

  /**
   * Opens (creating if needed) the log in `dir`. Throws what the file system throws, and an
   * error with code `ELOCKED` while another live log holds the directory.
   */
  constructor(dir: string, options: WriteAheadLogOptions = {}) {
    this.#dir = resolve(dir);
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    mkdirSync(dir, { recursive: true });
    lock(this.#dir);
    try {
      this.#dirFd = openSync(this.#dir, 'r');
    } catch (error) {
      unlock(this.#dir);
      throw error;
    }
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
      const bytes = readFileSync(path);
      // The zeros a segment was filled with ahead of its records end them.
      const zeros = bytes.indexOf(0);
      const text = bytes.toString('utf8', 0, zeros === -1 ? bytes.length : zeros);
      for (let start = 0; start < text.length; ) {
        const parsed = parseRecord(text, start);
        if (parsed === undefined) break;
        yield parsed.record;
        start = parsed.end;
      }
    }
  }

  /** Deletes the segments found at open: call once their records are committed to LMDB. */
  discardRecovered(): void {
    for (const path of this.#recovered) unlinkSync(path);
    this.#recovered = [];
  }

  /**
   * Stages one record for the next `write()`. Returns the function to call once the record,
   * written, is committed to LMDB (exactly once). Throws once the log is closed or a write failed.
   */
  stage(record: WalRecord): () => void {
    if (this.#closed) throw new Error('the write-ahead log is closed');
    if (this.#failed) throw new Error('an earlier write to the write-ahead log failed', { cause: this.#failed });
    const { values } = record;
    const journalJson = JSON.stringify(record.journal);
    // A record with a NUL in a value is written as a JSON line, which escapes it (see above).
    let jsonLine: string | undefined;
    // At most: UTF-8 takes 3 bytes per UTF-16 unit, a number 17 bytes with its separator.
    let maxBytes = 3 * journalJson.length + 41 + 17 * record.micros.length;
    for (const value of values) {
      if (jsonLine === undefined && value.includes('\0')) jsonLine = `${JSON.stringify(jsonFields(record))}\n`;
      maxBytes += 11 + 3 * value.length;
    }
    if (jsonLine !== undefined) maxBytes = 3 * jsonLine.length;
    // Where the bound says a record may not fit, its exact size decides: most values are ASCII,
    // and a buffer sized by the bound would be three times too large (and past KEPT_STAGE_BYTES,
    // dropped and grown again every turn).
    let exactBytes: number | undefined;
    // A segment takes the records staged for it whole: those before a switch are written first.
    const end = this.#current.bytes + this.#stagedBytes;
    if (end > 0 && end + maxBytes > this.#segmentBytes && end + (exactBytes ??= recordBytes(record, journalJson, jsonLine)) > this.#segmentBytes) {
      this.write();
      this.#draining.add(this.#current);
      this.#current = this.#open(this.#current.number + 1);
      this.#release();
    }
    if (this.#stagedBytes + maxBytes > this.#staged.length && this.#stagedBytes + (exactBytes ??= recordBytes(record, journalJson, jsonLine)) > this.#staged.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * this.#staged.length, this.#stagedBytes + exactBytes));
      this.#staged.copy(grown, 0, 0, this.#stagedBytes);
      this.#staged = grown;
    }
    const staged =
      jsonLine === undefined
        ? writeRecord(this.#staged, this.#stagedBytes, record, journalJson)
        : this.#stagedBytes + this.#staged.write(jsonLine, this.#stagedBytes);
    // A buffer writes nothing past its end: a record larger than its size said would be cut short, silently.
    if (staged > this.#staged.length || (exactBytes !== undefined && staged - this.#stagedBytes !== exactBytes)) {
      throw new Error(`the write-ahead log staged ${staged - this.#stagedBytes} bytes for a record of ${exactBytes ?? maxBytes} at most`);
    }
    this.#stagedBytes = staged;
    this.#stagedRecords++;
    const segment = this.#current;
    return () => {
      segment.pending--;
      if (segment !== this.#current && segment.pending === 0) this.#release();
    };
  }

  /**
   * Writes the staged records with one `write(2)`; does nothing when none are staged. Throws
   * if they could not be written whole, and from then on.
   */
  write(): void {
    if (this.#stagedBytes === 0) return;
    const length = this.#stagedBytes;
    const records = this.#stagedRecords;
    this.#stagedBytes = 0;
    this.#stagedRecords = 0;
    const buffer = this.#staged;
    if (buffer.length > KEPT_STAGE_BYTES) this.#staged = Buffer.allocUnsafe(STAGE_BYTES);
    if (this.#failed) throw new Error('an earlier write to the write-ahead log failed', { cause: this.#failed });
    const segment = this.#current;
    try {
      segment.unsynced = true;
      const end = segment.bytes + length;
      if (end > segment.allocated) this.#preallocate(segment, end);
      const written = writeSync(segment.fd, buffer, 0, length, segment.bytes);
      segment.bytes += written;
      if (written !== length) throw new Error(`the write-ahead log took ${written} of ${length} bytes`);
    } catch (error) {
      this.#failed = error as Error;
      throw error;
    }
    // Only records written wait for their commit: a segment of none but unwritten ones may go.
    segment.pending += records;
  }

  /**
   * Resolves once every record staged before the call is on disk (fdatasync); records still
   * staged when the fdatasync starts are written first. Calls made
   * before the next fdatasync starts share it: one disk flush for all of them. It starts once
   * the event loop's turn has handled its I/O (so the appends one socket read brought, and
   * the frames they send, go first), or after the fdatasync running. Rejects if a write or a
   * flush failed, and from then on.
   */
  sync(): Promise<void> {
    if (this.#nextSync) return this.#nextSync;
    const previous = this.#syncing ?? new Promise<void>((resolve) => setImmediate(resolve));
    this.#nextSync = previous.then(
      () => this.#startNext(),
      () => this.#startNext(),
    );
    return this.#nextSync;
  }

  /**
   * Closes the log after the flush running, if any; with nothing left uncommitted, its files
   * are deleted. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.write();
    } catch {
      // The appends staged learn of it from their fsync.
    }
    await this.#nextSync?.catch(() => {});
    await this.#syncing?.catch(() => {});
    this.#draining.add(this.#current);
    this.#release();
    // Segments with uncommitted records stay on disk for the next open to replay.
    for (const segment of this.#draining) closeSync(segment.fd);
    this.#draining.clear();
    await this.deleted();
    closeSync(this.#dirFd);
    unlock(this.#dir);
  }

  /** Resolves once the segments released so far are deleted (or their deletion failed). */
  async deleted(): Promise<void> {
    await Promise.all(this.#deleting);
  }

  #startNext(): Promise<void> {
    this.#nextSync = undefined;
    return (this.#syncing = this.#flush());
  }

  async #flush(): Promise<void> {
    try {
      this.write();
      if (this.#failed) throw new Error('an earlier write to the write-ahead log failed', { cause: this.#failed });
      const segments = [this.#current, ...this.#draining].filter((segment) => segment.unsynced);
      const dir = this.#dirUnsynced;
      this.#dirUnsynced = false;
      for (const segment of segments) {
        segment.unsynced = false;
        segment.syncing = true;
      }
      const started = performance.now();
      try {
        await Promise.all([
          ...segments.map((segment) => flushFd(fdatasync, segment.fd)),
          // A new segment's directory entry must be durable as well as its data.
          ...(dir ? [flushFd(fsync, this.#dirFd)] : []),
        ]);
        if (segments.length > 0) this.onSync?.((performance.now() - started) / 1000);
      } finally {
        for (const segment of segments) segment.syncing = false;
        this.#release();
      }
    } catch (error) {
      this.#failed ??= error as Error;
      throw error;
    } finally {
      this.#syncing = undefined;
    }
  }

  #open(number: number): Segment {
    const path = join(this.#dir, `${number}.wal`);
    this.#dirUnsynced = true;
    return { number, path, fd: openSync(path, 'w'), bytes: 0, allocated: 0, pending: 0, unsynced: false, syncing: false };
  }

  /**
   * Zero-fills `segment` from its allocated end to past `end`, by PREALLOCATE_BYTES (not past
   * the segment size unless `end` is), a page per write. Best effort: if the disk refuses,
   * the record's own write says so, or extends the file as an unallocated segment would.
   */
  #preallocate(segment: Segment, end: number): void {
    const target = Math.max(end, Math.min(segment.allocated + PREALLOCATE_BYTES, this.#segmentBytes));
    try {
      while (segment.allocated < target) {
        // To the next page boundary: a write never spans two pages.
        const length = Math.min(PAGE_BYTES - (segment.allocated % PAGE_BYTES), target - segment.allocated);
        segment.allocated += writeSync(segment.fd, ZEROS, 0, length, segment.allocated);
      }
    } catch {
      // The record's own write reports a full disk.
    }
  }

  /**
   * Closes and deletes the draining segments whose records are all committed and that no flush
   * is using. The deletion runs in the threadpool: freeing a 64 MiB segment's blocks took the
   * file system ~25 ms here, all of it on the event loop with `unlinkSync`. A segment whose
   * deletion fails stays on disk; the next open replays its records (LMDB holds them all, so
   * it takes none) and deletes it.
   */
  #release(): void {
    for (const segment of this.#draining) {
      if (segment.pending > 0 || segment.syncing) continue;
      this.#draining.delete(segment);
      closeSync(segment.fd);
      const deletion = unlink(segment.path).catch(() => {});
      this.#deleting.add(deletion);
      void deletion.then(() => this.#deleting.delete(deletion));
    }
  }
}

function flushFd(flush: typeof fsync, fd: number): Promise<void> {
  return new Promise((resolve, reject) => flush(fd, (error) => (error ? reject(error) : resolve())));
}

/**
 * Writes a record's line (see the header of this file) at `offset`, piece by piece: no string
 * of the whole line is made, only each value is read (and flattened, once, for every later
 * use of it). Returns the offset after the line. `buffer` has room for it.
 */
function writeRecord(buffer: Buffer, offset: number, record: WalRecord, journalJson: string): number {
  let at = offset;
  buffer[at++] = 0x5b; // [
  at += buffer.write(journalJson, at);
  buffer[at++] = 0x2c; // ,
  at = writeDecimal(buffer, at, record.seq);
  buffer[at++] = 0x2c;
  buffer[at++] = 0x5b;
  const { micros, values } = record;
  for (let i = 0; i < micros.length; i++) {
    if (i > 0) buffer[at++] = 0x2c;
    at = writeDecimal(buffer, at, micros[i]!);
  }
  buffer[at++] = 0x5d; // ]
  if (record.prev !== undefined) {
    buffer[at++] = 0x2c;
    at = writeDecimal(buffer, at, record.prev);
  }
  buffer[at++] = 0x5d;
  buffer[at++] = 0x09; // tab
  for (const value of values) {
    at = writeDecimal(buffer, at, value.length);
    buffer[at++] = 0x3a; // :
    at += buffer.write(value, at);
  }
  buffer[at++] = 0x0a; // newline
  return at;
}

/** A record's exact size in bytes, as `writeRecord` writes it, or as `jsonLine`. */
export function recordBytes(record: WalRecord, journalJson: string, jsonLine: string | undefined): number {
  if (jsonLine !== undefined) return Buffer.byteLength(jsonLine);
  const { micros, values } = record;
  // [ journal , seq , [ micros, … ] ] tab … newline
  let bytes = 8 + Buffer.byteLength(journalJson) + decimalLength(record.seq) + Math.max(0, micros.length - 1);
  for (let i = 0; i < micros.length; i++) bytes += decimalLength(micros[i]!);
  // , prev
  if (record.prev !== undefined) bytes += 1 + decimalLength(record.prev);
  // length : value
  for (const value of values) bytes += decimalLength(value.length) + 1 + Buffer.byteLength(value);
  return bytes;
}


const LENGTH = /^\d{1,9}$/;

/**
 * The record whose line starts at `start` in `text`, and where the next line starts; undefined
 * for a torn or malformed line. JSON escapes tabs and newlines, so the first of them after
 * `start` is either the tab that ends a header or the newline that ends an earlier version's
 * JSON line.
 */
function parseRecord(text: string, start: number): { record: WalRecord; end: number } | undefined {
  let stop = start;
  while (stop < text.length && text.charCodeAt(stop) !== 0x09 && text.charCodeAt(stop) !== 0x0a) stop++;
  if (stop === text.length) return undefined;
  if (text.charCodeAt(stop) === 0x0a) {
    const fields = parseJson(text.slice(start, stop));
    if (!Array.isArray(fields) || (fields.length !== 4 && fields.length !== 5)) return undefined;
    const record = asRecord(fields[0], fields[1], fields[2], fields[3], fields[4]);
    return record === undefined ? undefined : { record, end: stop + 1 };
  }
  const header = parseJson(text.slice(start, stop));
  if (!Array.isArray(header) || (header.length !== 3 && header.length !== 4) || !Array.isArray(header[2])) return undefined;
  const values: string[] = [];
  let at = stop + 1;
  for (let i = 0; i < header[2].length; i++) {
    const colon = text.indexOf(':', at);
    const length = colon === -1 ? '' : text.slice(at, colon);
    if (!LENGTH.test(length)) return undefined;
    at = colon + 1 + Number(length);
    if (at > text.length) return undefined;
    values.push(text.slice(colon + 1, at));
  }
  if (text.charCodeAt(at) !== 0x0a) return undefined;
  const record = asRecord(header[0], header[1], header[2], values, header[3]);
  return record === undefined ? undefined : { record, end: at + 1 };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function asRecord(journal: unknown, seq: unknown, micros: unknown, values: unknown, prev: unknown): WalRecord | undefined {
  if (typeof journal !== 'string' || typeof seq !== 'number' || !Array.isArray(micros) || !Array.isArray(values)) return undefined;
  if (micros.length === 0 || micros.length !== values.length) return undefined;
  if (!micros.every((m) => typeof m === 'number') || !values.every((v) => typeof v === 'string')) return undefined;
  if (prev !== undefined && typeof prev !== 'number') return undefined;
  const record = { journal, seq, micros: micros as number[], values: values as string[] };
  return prev === undefined ? record : { ...record, prev };
}

/** A record as a JSON line's fields, `prev` last when there is one. */
function jsonFields(record: WalRecord): unknown[] {
  const fields: unknown[] = [record.journal, record.seq, record.micros, record.values];
  if (record.prev !== undefined) fields.push(record.prev);
  return fields;
}
