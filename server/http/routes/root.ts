/**
 * `GET /`: what this address serves, for a person or a script that opens it. (A WebSocket
 * client asks for an upgrade on any path, `/` included, and never reaches this route.)
 */
import type { RoutePlugin } from './index.js';

export const rootRoutes: RoutePlugin = async (app, { context }) => {
  app.get('/', { config: { public: true } }, async (_request, reply) => {
    void reply.type('application/json; charset=utf-8');
    return {
      name: 'wsjournal',
      version: context.version,
      websocket: 'ask for a WebSocket upgrade on this address',
      routes: ['GET /healthz', 'GET /metrics', 'GET /v1/journals', 'GET /v1/journals/{journal}', 'GET /v1/journals/{journal}/events', 'GET /v1/journals/{journal}/events/{seq}', 'POST /v1/journals/{journal}/events'],
    };
  });
};
