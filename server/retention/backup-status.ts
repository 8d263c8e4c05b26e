/** The state of a server's backups: one at a time, and what the last one did. */
import { ErrorCode, JournalError } from '../../src/errors.js';
import type { JournalStore } from '../store.js';

/** What `server.backupStatus()` and `GET /v1/admin/backup` answer. */
export interface BackupStatus {
  /** `idle` before the first backup; then `running`, `done` or `failed` for the last one. */
  readonly state: 'idle' | 'running' | 'done' | 'failed';
  readonly dir?: string;
  /** Seconds since the epoch. */
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** Bytes of the copy, once done. */
  readonly bytes?: number;
  /** The error code and message, once failed. */
  readonly error?: { readonly code: string; readonly message: string };
}

export class Backups {
  #status: BackupStatus = { state: 'idle' };

  get status(): BackupStatus {
    return this.#status;
  }

  /** Runs `store.backup(dir)`, one at a time: `BACKUP_REFUSED` while one runs, `BACKUP_UNSUPPORTED` for a store without it. */
  async run(store: JournalStore, dir: string): Promise<BackupStatus> {
    if (store.backup === undefined) {
      throw new JournalError(
        ErrorCode.BACKUP_UNSUPPORTED,
        `${store.constructor.name} makes no backups of itself${store.constructor.name === 'RedisStore' ? ": use Redis's own persistence (RDB snapshots, AOF) and replicas" : ''}`,
      );
    }
    if (this.#status.state === 'running') throw new JournalError(ErrorCode.BACKUP_REFUSED, `a backup into ${this.#status.dir} is running`);
    const startedAt = Date.now() / 1000;
    this.#status = { state: 'running', dir, startedAt };
    try {
      const { bytes } = await store.backup(dir);
      this.#status = { state: 'done', dir, startedAt, finishedAt: Date.now() / 1000, bytes };
    } catch (error) {
      const { code = ErrorCode.BACKUP_FAILED, message } = error as JournalError;
      this.#status = { state: 'failed', dir, startedAt, finishedAt: Date.now() / 1000, error: { code, message } };
      throw error;
    }
    return this.#status;
  }
}
