/**
 * What every HTTP route plugin is given: the store, the server's limits and budgets, and the
 * observer. A route plugin depends on this and on `server/query/`, never on the server itself,
 * so a new resource is one more file under `routes/` and one more line in `routes/index.ts`.
 */
import type { ServerObserver } from '../observe/observer.js';
import type { SliceRunner } from '../budget/scan-slicer.js';
import type { ServerBudget } from '../budget/server-budget.js';
import type { ArchiveBudget, ArchiveFile, ArchivePage, ArchiveRange } from '../retention/archives.js';
import type { BackupStatus } from '../retention/backup-status.js';
import type { JournalStore, NewEvent, StoredEvent, TrimOptions, TrimResult } from '../store.js';

/** The server's limits as the routes apply them. */
export interface HttpLimits {
  /** Most events in one append (POST body array). */
  readonly maxEventsPerAppend: number;
  /** Largest event (name + JSON context), in bytes. */
  readonly maxEventSize: number;
  /** Largest request body, in bytes: the WebSocket's `maxFrameSize`. */
  readonly maxBodySize: number;
  /** The cap of a query's `limit`: a larger one is lowered to it. */
  readonly maxQueryLimit: number;
  /** UTF-16 units of event JSON in one page at most: the connection's output budget (`maxSendBuffer`). */
  readonly maxPageUnits: number;
  /** Milliseconds one page's scan may take; past it the page ends early, with a `next`. */
  readonly queryTimeMs: number;
  /** Events per store read during a scan. */
  readonly readSize: number;
  /** Milliseconds a report (or spans report) may scan; past it, 413 `REPORT_TOO_LARGE`. */
  readonly reportTimeMs: number;
  /** Distinct groups (or keys) in one report at most; past it, 413 `REPORT_TOO_LARGE`. */
  readonly maxReportGroups: number;
}

export interface HttpContext {
  readonly store: JournalStore;
  readonly limits: HttpLimits;
  /** Runs the slices of scans (queries), sharing the event loop among them. */
  readonly scheduler: SliceRunner;
  /** The server-wide memory budget for output (`maxServerBuffer`): each answer is charged what its client has not read. */
  readonly output: ServerBudget;
  readonly observer: ServerObserver;
  /** The package's version, for `GET /`. */
  readonly version: string;
  /** Serve the viewer at `GET /` and `GET /ui/…` (server option `ui`). */
  readonly ui: boolean;
  /** True once the server is closing: requests are answered 503 `SHUTTING_DOWN`. */
  closing(): boolean;
  /**
   * Appends a batch as the WebSocket does: the journal's policy and each named schema are
   * checked first (a refusal rejects with its JournalError and stores nothing), then the
   * store takes the batch, with `key` as its batch key.
   */
  append(journal: string, events: readonly NewEvent[], key: string | undefined): Promise<StoredEvent[]>;
  /** The server's administration, as `/v1/admin/…` calls it. */
  readonly admin: AdminOperations;
}

/** What the admin routes do: the server's own methods of the same names. */
export interface AdminOperations {
  trim(journal: string, options: TrimOptions): Promise<TrimResult>;
  backup(dir: string): Promise<BackupStatus>;
  backupStatus(): BackupStatus;
  archive(journal: string, options: TrimOptions): Promise<{ archived: number }>;
  purgeArchives(options: { olderThan: number }): Promise<{ purged: number }>;
  /** A page of archive files (server/retention/archives.ts, `listPage`). */
  listArchivePage(page: { journal?: string | undefined; after?: { journal: string; firstSeq: number } | undefined; limit: number }): Promise<ArchiveFile[]>;
  /** One page of the archived events of `journal` in `range`, oldest first, bounded by `budget` (server/retention/archives.ts). */
  readArchived(journal: string, range: ArchiveRange, budget: ArchiveBudget): Promise<ArchivePage>;
}
