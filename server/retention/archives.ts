/**
 * Archive files: a journal's oldest events moved out of the live store into gzip'd JSON lines
 * under `<dataDir>/archives/<journal>/<firstSeq>-<lastSeq>-<lastMicros>.jsonl.gz`, at most
 * ARCHIVE_FILE_EVENTS events and ARCHIVE_FILE_UNITS of JSON a file, read from the store in
 * slices of the server's scan slicer.
 *
 * Each file is written to a temporary name, fsync'd, renamed, and its directory fsync'd: a
 * crash leaves only whole files under their final names (temporary ones are deleted on the
 * next archive). The events are trimmed from the store only after their files are renamed; a
 * crash between the two leaves events both archived and in the store, and the next archive of
 * that journal starts after the newest archived seq, so nothing is archived twice.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pipeline as pipelineCallback, Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { ErrorCode, JournalError } from '../../src/errors.js';
import { firstMicrosFrom } from '../encode.js';
import type { JournalStore, StoredEvent } from '../store.js';
import type { PageBudget } from '../query/event-query.js';
import { NEXT_TURN, type SliceRunner } from '../budget/scan-slicer.js';

/** Events per archive file at most. */
export const ARCHIVE_FILE_EVENTS = 100_000;
/** UTF-16 units of event JSON per archive file at most (one event always fits): what archiving holds in memory. */
export const ARCHIVE_FILE_UNITS = 32 * 1024 * 1024;
/** Events per store read while archiving: each read and its events are one slice of the scheduler. */
const READ_PAGE = 256;
const FILE_NAME = /^(\d+)-(\d+)-(\d+)\.jsonl\.gz$/;
/** A line longer than this (no newline in as many characters) fails the read: no event is that large. */
const MAX_LINE_UNITS = 64 * 1024 * 1024;

/** Which archived events a page reads: as an HTTP query's `after`, `since`, `until`, `limit` and filters. */
export interface ArchiveRange {
  /** Only events with seq above this. */
  readonly after: number;
  /** Only events with timestamp above this. */
  readonly since?: number | undefined;
  /** Only events with timestamp at most this. */
  readonly until?: number | undefined;
  /** Events per page at most. */
  readonly limit: number;
  /** The page's other filters (names, level, selector), given the event and its JSON. */
  readonly keep?: ((event: StoredEvent) => boolean) | undefined;
}

/** What one page of archived events may cost: a query page's budget, without its store reads. */
export type ArchiveBudget = Omit<PageBudget, 'readSize'>;

/**
 * Places in archive files kept at most: a page that ends inside a file keeps its stream there, so
 * that the next page (`after` its `last`) reads on instead of reading the file again from its
 * start. Each holds an open file and a gunzip stream; past this, the oldest is closed.
 */
export const MAX_CURSORS = 16;
/** A kept place is closed when no page took it within this. */
const CURSOR_TTL_MS = 30_000;

/** A place in an archive file: its decompressed text's chunks, and what is left of the last one read. */
interface Cursor {
  readonly journal: string;
  readonly file: string;
  readonly chunks: AsyncIterator<string>;
  rest: string;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly close: () => void;
}

/** A kept place's key: its journal, its file, and the seq the page that takes it starts after. */
function cursorKey(journal: string, file: string, after: number): string {
  return `${journal}\n${file}\n${after}`;
}

/** One page of archived events. */
export interface ArchivePage {
  /** The events' JSON lines, as archived. */
  readonly events: string[];
  /** The seq of the last event scanned, where the next page goes on; undefined once the range is done. */
  readonly last: number | undefined;
}

/** One archive file. */
export interface ArchiveFile {
  readonly journal: string;
  readonly file: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** The timestamp of its newest event, seconds. */
  readonly lastTimestamp: number;
  readonly bytes: number;
}

export class Archives {
  readonly #dir: string;
  /** Places pages left in archive files, by journal, file and the seq the next page starts after; oldest first. */
  readonly #cursors = new Map<string, Cursor>();
  /** Archives and purges, one at a time. */
  #queue: Promise<unknown> = Promise.resolve();

  /** Runs archiving's store reads, sharing the event loop with other scans. */
  readonly #scheduler: SliceRunner;
  readonly #fileUnits: number;

