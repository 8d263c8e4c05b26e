/**
 * `GET /v1/journals/{journal}/report`: the journal's events counted per period of a time zone
 * (`period`: hour, day, ISO week, month; `tz`: an IANA zone, default UTC), in `[from, to)`,
 * grouped `by` name, level or `context.KEY`; JSON `{ rows: [{ start, end, group, count }] }` or
 * CSV (`format=csv`, header `start,end,group,count`).
 *
 * Bounded by the server's limits: a scan in slices of the scan scheduler within
 * `reportTimeBudget`, at most `maxReportGroups` groups, rows within the connection's output
 * budget (`maxSendBuffer`); past a bound, 413 `REPORT_TOO_LARGE`.
 */
import { z } from 'zod';
import { requireScope } from '../../auth/require-scope.js';
import { countReport } from '../../report/count-report.js';
import { COUNT_ROWS } from '../../report/report-output.js';
import { parseGroupBy, type GroupBy } from '../../report/report-table.js';
import { JournalParams } from '../params.js';
import { answerReport } from '../report-reply.js';
import { REPORT_QUERY, reportRange } from '../report-params.js';
import type { RoutePlugin } from './index.js';

const ByParam = z.string().transform((text, ctx): GroupBy => {
  const by = parseGroupBy(text);
  if (typeof by !== 'string') return by;
  ctx.addIssue({ code: 'custom', message: by });
  return z.NEVER;
});

const ReportQuery = z.strictObject({ ...REPORT_QUERY, by: ByParam.optional() }).transform((query, ctx) => ({
  ...reportRange(query, ctx),
  by: query.by ?? ({ kind: 'none' } as const),
}));

export const reportRoutes: RoutePlugin = async (app, { context }) => {
  app.get<{ Params: z.output<typeof JournalParams>; Querystring: z.output<typeof ReportQuery> }>(
    '/v1/journals/:journal/report',
    { schema: { params: JournalParams, querystring: ReportQuery } },
    async (request, reply) => {
      requireScope(request, 'read', request.params.journal);
      const { calendar, from, to, by, format } = request.query;
      return answerReport(context, request, reply, format, COUNT_ROWS, (budget) =>
        countReport(context.store, request.params.journal, { calendar, from, to, by }, budget),
      );
    },
  );
};
