/**
 * The HTTP routes, one plugin per resource. A plugin takes `{ context }` (server/http/context.ts),
 * declares each route's input schemas (zod) and its limits next to its handler, and throws
 * JournalErrors for the app to answer. Adding a resource is one file here and one line below.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { HttpContext } from '../context.js';
import { adminRoutes } from './admin.js';
import { eventsRoutes } from './events.js';
import { healthRoutes } from './health.js';
import { journalsRoutes } from './journals.js';
import { metricsRoutes } from './metrics.js';
import { reportRoutes } from './report.js';
import { rootRoutes } from './root.js';
import { spansRoutes } from './spans.js';
import { viewerRoutes } from './viewer.js';

/** What every route plugin is registered with. */
export interface RouteOptions {
  readonly context: HttpContext;
}

export type RoutePlugin = FastifyPluginAsync<RouteOptions>;

export const ROUTES: readonly RoutePlugin[] = [rootRoutes, viewerRoutes, healthRoutes, metricsRoutes, journalsRoutes, eventsRoutes, reportRoutes, spansRoutes, adminRoutes];
