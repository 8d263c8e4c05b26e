/** `GET /healthz`: 200 `{"status":"ok"}` while the store can take appends, 503 otherwise. Needs no token. */
import { ErrorCode, JournalError } from '../../../src/errors.js';
import { errorResponse } from '../http-errors.js';
import type { RoutePlugin } from './index.js';

/** The longest the store's check may take before the server is reported unavailable. */
const CHECK_TIMEOUT_MS = 2000;

export const healthRoutes: RoutePlugin = async (app, { context }) => {
  app.get('/healthz', { config: { public: true } }, async (_request, reply) => {
    void reply.type('application/json; charset=utf-8').header('Cache-Control', 'no-store');
    try {
      await checkWithin(context.store.check(), CHECK_TIMEOUT_MS);
      return '{"status":"ok"}';
    } catch (error) {
      context.observer.storeError('check', error);
      const { body } = errorResponse(error instanceof JournalError ? error : new JournalError(ErrorCode.STORE_UNAVAILABLE, String(error)));
      return reply.code(503).send(`{"status":"unavailable",${body.slice(1)}`);
    }
  });
};

function checkWithin(check: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new JournalError(ErrorCode.STORE_UNAVAILABLE, `the store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([check, late]).finally(() => clearTimeout(timer));
}
