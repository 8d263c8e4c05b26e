/**
 * Archive files: a journal's oldest events moved out of the live store into gzip'd JSON lines
 * under `<dataDir>/archives/<journal>/<firstSeq>-<lastSeq>-<lastMicros>.jsonl.gz`, at most
 * ARCHIVE_FILE_EVENTS events a file.
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
import { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { ErrorCode, JournalError } from '../../src/errors.js';
import { firstMicrosFrom } from '../encode.js';
import type { JournalStore, StoredEvent } from '../store.js';

/** Events per archive file at most. */
export const ARCHIVE_FILE_EVENTS = 100_000;
/** Events per store read while archiving. */
const READ_PAGE = 1000;
const FILE_NAME = /^(\d+)-(\d+)-(\d+)\.jsonl\.gz$/;

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
  /** Archives and purges, one at a time. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(dir: string) {
    this.#dir = dir;
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

  /** The archive files, of one journal or all, oldest first per journal. */
  async list(journal?: string): Promise<ArchiveFile[]> {
    const journals = journal === undefined ? await readdir(this.#dir).catch(() => [] as string[]) : [journal];
    const files: ArchiveFile[] = [];
    for (const name of journals.sort()) {
      const entries = await readdir(join(this.#dir, name)).catch(() => [] as string[]);
      const found: ArchiveFile[] = [];
      for (const file of entries) {
        const match = FILE_NAME.exec(file);
        if (!match) continue;
        const { size } = await stat(join(this.#dir, name, file));
        found.push({ journal: name, file, firstSeq: Number(match[1]), lastSeq: Number(match[2]), lastTimestamp: Number(match[3]) / 1e6, bytes: size });
      }
      files.push(...found.sort((a, b) => a.firstSeq - b.firstSeq));
    }
    return files;
  }

  /** The archived events of `journal` with seq above `after`, oldest first, passing `keep`, at most `limit`. */
  async read(journal: string, after: number, limit: number, keep: (event: StoredEvent & { json: string }) => boolean): Promise<{ events: string[]; last: number | undefined }> {
    const events: string[] = [];
    let last: number | undefined;
    for (const file of await this.list(journal)) {
      if (file.lastSeq <= after) continue;
      const lines = createInterface({ input: createReadStream(join(this.#dir, journal, file.file)).pipe(createGunzip()), crlfDelay: Infinity });
      for await (const line of lines) {
        const event = JSON.parse(line) as { seq: number; timestamp: number; name: string };
        if (event.seq <= after) continue;
        last = event.seq;
        if (keep({ seq: event.seq, timestamp: event.timestamp, name: event.name, json: line })) events.push(line);
        if (events.length === limit) {
          lines.close();
          return { events, last };
        }
      }
    }
    return { events, last: undefined };
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
    const archivedThrough = (await this.list(journal)).at(-1)?.lastSeq ?? 0;
    let archived = 0;
    let next = archivedThrough + 1;
    let cut = 0;
    for (;;) {
      // One file's events, read a page at a time.
      const lines: string[] = [];
      let first: StoredEvent | undefined;
      let last: StoredEvent | undefined;
      let done = false;
      while (lines.length < ARCHIVE_FILE_EVENTS) {
        const page = await store.readFromSeq(journal, next, Math.min(READ_PAGE, ARCHIVE_FILE_EVENTS - lines.length));
        if (page.length === 0) {
          done = true;
          break;
        }
        for (const event of page) {
          if (!moves(event)) {
            done = true;
            break;
          }
          first ??= event;
          last = event;
          lines.push(event.json);
        }
        if (done) break;
        next = page.at(-1)!.seq + 1;
      }
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

/** The lines as text, a thousand to a chunk: gzip's stream takes few large writes faster than many small ones. */
function* chunks(lines: readonly string[]): Generator<string> {
  for (let i = 0; i < lines.length; i += 1000) yield `${lines.slice(i, i + 1000).join('\n')}\n`;
}
