/**
 * Runs HTTP queries against the bench journal for `durationMs` after `warmupMs`, `concurrency`
 * at a time, and reports each page's latency:
 * - `newest`: the newest `limit` events matching `where` (one page, `order=desc`);
 * - `heaviest`: a selector that matches nothing, newest first, following `next` through the
 *   whole journal and starting over: every page scans for the server's whole time budget.
 */
import { JOURNAL } from './lib/events.js';
import { Histogram } from './lib/histogram.js';
import { command, config, report, run } from './lib/ipc.js';

export interface QueryClientConfig {
  url: string;
  mode: 'newest' | 'heaviest';
  where: Record<string, unknown>;
  limit: number;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

run(async () => {
  const options = config<QueryClientConfig>();
  const base = `${options.url.replace(/^ws/, 'http')}/v1/journals/${JOURNAL}/events`;
  const first = new URLSearchParams({ order: 'desc', limit: String(options.limit), where: JSON.stringify(options.where) }).toString();
  await report({ type: 'ready' });
  await command('go');
  const latency = new Histogram();
  const started = performance.now();
  const measureFrom = started + options.warmupMs;
  const end = measureFrom + options.durationMs;
  let pages = 0;
  let shortPages = 0;
  let eventsSeen = 0;
  const loop = async (): Promise<void> => {
    let query = first;
    while (performance.now() < end) {
      const sent = performance.now();
      const response = await fetch(`${base}?${query}`);
      const body = (await response.json()) as { events?: unknown[]; next?: string | null; error?: unknown };
      if (!response.ok || !Array.isArray(body.events)) throw new Error(`HTTP ${response.status}: ${JSON.stringify(body.error)}`);
      if (sent >= measureFrom) {
        latency.record(performance.now() - sent);
        pages++;
        eventsSeen += body.events.length;
        if (options.mode === 'newest' && body.events.length < options.limit) shortPages++;
      }
      query = options.mode === 'heaviest' && typeof body.next === 'string' ? body.next : first;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  await report({ type: 'done', pages, shortPages, eventsSeen, latency: latency.toJSON() });
});
