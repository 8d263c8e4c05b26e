/**
 * A journal's events:
 * - `GET /v1/journals/{journal}/events`: one page of a query (server/query/event-query.ts),
 *   `{ events, next }`; filters `since`, `until`, `after`, `names`, `level`, `where`; `order`;
 *   `limit` (default 100, lowered to the server's `maxQueryLimit`); `truncated: true` when
 *   retention removed events after `since` / `after` (the query's range lost its start).
 *   `archived=true` reads the journal's archive files instead (oldest first, same filters and bounds).
 * - `GET /v1/journals/{journal}/events/{seq}`: one event, or 404.
 * - `POST /v1/journals/{journal}/events`: one event or an array of them (`{ name, context?,
 *   schema? }`), checked against the journal's policy and the schemas they name, then stored
 *   as one atomic batch; `Idempotency-Key` is the store's batch key, so a retry stores nothing
 *   and answers the first request's acks.
 *
 * Bounded by the server's limits: the body by `maxFrameSize` (Fastify's bodyLimit), a batch by
 * `maxEventsPerAppend` and `maxEventSize`, a page by `limit`, the connection's output budget
 * and the query time budget, its scan by the slicer that shares the event loop.
 */
import type { preValidationAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../../../src/errors.js';
import { NewEventEntry } from '../../../src/protocol.js';
import { requireScope } from '../../auth/require-scope.js';
import { eventFilter, parseLevel } from '../../query/event-filter.js';
import { formatTimestamp, queryPage, queryString, type EventQuery } from '../../query/event-query.js';
import { parseSelector, SELECTOR_LIMITS } from '../../query/selector.js';
import { nonFiniteNumberPath } from '../../finite-numbers.js';
import type { NewEvent } from '../../store.js';
import { HttpError } from '../http-errors.js';
import { COMMON_QUERY, IntegerParam, JournalParams, TimestampParam } from '../params.js';
import type { RoutePlugin } from './index.js';

/** Events per page unless `limit` says otherwise. */
const DEFAULT_LIMIT = 100;
/** Names in one `names` filter, and the length of each. */
const MAX_NAMES = 100;
const MAX_NAME_LENGTH = 256;

/** `names=a,b` (or `names=a&names=b`): a list of event names. */
const NamesParam = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : [value]).flatMap((item) => item.split(',')).map((name) => name.trim()).filter((name) => name !== ''))
  .pipe(z.array(z.string().max(MAX_NAME_LENGTH)).min(1, 'needs at least one name').max(MAX_NAMES, `at most ${MAX_NAMES} names`));

const LevelParam = z.string().transform((text, ctx) => {
  const level = parseLevel(text);
  if (level === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be debug, info, warning, error, critical, alert or a number' });
    return z.NEVER;
  }
  return level;
});

const EventsQuery = z.strictObject({
  since: TimestampParam.optional(),
  until: TimestampParam.optional(),
  after: IntegerParam.optional(),
  limit: IntegerParam.pipe(z.int().min(1, 'must be at least 1')).optional(),
  order: z.enum(['asc', 'desc']).optional(),
  names: NamesParam.optional(),
  level: LevelParam.optional(),
  where: z.string().max(SELECTOR_LIMITS.maxLength, `at most ${SELECTOR_LIMITS.maxLength} characters`).optional(),
  archived: z.enum(['true', 'false']).optional(),
  ...COMMON_QUERY,
});

const EventParams = JournalParams.extend({ seq: IntegerParam.pipe(z.int().min(1, 'must be at least 1')) });

/** One event or an array of them (the array's length is checked first, by `checkCount`). */
const AppendBody = z.preprocess((body) => (Array.isArray(body) ? body : [body]), z.array(NewEventEntry).min(1, 'an append needs at least one event'));

const AppendHeaders = z.looseObject({
  'idempotency-key': z.string().min(1).max(128, 'at most 128 characters').optional(),
});

