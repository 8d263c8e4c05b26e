/**
 * Administration, every route behind `requireScope(request, 'admin')` (server/auth/require-scope.ts):
 * - `POST /v1/admin/journals/{journal}/trim` `{ before?, beforeSeq? }`: removes the journal's
 *   oldest events now (the newest is kept); answers `{ trimmed: N }`.
 * - `POST /v1/admin/journals/{journal}/archive` `{ before?, beforeSeq? }`: moves those events
 *   into archive files under the data directory; answers `{ archived: N }`.
 * - `POST /v1/admin/archives/purge` `{ olderThan }` (seconds): deletes older archive files;
 *   answers `{ purged: N }`. `GET /v1/admin/archives`: `{ archives: [{ journal, file, firstSeq,
 *   lastSeq, lastTimestamp, bytes }] }`.
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
import { COMMON_QUERY, JournalParams } from '../params.js';
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

  app.get('/v1/admin/archives', { schema: { querystring: AdminQuery } }, async (request) => {
    requireScope(request, 'admin');
    return { archives: await admin.listArchives() };
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
