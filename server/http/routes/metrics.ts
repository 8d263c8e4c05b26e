/** `GET /metrics`: the Prometheus text exposition of the server's metrics (server/observe/metrics.ts). */
import type { RoutePlugin } from './index.js';

export const metricsRoutes: RoutePlugin = async (app, { context }) => {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await context.observer.metrics.exposition();
    void reply.type(contentType).header('Cache-Control', 'no-store');
    return text;
  });
};
