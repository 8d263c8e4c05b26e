/**
 * A logger's spool: a directory on local disk where events wait, in order,
 * until the server has stored them (e3's `dump` then `send_event_from_file`).
 *
 *   LOCK                      the owning process (src/dir-lock.ts): one logger per spool
 *   id                        a random id, the prefix of every batch key sent from here
 *   0000000000000000.jsonl    segments of events, one JSON text a line, named by the
 *                             number of their first line (lines are numbered from 0, for good)
 *   progress.jsonl            `{"acked":N}`: every line before N is stored or dropped;
 *                             `{"sent":[first,count]}`: a batch sent, so that a restarted
 *                             logger resends exactly that batch with the same key
 *
 * Each line is written with one write(2) before the logging call returns, so
 * a process killed at any moment (SIGKILL) loses no event it accepted;
 * fdatasync runs in the background at most once a second, and on demand
 * (`sync()`), against a power loss. Past `maxBytes`, the oldest segment (an
 * eighth of `maxBytes`) is deleted and its unsent lines counted as dropped.
 * A torn last line (a power loss in a write) is cut off at open.
 */
import type * as Fs from 'node:fs';
import { lock, unlock } from '../dir-lock.js';
import { ErrorCode, JournalError } from '../errors.js';

const SEGMENT_SUFFIX = '.jsonl';
const PROGRESS = 'progress.jsonl';
/** The progress file is rewritten with only what is still true once it grows past this. */
const PROGRESS_COMPACT_BYTES = 256 * 1024;
/** Seconds between background fdatasyncs while lines are written. */
const SYNC_INTERVAL = 1;

/** A batch as the spool hands it out: its first line's number and its lines. */
export interface SpoolBatch {
  readonly first: number;
  readonly lines: string[];
}

interface Segment {
  /** The number of its first line. */
  readonly first: number;
  bytes: number;
}

function nodeFs(): typeof Fs {
  const fs = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:fs');
  if (fs === undefined) throw new TypeError('options.spool needs Node.js (node:fs)');
  return fs as typeof Fs;
}

function segmentName(first: number): string {
  return `${String(first).padStart(16, '0')}${SEGMENT_SUFFIX}`;
}

