/**
 * Administration, every route behind `requireScope(request, 'admin')` (server/auth/require-scope.ts):
 * - `POST /v1/admin/journals/{journal}/trim` `{ before?, beforeSeq? }`: removes the journal's
 *   oldest events now (the newest is kept); answers `{ trimmed: N }`.
 * - `POST /v1/admin/journals/{journal}/archive` `{ before?, beforeSeq? }`: moves those events
 *   into archive files under the data directory; answers `{ archived: N }`.
 * - `POST /v1/admin/archives/purge` `{ olderThan }` (seconds): deletes older archive files;
 *   answers `{ purged: N }`. `GET /v1/admin/archives` (`journal`, `limit` at most 1000, `after`):
 *   `{ archives: [{ journal, file, firstSeq, lastSeq, lastTimestamp, bytes }], next }`, `next`
 *   the query string of the following page or null, as `GET /v1/journals` pages.
 * - `POST /v1/admin/backup` `{ dir }`: writes an online copy of the store into `dir`, a
 *   directory on the server's machine that must not exist or be empty; answers the status once
 *   done (409 `BACKUP_REFUSED` while one runs or for a directory in use, 501
 *   `BACKUP_UNSUPPORTED` for a store that cannot copy itself).
 * - `GET /v1/admin/backup`: the last backup's status (`idle`, `running`, `done`, `failed`).
 */
import { z } from 'zod';
import { ErrorCode } from '../../../src/errors.js';
import { HttpError } from '../http-errors.js';
import { requireScope } from '../../auth/require-scope.js';
import { COMMON_QUERY, IntegerParam, JournalParams } from '../params.js';
import { JOURNAL_NAME } from '../../../src/protocol.js';
import type { RoutePlugin } from './index.js';

const TrimBody = z
  .strictObject({
    before: z.number().min(0).optional(),
    beforeSeq: z.int().min(0).optional(),
  })
  .refine((body) => body.before !== undefined || body.beforeSeq !== undefined, 'needs before or beforeSeq');

const PurgeBody = z.strictObject({ olderThan: z.number().min(0) });

const BackupBody = z.strictObject({ dir: z.string().min(1).max(4096) });

const AdminQuery = z.strictObject({ ...COMMON_QUERY });

/** Archive files listed per page at most, and by default. */
const ARCHIVES_LIMIT = 1000;

/** `after`: the last file of the previous page, `<journal>/<firstSeq>` (a journal name, then a seq). */
const ARCHIVE_AFTER = new RegExp(`^${JOURNAL_NAME.source.slice(1, -1)}/\\d{1,16}$`);

const ArchivesQuery = z.strictObject({
  journal: z.string().regex(JOURNAL_NAME, 'must be a journal name').optional(),
  after: z.string().regex(ARCHIVE_AFTER, 'must be <journal>/<firstSeq>, as next gives it').optional(),
  limit: IntegerParam.pipe(z.int().min(1)).optional(),
  ...COMMON_QUERY,
});

/** An admin body checked with zod: 400 `BAD_REQUEST` naming the first bad field (the app's body check answers 422 `INVALID_EVENT`, for events). */
function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const [issue] = result.error.issues;
  const where = issue?.path.length ? issue.path.join('.') : 'body';
  throw new HttpError(400, ErrorCode.BAD_REQUEST, `${where}: ${issue?.message ?? 'invalid'}`);
}

export const adminRoutes: RoutePlugin = async (app, { context }) => {
  const { admin } = context;

  app.post<{ Params: z.output<typeof JournalParams> }>(
    '/v1/admin/journals/:journal/trim',
    { schema: { params: JournalParams, querystring: AdminQuery } },
    async (request) => {
      requireScope(request, 'admin');
      const { before, beforeSeq } = parseBody(TrimBody, request.body);
      return admin.trim(request.params.journal, { before, beforeSeq });
    },
  );

  app.post<{ Params: z.output<typeof JournalParams> }>(
    '/v1/admin/journals/:journal/archive',
    { schema: { params: JournalParams, querystring: AdminQuery } },
    async (request) => {
      requireScope(request, 'admin');
      const { before, beforeSeq } = parseBody(TrimBody, request.body);
      return admin.archive(request.params.journal, { before, beforeSeq });
    },
  );

  app.post('/v1/admin/archives/purge', { schema: { querystring: AdminQuery } }, async (request) => {
    requireScope(request, 'admin');
    return admin.purgeArchives(parseBody(PurgeBody, request.body));
  });

  app.get<{ Querystring: z.output<typeof ArchivesQuery> }>('/v1/admin/archives', { schema: { querystring: ArchivesQuery } }, async (request) => {
    requireScope(request, 'admin');
    const { journal, after, limit = ARCHIVES_LIMIT } = request.query;
    const pageLimit = Math.min(limit, ARCHIVES_LIMIT);
    const [afterJournal, afterSeq] = after?.split('/') ?? [];
    const archives = await admin.listArchivePage({
      journal,
      after: afterJournal === undefined ? undefined : { journal: afterJournal, firstSeq: Number(afterSeq) },
      limit: pageLimit,
    });
    const last = archives.at(-1);
    const next =
      archives.length === pageLimit && last !== undefined
        ? new URLSearchParams({ ...(journal === undefined ? {} : { journal }), after: `${last.journal}/${last.firstSeq}`, limit: String(pageLimit) }).toString()
        : null;
    return { archives, next };
  });

  app.post('/v1/admin/backup', { schema: { querystring: AdminQuery } }, async (request) => {
    requireScope(request, 'admin');
    return admin.backup(parseBody(BackupBody, request.body).dir);
  });

  app.get('/v1/admin/backup', { schema: { querystring: AdminQuery } }, async (request) => {
    requireScope(request, 'admin');
    return admin.backupStatus();
  });
};