  /**
   * `scheduler`: the server's scan slicer (by default each read waits for the next turn of the
   * event loop); `fileUnits`: UTF-16 units of event JSON per file at most (ARCHIVE_FILE_UNITS).
   */
  constructor(dir: string, options: { scheduler?: SliceRunner; fileUnits?: number } = {}) {
    this.#dir = dir;
    this.#scheduler = options.scheduler ?? NEXT_TURN;
    this.#fileUnits = options.fileUnits ?? ARCHIVE_FILE_UNITS;
  }

  /**
   * Moves the journal's events before `before` (seconds) or `beforeSeq` (kept) into archive
   * files, then trims them from the store; the newest event stays. Resolves with how many
   * events were archived.
   */
  archive(store: JournalStore, journal: string, bound: { before?: number | undefined; beforeSeq?: number | undefined }): Promise<{ archived: number }> {
    return this.#serial(() => this.#archive(store, journal, bound));
  }

  /** Deletes the archive files whose newest event is more than `olderThan` seconds old. */
  purge(olderThan: number, now = Date.now() / 1000): Promise<{ purged: number }> {
    return this.#serial(async () => {
      let purged = 0;
      for (const file of await this.list()) {
        if (file.lastTimestamp < now - olderThan) {
          await unlink(join(this.#dir, file.journal, file.file));
          purged++;
        }
      }
      return { purged };
    });
  }

  /** The archive files, of one journal or all, by journal name, oldest first per journal. */
  list(journal?: string): Promise<ArchiveFile[]> {
    return this.listPage({ journal, limit: Infinity });
  }

