/**
 * HTTP errors: every error answers `{ "error": { "code", "message", "details"? } }` with a
 * status fitting its code. Routes throw a JournalError (or an HttpError when the status is
 * not the code's usual one); the app's error handler turns it, and Fastify's own errors (body
 * too large, not JSON), into that body.
 */
import type { z } from 'zod';
import { ErrorCode, JournalError, type ErrorDetail } from '../../src/errors.js';
import { boundedDetails, boundedMessage, MAX_ERROR_DETAILS } from '../error-bounds.js';

/** The status of each error code an HTTP route answers with; codes not listed answer 500. */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.INVALID_QUERY]: 400,
  [ErrorCode.INVALID_SELECTOR]: 400,
  [ErrorCode.INVALID_JOURNAL]: 400,
  [ErrorCode.INVALID_TIME_ZONE]: 400,
  [ErrorCode.INVALID_PERIOD]: 400,
  [ErrorCode.INVALID_RANGE]: 400,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.REQUEST_TOO_LARGE]: 413,
  [ErrorCode.TOO_MANY_EVENTS]: 413,
  [ErrorCode.EVENT_TOO_LARGE]: 413,
  [ErrorCode.REPORT_TOO_LARGE]: 413,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCode.INVALID_EVENT]: 422,
  [ErrorCode.INVALID_SCHEMA]: 422,
  [ErrorCode.UNKNOWN_SCHEMA]: 422,
  [ErrorCode.SCHEMA_VIOLATION]: 422,
  [ErrorCode.SCHEMA_REQUIRED]: 422,
  [ErrorCode.SCHEMA_NOT_ALLOWED]: 422,
  [ErrorCode.SCHEMA_CONFLICT]: 409,
  [ErrorCode.BACKUP_REFUSED]: 409,
  [ErrorCode.BACKUP_UNSUPPORTED]: 501,
  [ErrorCode.OVERLOADED]: 503,
  [ErrorCode.STORE_UNAVAILABLE]: 503,
  [ErrorCode.SHUTTING_DOWN]: 503,
};

/** A JournalError with the HTTP status to answer. */
export class HttpError extends JournalError {
  override name = 'HttpError';
  readonly statusCode: number;

  constructor(statusCode: number, code: string, message: string, details?: readonly ErrorDetail[]) {
    super(code, message, { details });
    this.statusCode = statusCode;
  }
}

/** An error as the body of a response, and its status. */
export function errorResponse(error: unknown): { status: number; body: string } {
  const { status, code, message, details } = describe(error);
  const body: { code: string; message: string; details?: readonly ErrorDetail[] } = { code, message: boundedMessage(message) };
  if (details !== undefined && details.length > 0) body.details = boundedDetails(details);
  return { status, body: JSON.stringify({ error: body }) };
}

/** zod's issues as error details, the path prefixed by the part of the request (`query`, `body`, …). */
export function issueDetails(part: string, issues: readonly z.core.$ZodIssue[]): ErrorDetail[] {
  return issues.slice(0, MAX_ERROR_DETAILS).map((issue) => ({
    path: [part, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
}

/** Fastify's own errors, by their code. */
const FASTIFY: Readonly<Record<string, [status: number, code: string]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, ErrorCode.REQUEST_TOO_LARGE],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, ErrorCode.UNSUPPORTED_MEDIA_TYPE],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, ErrorCode.BAD_REQUEST],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, ErrorCode.BAD_REQUEST],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, ErrorCode.BAD_REQUEST],
};

function describe(error: unknown): { status: number; code: string; message: string; details?: readonly ErrorDetail[] | undefined } {
  if (error instanceof HttpError) return { status: error.statusCode, code: error.code, message: error.message, details: error.details };
  if (error instanceof JournalError) return { status: STATUS_BY_CODE[error.code] ?? 500, code: error.code, message: error.message, details: error.details };
  const { code, statusCode, message } = error as { code?: unknown; statusCode?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : 'the request failed';
  const known = typeof code === 'string' ? FASTIFY[code] : undefined;
  if (known !== undefined) return { status: known[0], code: known[1], message: text };
  // A body that is not JSON reaches here as a SyntaxError with status 400.
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return { status: statusCode, code: ErrorCode.BAD_REQUEST, message: text };
  return { status: 500, code: ErrorCode.INTERNAL_ERROR, message: 'the server failed to answer; see its log' };
}
