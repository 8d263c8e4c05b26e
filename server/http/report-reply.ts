/**
 * What the report routes share around their scan: the budget a report runs within (the
 * server's limits, its scan scheduler, a signal aborted when the client goes away) and the
 * answer, JSON or CSV, streamed.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../../src/errors.js';
import type { ReportBudget } from '../report/report-scan.js';
import { csvBody, jsonBody, type RowFormat } from '../report/report-output.js';
import type { HttpContext } from './context.js';
import { HttpError } from './http-errors.js';

/**
 * Runs `scan` within the report budget of `context`, stopping it if the client goes away
 * before the rows are ready, then answers with the rows as `format` asks.
 */
export async function answerReport<Row>(
  context: HttpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  format: 'json' | 'csv',
  rowFormat: RowFormat<Row>,
  scan: (budget: ReportBudget) => Promise<Row[]>,
): Promise<FastifyReply> {
  const { limits } = context;
  const abandoned = new AbortController();
  const abandon = (): void => abandoned.abort(new HttpError(499, ErrorCode.CLOSED, 'the client went away'));
  request.raw.once('close', abandon);
  let rows: Row[];
  try {
    rows = await scan({
      timeMs: limits.reportTimeMs,
      readSize: limits.readSize,
      maxUnits: limits.maxPageUnits,
      maxGroups: limits.maxReportGroups,
      scheduler: context.scheduler,
      owner: request.socket.remoteAddress,
      signal: abandoned.signal,
    });
  } finally {
    request.raw.off('close', abandon);
  }
  if (format === 'csv') return reply.type('text/csv; charset=utf-8; header=present').send(csvBody(rows, rowFormat));
  return reply.type('application/json; charset=utf-8').send(jsonBody(rows, rowFormat));
}
