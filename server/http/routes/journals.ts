/**
 * `GET /v1/journals`: the journals and their heads, in name order, a page at a time
 * (`limit`, default and cap 1000; `after`, a name; `next` as for events). Only the journals
 * the token may read are listed: a page may hold fewer than `limit`, even none, and still
 * have a `next`. A token without `read` on any journal is refused (403 `FORBIDDEN`).
 * `GET /v1/journals/{journal}`: one journal's head, or 404 for a journal never written
 * (needs `read` on it).
 */
import { z } from 'zod';
import { ErrorCode } from '../../../src/errors.js';
import { JOURNAL_NAME } from '../../../src/protocol.js';
import { requireScope } from '../../auth/require-scope.js';
import { formatTimestamp } from '../../query/event-query.js';
import type { JournalInfo } from '../../store.js';
import { HttpError } from '../http-errors.js';
import { COMMON_QUERY, IntegerParam, JournalParams } from '../params.js';
import type { RoutePlugin } from './index.js';

/** Journals per page, by default and at most (a larger `limit` is lowered to it). */
const LIMIT = 1000;

const ListQuery = z.strictObject({
  limit: IntegerParam.pipe(z.int().min(1)).optional(),
  after: z.string().regex(JOURNAL_NAME, 'must be a journal name').optional(),
  ...COMMON_QUERY,
});

export const journalsRoutes: RoutePlugin = async (app, { context }) => {
  app.get<{ Querystring: z.output<typeof ListQuery> }>('/v1/journals', { schema: { querystring: ListQuery } }, async (request, reply) => {
    const principal = request.principal;
    if (principal === null || !principal.canSome('read')) throw new HttpError(403, ErrorCode.FORBIDDEN, "this token's scopes do not allow read on any journal");
    const limit = Math.min(request.query.limit ?? LIMIT, LIMIT);
    const journals = await context.store.listJournals(request.query.after, limit);
    const last = journals.at(-1);
    const next = journals.length === limit && last !== undefined ? new URLSearchParams({ limit: String(limit), after: last.name }).toString() : null;
    const readable = journals.filter((journal) => principal!.can('read', journal.name));
    void reply.type('application/json; charset=utf-8');
    return `{"journals":[${readable.map(journalJson).join(',')}],"next":${JSON.stringify(next)}}`;
  });

  app.get<{ Params: z.output<typeof JournalParams> }>('/v1/journals/:journal', { schema: { params: JournalParams } }, async (request, reply) => {
    const { journal } = request.params;
    requireScope(request, 'read', journal);
    const head = await context.store.head(journal);
    if (head.seq === 0) throw new HttpError(404, ErrorCode.NOT_FOUND, `journal ${journal} has no events`);
    void reply.type('application/json; charset=utf-8');
    return journalJson({ name: journal, head });
  });
};

/** A journal and its head as JSON, the timestamp exact. */
function journalJson({ name, head }: JournalInfo): string {
  return `{"name":${JSON.stringify(name)},"head":{"seq":${head.seq},"timestamp":${formatTimestamp(head.timestamp)}}}`;
}
