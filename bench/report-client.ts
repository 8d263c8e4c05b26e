/**
 * Asks a wsjournal server for one report over HTTP (`GET /v1/journals/bench/report?…`) and
 * times it from the request to the last byte of the answer; checks that the rows count
 * every event of the journal.
 */
import { JOURNAL } from './lib/events.js';
import { config, report, run } from './lib/ipc.js';

export interface ReportClientConfig {
  url: string;
  /** The query string of the report. */
  query: string;
  /** Events in the journal: the rows' counts must add up to it. */
  count: number;
}

run(async () => {
  const { url, query, count } = config<ReportClientConfig>();
  const started = performance.now();
  const response = await fetch(`${url.replace(/^ws/, 'http')}/v1/journals/${JOURNAL}/report?${query}`);
  const text = await response.text();
  const ms = performance.now() - started;
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
  const { rows } = JSON.parse(text) as { rows: { count: number }[] };
  const counted = rows.reduce((sum, row) => sum + row.count, 0);
  if (counted !== count) throw new Error(`the report counted ${counted} of ${count} events`);
  await report({ type: 'result', events: counted, rows: rows.length, ms });
});
