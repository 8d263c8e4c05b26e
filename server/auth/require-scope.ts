/**
 * The one check an HTTP route makes: `requireScope(request, scope, journal?)` answers 403
 * `FORBIDDEN` unless the request's principal (resolved once, when the request was admitted)
 * holds `scope` on `journal`, or on every journal when none is given (server-wide routes:
 * schema registration, `/v1/admin/…`).
 */
import type { FastifyRequest } from 'fastify';
import { ErrorCode } from '../../src/errors.js';
import { HttpError } from '../http/http-errors.js';
import type { Principal } from './principal.js';
import { forbiddenMessage, type Scope } from './scope.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request acts as; `null` on public routes (`/healthz`, the viewer's files). */
    principal: Principal | null;
  }
}

/** Returns the request's principal, or throws 403 `FORBIDDEN` when it lacks `scope` (on `journal`). */
export function requireScope(request: FastifyRequest, scope: Scope, journal?: string): Principal {
  const { principal } = request;
  if (principal !== null && principal.can(scope, journal)) return principal;
  throw forbidden(scope, journal);
}

/** The refusal of an operation outside a token's scopes. */
export function forbidden(scope: Scope, journal?: string): HttpError {
  return new HttpError(403, ErrorCode.FORBIDDEN, forbiddenMessage(scope, journal));
}