  /**
   * At most `limit` archive files, of `journal` or of every journal, in the order of {@link list},
   * from after `after` (a file's journal and first seq, as the last file of the previous page
   * gives them). A full page may be followed by an empty one.
   */
  async listPage(page: { journal?: string | undefined; after?: { journal: string; firstSeq: number } | undefined; limit: number }): Promise<ArchiveFile[]> {
    const { journal, after, limit } = page;
    const journals = journal === undefined ? (await readdir(this.#dir).catch(() => [] as string[])).sort() : [journal];
    const files: ArchiveFile[] = [];
    for (const name of journals) {
      if (after !== undefined && name < after.journal) continue;
      for (const file of await this.#filesOf(name)) {
        if (after !== undefined && name === after.journal && file.firstSeq <= after.firstSeq) continue;
        if (files.length >= limit) return files;
        // A file purged since the directory was read is left out.
        const size = await stat(join(this.#dir, name, file.file)).then(
          (stats) => stats.size,
          () => undefined,
        );
        if (size !== undefined) files.push({ ...file, bytes: size });
      }
    }
    return files;
  }

  /** The archive files of `journal`, oldest first, from their names alone (none when it has no directory). */
  async #filesOf(journal: string): Promise<Omit<ArchiveFile, 'bytes'>[]> {
    const files: Omit<ArchiveFile, 'bytes'>[] = [];
    for (const file of await readdir(join(this.#dir, journal)).catch(() => [] as string[])) {
      const match = FILE_NAME.exec(file);
      if (match) files.push({ journal, file, firstSeq: Number(match[1]), lastSeq: Number(match[2]), lastTimestamp: Number(match[3]) / 1e6 });
    }
    return files.sort((a, b) => a.firstSeq - b.firstSeq);
  }

  /**
   * One page of the archived events of `journal`, oldest first: those with seq above
   * `range.after` (and timestamp in `since`..`until`) that `range.keep` passes, at most
   * `range.limit`. A page is bounded as a query's is (event-query.ts): it ends at its limit, at
   * `budget.maxUnits` of event JSON (one event always fits), or once it has scanned for
   * `budget.timeMs` past `after`; each decompressed chunk of a file is read in a slice of
   * `budget.scheduler`. `last` is the seq of the last event scanned, where the next page goes on;
   * undefined when the archives hold nothing more in the range. A page that ends inside a file
   * leaves its place there for the page that starts at `last` (see {@link MAX_CURSORS}). Rejects
   * with the signal's reason when it is aborted, and with ARCHIVE_FAILED when a file cannot be read.
   */
  async read(journal: string, range: ArchiveRange, budget: ArchiveBudget): Promise<ArchivePage> {
    const { after, since, until, limit, keep } = range;
    const deadline = performance.now() + budget.timeMs;
    const events: string[] = [];
    let units = 0;
    let last: number | undefined;
    /** Where slice stopped in its text: the start of the first line it did not read. */
    let stoppedAt = 0;
    /** Reads the lines of `text` before `end`: true when the page is done (full, or past `until`). */
    const slice = (text: string, end: number): boolean => {
      for (let start = 0; start < end; ) {
        let stop = text.indexOf('\n', start);
        if (stop < 0 || stop > end) stop = end;
        const line = text.slice(start, stop);
        start = stop + 1;
        if (line === '' || seqOf(line) <= after) continue;
        const event = JSON.parse(line) as { seq: number; timestamp: number; name: string };
        if (until !== undefined && event.timestamp > until) {
          last = undefined;
          return true;
        }
        last = event.seq;
        if (since !== undefined && event.timestamp <= since) continue;
        if (keep !== undefined && !keep({ seq: event.seq, timestamp: event.timestamp, name: event.name, json: line })) continue;
        events.push(line);
        units += line.length;
        const room = budget.hold?.(units) ?? true;
        if (events.length >= limit || units >= budget.maxUnits || !room) {
          stoppedAt = start;
          return true;
        }
      }
      stoppedAt = text.length;
      return false;
    };
    for (const file of await this.#filesOf(journal)) {
      if (file.lastSeq <= after || (since !== undefined && file.lastTimestamp <= since)) continue;
      const cursor = this.#cursor(journal, file.file, after);
      let parked = false;
      try {
        for (;;) {
          // Whole lines an earlier page left are read before the next chunk.
          let text = cursor.rest;
          let end = text.lastIndexOf('\n');
          let done = false;
          if (end < 0) {
            const next = await cursor.chunks.next();
            done = next.done === true;
            if (done) {
              // Files end with a newline; one that does not still has its last line read.
              end = text.length;
            } else {
              text += next.value;
              end = text.lastIndexOf('\n');
              if (end < 0) {
                if (text.length > MAX_LINE_UNITS) throw new Error(`a line longer than ${MAX_LINE_UNITS} characters`);
                cursor.rest = text;
                continue;
              }
            }
          }
          const full = end > 0 && (await budget.scheduler.run(budget.owner, () => slice(text, end), budget.signal));
          if (full) {
            // Past `until` (last undefined) the range is over; at the file's end there is no place to keep.
            if (last === undefined || done) return { events, last };
            cursor.rest = text.slice(stoppedAt);
            parked = this.#park(cursor, last);
            return { events, last };
          }
          if (done) break;
          cursor.rest = text.slice(end + 1);
          // Checked once an event past `after` was scanned: every page makes progress.
          if (last !== undefined && performance.now() >= deadline) {
            parked = this.#park(cursor, last);
            return { events, last };
          }
        }
      } catch (error) {
        if (budget.signal?.aborted || error instanceof JournalError) throw error;
        // A file purged since it was listed: its events are gone.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new JournalError(ErrorCode.ARCHIVE_FAILED, `archive ${journal}/${file.file} cannot be read: ${(error as Error).message}`, { cause: error });
      } finally {
        if (!parked) cursor.close();
      }
    }
    return { events, last: undefined };
  }

  /** Closes the places kept in archive files. */
  close(): void {
    for (const cursor of this.#cursors.values()) {
      clearTimeout(cursor.timer);
      cursor.close();
    }
    this.#cursors.clear();
  }

  /** The place a page left in `file` at seq `after`, taken from the kept ones, or the file opened from its start. */
  #cursor(journal: string, file: string, after: number): Cursor {
    const kept = this.#cursors.get(cursorKey(journal, file, after));
    if (kept !== undefined) {
      this.#cursors.delete(cursorKey(journal, file, after));
      clearTimeout(kept.timer);
      return kept;
    }
    const gunzip = createGunzip();
    // Errors of either stream reach the reader through gunzip.
    pipelineCallback(createReadStream(join(this.#dir, journal, file)), gunzip, () => {});
    gunzip.setEncoding('utf8');
    return {
      journal,
      file,
      chunks: (gunzip as AsyncIterable<string>)[Symbol.asyncIterator](),
      rest: '',
      timer: undefined,
      close: () => gunzip.destroy(),
    };
  }

  /** Keeps `cursor` for the page that starts at seq `last`, the oldest kept one closed past MAX_CURSORS. True when kept. */
  #park(cursor: Cursor, last: number): boolean {
    const key = cursorKey(cursor.journal, cursor.file, last);
    if (this.#cursors.has(key)) return false;
    if (this.#cursors.size >= MAX_CURSORS) {
      const [oldestKey, oldest] = this.#cursors.entries().next().value!;
      this.#cursors.delete(oldestKey);
      clearTimeout(oldest.timer);
      oldest.close();
    }
    cursor.timer = setTimeout(() => {
      this.#cursors.delete(key);
      cursor.close();
    }, CURSOR_TTL_MS);
    cursor.timer.unref();
    this.#cursors.set(key, cursor);
    return true;
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #archive(store: JournalStore, journal: string, bound: { before?: number | undefined; beforeSeq?: number | undefined }): Promise<{ archived: number }> {
    const dir = join(this.#dir, journal);
    await mkdir(dir, { recursive: true });
    for (const entry of await readdir(dir)) if (entry.startsWith('.tmp-')) await rm(join(dir, entry), { force: true });
    const head = await store.head(journal);
    if (head.seq === 0) return { archived: 0 };
    const beforeMicros = bound.before === undefined ? Infinity : firstMicrosFrom(bound.before);
    const beforeSeq = Math.min(bound.beforeSeq ?? Infinity, head.seq);
    const moves = (event: StoredEvent): boolean => event.seq < beforeSeq && Math.round(event.timestamp * 1e6) < beforeMicros;
    const archivedThrough = (await this.#filesOf(journal)).at(-1)?.lastSeq ?? 0;
    let archived = 0;
    let next = archivedThrough + 1;
    let cut = 0;
    for (;;) {
      // One file's events, read a page at a time, each page a slice.
      const lines: string[] = [];
      let units = 0;
      let first: StoredEvent | undefined;
      let last: StoredEvent | undefined;
      let done = false;
      /** One slice: a read and its events; true when the file is full or nothing more moves. */
      const readPage = async (): Promise<boolean> => {
        const page = await store.readFromSeq(journal, next, Math.min(READ_PAGE, ARCHIVE_FILE_EVENTS - lines.length));
        if (page.length === 0) return (done = true);
        for (const event of page) {
          if (!moves(event)) return (done = true);
          // The file is full: this event starts the next one.
          if (lines.length > 0 && units + event.json.length > this.#fileUnits) return true;
          first ??= event;
          last = event;
          lines.push(event.json);
          units += event.json.length;
          next = event.seq + 1;
        }
        return lines.length >= ARCHIVE_FILE_EVENTS;
      };
      while (!(await this.#scheduler.run('archive', readPage)));
      if (first !== undefined && last !== undefined) {
        await writeAtomically(dir, `${first.seq}-${last.seq}-${Math.round(last.timestamp * 1e6)}.jsonl.gz`, lines);
        archived += lines.length;
        cut = last.seq + 1;
      }
      if (done || first === undefined) break;
    }
    // What earlier archives hold and the store still has (a crash came between) goes too.
    cut = Math.max(cut, archivedThrough + 1);
    if (cut > 1) await store.trim(journal, { beforeSeq: cut });
    return { archived };
  }
}

/** Writes `lines` gzip'd to `dir/name` through a temporary file, fsync'd, renamed, and the directory fsync'd. */
async function writeAtomically(dir: string, name: string, lines: readonly string[]): Promise<void> {
  const temp = join(dir, `.tmp-${randomUUID()}`);
  try {
    await pipeline(Readable.from(chunks(lines)), createGzip(), createWriteStream(temp));
    const file = await open(temp, 'r+');
    try {
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, join(dir, name));
    const directory = await open(dir, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  } catch (error) {
    await rm(temp, { force: true });
    throw new JournalError(ErrorCode.ARCHIVE_FAILED, `writing archive ${name} failed: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The seq of an archived event's line, read from its end without parsing it: the line is the
 * event's stored JSON, `…,"seq":N}` or `…,"seq":N,"schema":{…}}`, and the schema member holds
 * no `"seq":`. Infinity when it is not there (the line is parsed then).
 */
function seqOf(line: string): number {
  const at = line.lastIndexOf(SEQ_MEMBER);
  if (at < 0) return Infinity;
  let seq = 0;
  let i = at + SEQ_MEMBER.length;
  const first = i;
  for (let c = line.charCodeAt(i); c >= 0x30 && c <= 0x39; c = line.charCodeAt(++i)) seq = seq * 10 + (c - 0x30);
  return i === first ? Infinity : seq;
}

const SEQ_MEMBER = '"seq":';

/** The lines as text, a thousand to a chunk: gzip's stream takes few large writes faster than many small ones. */
function* chunks(lines: readonly string[]): Generator<string> {
  for (let i = 0; i < lines.length; i += 1000) yield `${lines.slice(i, i + 1000).join('\n')}\n`;
}