export class Spool {
  /** The spool's random id: batch keys are `${id}:${first line}`. */
  readonly id: string;
  readonly #fs: typeof Fs;
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  readonly #segments: Segment[];
  #fd: number;
  #nextLine: number;
  /** Every line before this one is stored or dropped. */
  #acked: number;
  /** Batches recorded as sent and not yet acknowledged, oldest first. */
  #sent: { first: number; count: number }[];
  #progressFd: number;
  #progressBytes = 0;
  #totalBytes: number;
  // The reader: the next line to hand out, its segment and byte offset.
  #readLine: number;
  #readSegment: number;
  #readOffset: number;
  #readFd: number | undefined;
  #unsynced = false;
  #syncTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  private constructor(fs: typeof Fs, dir: string, maxBytes: number) {
    this.#fs = fs;
    this.#dir = dir;
    this.#maxBytes = maxBytes;
    this.#segmentBytes = Math.floor(maxBytes / 8);
    fs.mkdirSync(dir, { recursive: true });
    try {
      lock(dir);
    } catch (error) {
      if ((error as { code?: string }).code === 'ELOCKED') {
        throw new JournalError(ErrorCode.SPOOL_LOCKED, `the spool ${dir} is in use by another logger (${(error as Error).message})`, { cause: error });
      }
      throw error;
    }
    try {
      this.id = this.#readId();
      const { acked, sent } = this.#readProgress();
      this.#segments = this.#listSegments();
      if (this.#segments.length === 0) this.#segments.push({ first: acked, bytes: 0 });
      const last = this.#segments.at(-1)!;
      this.#nextLine = last.first + this.#recoverLastSegment(last);
      this.#acked = Math.min(Math.max(acked, this.#segments[0]!.first), this.#nextLine);
      this.#sent = sent.filter((batch) => batch.first >= this.#acked && batch.first + batch.count <= this.#nextLine);
      this.#totalBytes = this.#segments.reduce((sum, segment) => sum + segment.bytes, 0);
      this.#readLine = this.#acked;
      this.#readSegment = 0;
      this.#readOffset = 0;
      this.#seekReader();
      this.#deleteAckedSegments();
      this.#fd = fs.openSync(this.#path(segmentName(last.first)), 'a');
      this.#progressFd = this.#rewriteProgress();
    } catch (error) {
      unlock(dir);
      if (error instanceof JournalError) throw error;
      throw new JournalError(ErrorCode.SPOOL_ERROR, `the spool ${dir} cannot be opened: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Opens (creating it if need be) and locks the spool at `dir`. Throws SPOOL_LOCKED or SPOOL_ERROR. */
  static open(dir: string, maxBytes: number): Spool {
    return new Spool(nodeFs(), dir, maxBytes);
  }

  /** Lines written and not yet stored or dropped. */
  get pending(): number {
    return this.#nextLine - this.#acked;
  }

  /** Every line before this one is stored or dropped. */
  get acked(): number {
    return this.#acked;
  }

  /** The number the next line written gets. */
  get nextLine(): number {
    return this.#nextLine;
  }

  /** True when a line is written and not yet handed out by `read`. */
  get unread(): boolean {
    return this.#readLine < this.#nextLine;
  }

  /** Bytes of the segments on disk. */
  get bytes(): number {
    return this.#totalBytes;
  }

  /**
   * Writes `line` (one JSON text, no newline) with one write(2). Returns the
   * number of unsent lines dropped to keep the spool under `maxBytes`. Throws
   * (SPOOL_ERROR) when the write fails.
   */
  append(line: string): number {
    const text = `${line}\n`;
    const bytes = Buffer.byteLength(text);
    let dropped = 0;
    try {
      let active = this.#segments.at(-1)!;
      if (active.bytes > 0 && active.bytes + bytes > this.#segmentBytes) active = this.#rotate();
      while (this.#totalBytes + bytes > this.#maxBytes && this.#segments.length > 1) dropped += this.#dropOldest();
      this.#fs.writeSync(this.#fd, text);
    } catch (error) {
      throw new JournalError(ErrorCode.SPOOL_ERROR, `cannot write to the spool ${this.#dir}: ${(error as Error).message}`, { cause: error });
    }
    this.#segments.at(-1)!.bytes += bytes;
    this.#totalBytes += bytes;
    this.#nextLine++;
    this.#scheduleSync();
    return dropped;
  }

  /**
   * The next batch to send, from one segment: a batch recorded as sent before a
   * restart exactly as it was, else up to `maxCount` lines and `maxBytes` bytes
   * (at least one line). `undefined` when every line was handed out.
   */
  read(maxCount: number, maxBytes: number): SpoolBatch | undefined {
    if (!this.unread) return undefined;
    const recorded = this.#sent.find((batch) => batch.first === this.#readLine);
    const wanted = recorded?.count ?? maxCount;
    let segment = this.#segments[this.#readSegment]!;
    if (this.#readOffset >= segment.bytes && this.#readSegment < this.#segments.length - 1) {
      this.#readSegment++;
      this.#readOffset = 0;
      this.#closeReader();
      segment = this.#segments[this.#readSegment]!;
    }
    this.#readFd ??= this.#fs.openSync(this.#path(segmentName(segment.first)), 'r');
    const lines: string[] = [];
    let used = 0;
    let chunk = Buffer.allocUnsafe(Math.min(Math.max(maxBytes, 64 * 1024), 4 * 1024 * 1024));
    while (lines.length < wanted && this.#readOffset < segment.bytes) {
      const length = Math.min(chunk.length, segment.bytes - this.#readOffset);
      const read = this.#fs.readSync(this.#readFd, chunk, 0, length, this.#readOffset);
      let start = 0;
      for (let end = chunk.indexOf(10, 0); end >= 0 && end < read; end = chunk.indexOf(10, start)) {
        const size = end + 1 - start;
        if (recorded === undefined && lines.length > 0 && used + size > maxBytes) break;
        lines.push(chunk.toString('utf8', start, end));
        used += size;
        start = end + 1;
        if (lines.length === wanted) break;
      }
      if (start === 0) {
        if (read < chunk.length) break;
        // A line longer than the chunk: read it whole.
        chunk = Buffer.allocUnsafe(chunk.length * 2);
        continue;
      }
      this.#readOffset += start;
      if (recorded === undefined && lines.length > 0 && (used >= maxBytes || start < read)) break;
    }
    if (lines.length === 0) return undefined;
    const first = this.#readLine;
    this.#readLine += lines.length;
    return { first, lines };
  }

  /** Records that lines `first`… (`count` of them) were sent as one batch; a restart resends them as one. */
  markSent(first: number, count: number): void {
    if (this.#sent.some((batch) => batch.first === first)) return;
    this.#sent.push({ first, count });
    this.#writeProgress(`{"sent":[${first},${count}]}\n`);
  }

  /** Every line before `upTo` is stored or dropped: forget them. */
  ack(upTo: number): void {
    if (upTo <= this.#acked) return;
    this.#acked = Math.min(upTo, this.#nextLine);
    this.#sent = this.#sent.filter((batch) => batch.first >= this.#acked);
    this.#writeProgress(`{"acked":${this.#acked}}\n`);
    this.#deleteAckedSegments();
  }

  /** Resolves once every line written so far is on disk (fdatasync). */
  sync(): Promise<void> {
    this.#clearSyncTimer();
    if (!this.#unsynced || this.#closed) return Promise.resolve();
    this.#unsynced = false;
    const fd = this.#fd;
    return new Promise((resolve) => this.#fs.fdatasync(fd, () => resolve()));
  }

  /** Syncs, closes the files and releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.sync();
    this.#closed = true;
    this.#clearSyncTimer();
    this.#closeReader();
    for (const fd of [this.#fd, this.#progressFd]) {
      try {
        this.#fs.closeSync(fd);
      } catch {
        // Already closed: nothing to release.
      }
    }
    unlock(this.#dir);
  }

  #path(name: string): string {
    return `${this.#dir.replace(/[\\/]+$/, '')}/${name}`;
  }

  #readId(): string {
    const path = this.#path('id');
    try {
      const id = this.#fs.readFileSync(path, 'utf8').trim();
      if (/^[A-Za-z0-9-]{8,64}$/.test(id)) return id;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const id = globalThis.crypto.randomUUID();
    this.#fs.writeFileSync(`${path}.tmp`, `${id}\n`);
    this.#fs.renameSync(`${path}.tmp`, path);
    return id;
  }

  #readProgress(): { acked: number; sent: { first: number; count: number }[] } {
    let text = '';
    try {
      text = this.#fs.readFileSync(this.#path(PROGRESS), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    let acked = 0;
    const sent = new Map<number, number>();
    for (const line of text.split('\n')) {
      let record: { acked?: unknown; sent?: unknown };
      try {
        record = JSON.parse(line) as typeof record;
      } catch {
        // A torn last line, or an empty one.
        continue;
      }
      if (typeof record.acked === 'number' && Number.isSafeInteger(record.acked)) acked = Math.max(acked, record.acked);
      const batch = record.sent;
      if (Array.isArray(batch) && Number.isSafeInteger(batch[0]) && Number.isSafeInteger(batch[1]) && (batch[1] as number) > 0) {
        sent.set(batch[0] as number, batch[1] as number);
      }
    }
    return { acked, sent: [...sent].map(([first, count]) => ({ first, count })).sort((a, b) => a.first - b.first) };
  }

  #listSegments(): Segment[] {
    return this.#fs
      .readdirSync(this.#dir)
      .filter((name) => /^\d{16}\.jsonl$/.test(name))
      .map((name) => ({ first: Number(name.slice(0, 16)), bytes: this.#fs.statSync(this.#path(name)).size }))
      .sort((a, b) => a.first - b.first);
  }

  /** Counts the last segment's lines and cuts off a torn last line. */
  #recoverLastSegment(segment: Segment): number {
    const path = this.#path(segmentName(segment.first));
    let data: Buffer;
    try {
      data = this.#fs.readFileSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return 0;
    }
    const end = data.lastIndexOf(10) + 1;
    if (end < data.length) this.#fs.truncateSync(path, end);
    segment.bytes = end;
    let lines = 0;
    for (let at = data.indexOf(10); at >= 0 && at < end; at = data.indexOf(10, at + 1)) lines++;
    return lines;
  }

  /** Moves the reader to line `#readLine`: its segment and byte offset. */
  #seekReader(): void {
    this.#closeReader();
    let index = 0;
    while (index < this.#segments.length - 1 && this.#segments[index + 1]!.first <= this.#readLine) index++;
    this.#readSegment = index;
    this.#readOffset = 0;
    const segment = this.#segments[index]!;
    let skip = this.#readLine - segment.first;
    if (skip <= 0) return;
    const data = this.#fs.readFileSync(this.#path(segmentName(segment.first)));
    let at = 0;
    while (skip > 0 && at < segment.bytes) {
      at = data.indexOf(10, at) + 1;
      skip--;
    }
    this.#readOffset = at;
  }

  #closeReader(): void {
    if (this.#readFd === undefined) return;
    try {
      this.#fs.closeSync(this.#readFd);
    } catch {
      // Already closed.
    }
    this.#readFd = undefined;
  }

  /** Starts a new segment at the next line; the full one is synced and closed in the background. */
  #rotate(): Segment {
    const old = this.#fd;
    const segment = { first: this.#nextLine, bytes: 0 };
    this.#fd = this.#fs.openSync(this.#path(segmentName(segment.first)), 'a');
    this.#segments.push(segment);
    const fs = this.#fs;
    if (this.#unsynced) fs.fdatasync(old, () => fs.close(old, () => {}));
    else fs.close(old, () => {});
    return segment;
  }

  /** Deletes the oldest segment to make room; returns how many of its lines were never handed out. */
  #dropOldest(): number {
    const [oldest, next] = this.#segments as [Segment, Segment];
    const unsent = Math.max(0, next.first - Math.max(this.#readLine, oldest.first));
    this.#segments.shift();
    this.#totalBytes -= oldest.bytes;
    this.#fs.rmSync(this.#path(segmentName(oldest.first)), { force: true });
    if (this.#readLine < next.first || this.#readSegment === 0) {
      this.#readLine = Math.max(this.#readLine, next.first);
      this.#seekReader();
    } else {
      this.#readSegment--;
    }
    if (this.#acked < next.first) {
      this.#acked = next.first;
      this.#sent = this.#sent.filter((batch) => batch.first >= this.#acked);
      this.#writeProgress(`{"acked":${this.#acked}}\n`);
    }
    return unsent;
  }

  #deleteAckedSegments(): void {
    while (this.#segments.length > 1 && this.#segments[1]!.first <= this.#acked && this.#readSegment > 0) {
      const [oldest] = this.#segments.splice(0, 1) as [Segment];
      this.#totalBytes -= oldest.bytes;
      this.#readSegment--;
      this.#fs.rmSync(this.#path(segmentName(oldest.first)), { force: true });
    }
  }

  #writeProgress(record: string): void {
    if (this.#progressBytes > PROGRESS_COMPACT_BYTES) {
      this.#fs.closeSync(this.#progressFd);
      this.#progressFd = this.#rewriteProgress();
    }
    this.#fs.writeSync(this.#progressFd, record);
    this.#progressBytes += record.length;
  }

  /** Writes the progress file anew with only what is still true (atomically, by rename); returns its fd for appending. */
  #rewriteProgress(): number {
    const path = this.#path(PROGRESS);
    const text = [`{"acked":${this.#acked}}`, ...this.#sent.map((batch) => `{"sent":[${batch.first},${batch.count}]}`)].join('\n') + '\n';
    this.#fs.writeFileSync(`${path}.tmp`, text);
    this.#fs.renameSync(`${path}.tmp`, path);
    this.#progressBytes = text.length;
    return this.#fs.openSync(path, 'a');
  }

  #scheduleSync(): void {
    this.#unsynced = true;
    if (this.#syncTimer !== undefined || this.#closed) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      void this.sync();
    }, SYNC_INTERVAL * 1000);
    // The background sync never keeps a process alive: close() syncs.
    (this.#syncTimer as { unref?: () => void }).unref?.();
  }

  #clearSyncTimer(): void {
    if (this.#syncTimer !== undefined) clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
  }
}
