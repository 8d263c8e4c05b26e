/**
 * `GET /`: the viewer's page for a browser (routes/viewer.ts), unless the server was made with
 * `ui: false`; otherwise, and for a script, what this address serves. (A WebSocket client asks
 * for an upgrade on any path, `/` included, and never reaches this route.)
 */
import type { RoutePlugin } from './index.js';
import { acceptsHtml, sendViewerFile, viewerFiles } from './viewer.js';

export const rootRoutes: RoutePlugin = async (app, { context }) => {
  const viewer = context.ui ? await viewerFiles(undefined) : undefined;
  app.get('/', { config: { public: true } }, async (request, reply) => {
    if (viewer !== undefined && acceptsHtml(request)) return sendViewerFile(request, reply, viewer.page);
    if (viewer !== undefined) void reply.header('Vary', 'Accept');
    void reply.type('application/json; charset=utf-8');
    return {
      name: 'wsjournal',
      version: context.version,
      websocket: 'ask for a WebSocket upgrade on this address',
      ...(viewer !== undefined ? { viewer: 'open this address in a browser' } : {}),
      routes: [
        'GET /healthz',
        'GET /metrics',
        'GET /v1/journals',
        'GET /v1/journals/{journal}',
        'GET /v1/journals/{journal}/events',
        'GET /v1/journals/{journal}/events/{seq}',
        'POST /v1/journals/{journal}/events',
        'GET /v1/journals/{journal}/report',
        'GET /v1/journals/{journal}/spans',
      ],
    };
  });
};
