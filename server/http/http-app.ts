/**
 * The HTTP side of the server: a Fastify app on the server's port, beside the WebSocket
 * endpoint (the server hands WebSocket upgrades to `ws` itself; Fastify never sees them).
 * Here live what every route shares: admission (origin, token, the request budget), input
 * validation with zod, the error body, the 404, and the metrics of each answer. The routes
 * themselves are plugins in `routes/`.
 */
import type { IncomingMessage } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { ErrorCode } from '../../src/errors.js';
import type { Principal } from '../auth/principal.js';
import '../auth/require-scope.js';
import type { Logger } from '../observe/logger.js';
import { isRefusal, type Refusal, type Ticket } from '../budget/admission.js';
import type { HttpContext } from './context.js';
import { errorResponse, HttpError, issueDetails } from './http-errors.js';
import { ResponseOutput } from './response-output.js';
import { ROUTES } from './routes/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The admitted request's answer as the output budget charges it; `null` on public routes. */
    output: ResponseOutput | null;
  }
  interface FastifyContextConfig {
    /** A route anyone may call: no token, no origin check, no request budget (`/healthz`, `/`). */
    public?: boolean;
  }
}

export type { Refusal } from '../budget/admission.js';

export interface HttpAppOptions {
  readonly context: HttpContext;
  readonly logger: Logger | undefined;
  /** Most HTTP requests handled at once; past it, 503 `OVERLOADED`. */
  readonly maxRequests: number;
  /** The server's admission of a request (origin, token and its principal, connection slots: server/budget/admission.ts), or its refusal. */
  admit(request: IncomingMessage): Refusal | Ticket;
}

export interface HttpApp {
  readonly app: FastifyInstance;
  /** HTTP requests being handled now. */
  inFlight(): number;
}

/** How long a client may take to send a whole request: slow senders do not hold a request slot. */
const REQUEST_TIMEOUT_MS = 30_000;

/** The part of a request each validated schema reads, as error details name it, and the code of its errors. */
const PARTS: Readonly<Record<string, [name: string, status: number, code: string]>> = {
  querystring: ['query', 400, ErrorCode.INVALID_QUERY],
  params: ['path', 400, ErrorCode.BAD_REQUEST],
  headers: ['header', 400, ErrorCode.BAD_REQUEST],
  body: ['body', 422, ErrorCode.INVALID_EVENT],
};

/**
 * The logger Fastify gets: the server's, from `warn` up (or the server's level, if more severe).
 * What Fastify logs below that is its "Server listening at" line, which repeats the server's
 * own `listening on` record, its request lines (turned off: the server logs requests itself)
 * and a `trace` line on a client's socket error.
 */
function fastifyLogger(logger: Logger): FastifyBaseLogger {
  const warn = logger.levels.values['warn']!;
  return logger.child({}, { level: logger.levelVal > warn ? logger.level : 'warn' }) as FastifyBaseLogger;
}

export function createHttpApp(options: HttpAppOptions): HttpApp {
  const { context, logger, maxRequests, admit } = options;
  const app = Fastify({
    ...(logger === undefined ? { logger: false } : { loggerInstance: fastifyLogger(logger) }),
    // Each request is counted in the metrics and logged at debug by the hook below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: context.limits.maxBodySize,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Requests during shutdown get the error body of every other refusal (the hook below).
    return503OnClosing: false,
    routerOptions: { maxParamLength: 256 },
  });

  // JSON only: a text/plain body is refused (415), not read as a string.
  app.removeContentTypeParser('text/plain');

  // Route schemas are zod schemas: validated, and coerced, by zod itself.
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const [part, status, code] = PARTS[httpPart ?? 'body'] ?? PARTS['body']!;
    return (data: unknown) => {
      const result = (schema as z.ZodType).safeParse(data);
      if (result.success) return { value: result.data };
      const { issues } = result.error;
      const details = issueDetails(part, issues);
      const journal = httpPart === 'params' && issues.some((issue) => issue.path[0] === 'journal');
      if (journal) return { error: new HttpError(400, ErrorCode.INVALID_JOURNAL, 'the journal name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', details) };
      // A custom issue may name the code to refuse with (a report's INVALID_TIME_ZONE, say); it then comes first.
      const errorCodeOf = (issue: z.core.$ZodIssue): unknown => (issue.code === 'custom' ? issue.params?.['errorCode'] : undefined);
      const coded = issues.findIndex((issue) => typeof errorCodeOf(issue) === 'string');
      if (coded > 0) details.unshift(...details.splice(coded, 1));
      const errorCode = coded >= 0 ? (errorCodeOf(issues[coded]!) as string) : code;
      return { error: new HttpError(status, errorCode, `${details[0]?.path ?? part}: ${details[0]?.message ?? 'invalid'}`, details) };
    };
  });

  // Each admitted request's principal, for the routes' `requireScope` (server/auth/require-scope.ts).
  app.decorateRequest('principal', null);
  app.decorateRequest('output', null);

  let inFlight = 0;
  app.addHook('onRequest', async (request, reply) => {
    if (context.closing()) throw new HttpError(503, ErrorCode.SHUTTING_DOWN, 'the server is shutting down');
    if (request.routeOptions.config.public === true) return;
    if (inFlight >= maxRequests) throw new HttpError(503, ErrorCode.OVERLOADED, `the server is handling ${maxRequests} requests; retry later`);
    // Answers wait for room as history reads do: past three quarters of maxServerBuffer, none is begun.
    if (!context.output.hasRoom()) throw new HttpError(503, ErrorCode.OVERLOADED, 'the server is out of memory for output; retry later');
    const admitted = admit(request.raw);
    if (isRefusal(admitted)) throw new HttpError(admitted.status, admitted.code, admitted.message);
    request.principal = admitted.principal;
    const output = new ResponseOutput(reply.raw, context.output);
    request.output = output;
    inFlight++;
    reply.raw.once('close', () => {
      inFlight--;
      admitted.release();
      output.closed();
    });
  });

  // Once an answer is handed to its socket (after the hooks, in this turn), what the socket holds is charged.
  app.addHook('onSend', async (request) => {
    if (request.output !== null) setImmediate(request.output.update);
  });

  app.addHook('onResponse', async (request, reply) => {
    context.observer.httpResponded(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime);
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = errorResponse(error);
    const code = (error as { code?: unknown }).code;
    if (code === ErrorCode.STORE_UNAVAILABLE) context.observer.storeError(request.method === 'POST' ? 'append' : 'read', error);
    else if (status >= 500 && code !== ErrorCode.SHUTTING_DOWN && code !== ErrorCode.OVERLOADED) {
      logger?.error({ err: error, route: request.routeOptions.url, method: request.method }, 'request failed');
    }
    if (status === 401) void reply.header('WWW-Authenticate', 'Bearer');
    void reply.code(status).type('application/json; charset=utf-8').send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!.slice(0, 200);
    const { status, body } = errorResponse(new HttpError(404, ErrorCode.NOT_FOUND, `no route ${request.method} ${path}`));
    void reply.code(status).type('application/json; charset=utf-8').send(body);
  });

  for (const route of ROUTES) void app.register(route, { context });
  return { app, inFlight: () => inFlight };
}