export const eventsRoutes: RoutePlugin = async (app, { context }) => {
  const { limits } = context;

  app.get<{ Params: z.output<typeof JournalParams>; Querystring: z.output<typeof EventsQuery> }>(
    '/v1/journals/:journal/events',
    { schema: { params: JournalParams, querystring: EventsQuery } },
    async (request, reply) => {
      requireScope(request, 'read', request.params.journal);
      const { since, until, after, limit, order, names, level, where, archived } = request.query;
      const selector = where === undefined ? undefined : parseSelector(where);
      if (archived === 'true' && order === 'desc') throw new HttpError(400, ErrorCode.INVALID_QUERY, 'archived=true reads oldest first: order=desc is not supported');
      // The scan stops if the client goes away before its page is ready.
      const abandoned = new AbortController();
      const abandon = (): void => abandoned.abort(new HttpError(499, ErrorCode.CLOSED, 'the client went away'));
      request.raw.once('close', abandon);
      const filter = eventFilter({ names: names === undefined ? undefined : new Set(names), level, where: selector });
      const pageLimit = Math.min(limit ?? DEFAULT_LIMIT, limits.maxQueryLimit);
      const budget = {
        maxUnits: limits.maxPageUnits,
        timeMs: limits.queryTimeMs,
        scheduler: context.scheduler,
        owner: request.socket.remoteAddress,
        signal: abandoned.signal,
        // The page is charged to the server's memory budget as it fills: past the budget, the largest holders are cut off.
        hold: request.output?.building,
      };
      if (archived === 'true') {
        // The archive files, oldest first from `after`: `next` goes on after the last event scanned.
        const page = await context.admin
          .readArchived(request.params.journal, { after: after ?? 0, since, until, limit: pageLimit, keep: filter }, budget)
          .finally(() => request.raw.off('close', abandon));
        const next = page.last === undefined ? 'null' : JSON.stringify(`${queryString({ since, until, after: page.last, limit: pageLimit, order: 'asc', names, level, where })}&archived=true`);
        void reply.type('application/json; charset=utf-8');
        return `{"events":[${page.events.join(',')}],"next":${next}}`;
      }
      const query: EventQuery = { since, until, after, limit: pageLimit, order: order ?? 'asc', names, level, where };
      const page = await queryPage(context.store, request.params.journal, query, filter, { ...budget, readSize: limits.readSize }).finally(() =>
        request.raw.off('close', abandon),
      );
      const next = page.next === null ? 'null' : JSON.stringify(queryString(page.next));
      // Asked after the scan, so a trim that ran before it is seen.
      const { removed } = await context.store.start(request.params.journal);
      const truncated = removed.seq > 0 && removed.timestamp > (since ?? 0) && removed.seq > (after ?? 0);
      void reply.type('application/json; charset=utf-8');
      return `{"events":[${page.events.join(',')}],"next":${next}${truncated ? ',"truncated":true' : ''}}`;
    },
  );

  app.get<{ Params: z.output<typeof EventParams> }>('/v1/journals/:journal/events/:seq', { schema: { params: EventParams } }, async (request, reply) => {
    const { journal, seq } = request.params;
    requireScope(request, 'read', journal);
    const [event] = await context.store.readFromSeq(journal, seq, 1);
    if (event?.seq !== seq) throw new HttpError(404, ErrorCode.NOT_FOUND, `journal ${journal} has no event ${seq}`);
    void reply.type('application/json; charset=utf-8');
    return event.json;
  });

  // Before the body is looked at: a token that may not append hears only that.
  // (The path is not validated yet: a name that is no journal name is covered by no glob.)
  const checkCount: preValidationAsyncHookHandler = async (request) => {
    requireScope(request, 'append', (request.params as { journal: string }).journal);
    const { body } = request;
    if (Array.isArray(body) && body.length > limits.maxEventsPerAppend) {
      throw new HttpError(413, ErrorCode.TOO_MANY_EVENTS, `${body.length} events; at most ${limits.maxEventsPerAppend} per append`);
    }
  };

  app.post<{ Params: z.output<typeof JournalParams>; Body: z.output<typeof AppendBody>; Headers: z.output<typeof AppendHeaders> }>(
    '/v1/journals/:journal/events',
    { schema: { params: JournalParams, body: AppendBody, headers: AppendHeaders }, preValidation: checkCount },
    async (request, reply) => {
      const started = performance.now();
      const events: NewEvent[] = request.body.map((event, index) => {
        const context = event.context ?? {};
        const contextJson = JSON.stringify(context);
        const size = Buffer.byteLength(event.name) + Buffer.byteLength(contextJson);
        if (size > limits.maxEventSize) {
          throw new HttpError(413, ErrorCode.EVENT_TOO_LARGE, `event ${index} is ${size} bytes; at most ${limits.maxEventSize} per event`);
        }
        const nonFinite = nonFiniteNumberPath(context, contextJson);
        if (nonFinite !== undefined) throw new HttpError(422, ErrorCode.INVALID_EVENT, `body[${index}].${nonFinite}: a number JSON cannot hold (not finite)`);
        return event.schema === undefined ? { name: event.name, context, contextJson } : { name: event.name, context, contextJson, schema: event.schema };
      });
      const stored = await context.append(request.params.journal, events, request.headers['idempotency-key']);
      context.observer.httpAppended(stored.length, (performance.now() - started) / 1000);
      void reply.type('application/json; charset=utf-8');
      return `{"acks":[${stored.map((event) => `{"seq":${event.seq},"timestamp":${formatTimestamp(event.timestamp)}}`).join(',')}]}`;
    },
  );
};
