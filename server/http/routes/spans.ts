/**
 * `GET /v1/journals/{journal}/spans`: busy time between paired events per key per period
 * (server/report/span-report.ts): `start` and `stop` (event names), `key` (`context.KEY`
 * pairing them; without it, every span has the key `null`), and `period`, `tz`, `from`, `to`,
 * `format` as for reports; rows `{ start, end, key, spans, busySeconds, utilization }`, CSV
 * header `start,end,key,spans,busySeconds,utilization`.
 *
 * Bounded as reports are: the scan scheduler, `reportTimeBudget`, at most `maxReportGroups`
 * keys (and open spans), rows within `maxSendBuffer`; past a bound, 413 `REPORT_TOO_LARGE`.
 */
import { z } from 'zod';
import { requireScope } from '../../auth/require-scope.js';
import { nowMicros } from '../../encode.js';
import { SPAN_ROWS } from '../../report/report-output.js';
import { spanReport } from '../../report/span-report.js';
import { JournalParams } from '../params.js';
import { answerReport } from '../report-reply.js';
import { ContextPathParam, EventNameParam, REPORT_QUERY, reportRange } from '../report-params.js';
import type { RoutePlugin } from './index.js';

const SpansQuery = z
  .strictObject({ ...REPORT_QUERY, start: EventNameParam, stop: EventNameParam, key: ContextPathParam.optional() })
  .superRefine((query, ctx) => {
    if (query.start === query.stop) ctx.addIssue({ code: 'custom', path: ['stop'], message: 'must differ from start' });
  })
  .transform((query, ctx) => ({ ...reportRange(query, ctx), start: query.start, stop: query.stop, key: query.key }));

export const spansRoutes: RoutePlugin = async (app, { context }) => {
  app.get<{ Params: z.output<typeof JournalParams>; Querystring: z.output<typeof SpansQuery> }>(
    '/v1/journals/:journal/spans',
    { schema: { params: JournalParams, querystring: SpansQuery } },
    async (request, reply) => {
      requireScope(request, 'read', request.params.journal);
      const { calendar, from, to, start, stop, key, format } = request.query;
      return answerReport(context, request, reply, format, SPAN_ROWS, (budget) =>
        spanReport(context.store, request.params.journal, { calendar, from, to, start, stop, key, now: nowMicros() }, budget),
      );
    },
  );
};
