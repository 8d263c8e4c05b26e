/**
 * Scenario: a daily report over a large journal, against the replay of the same events, in
 * one run (server on LmdbStore, each client in a process of its own, a fresh server for each
 * measured run).
 *
 * - Baseline: one EventLogConsumer (callback, `bufferHistory: false`) replaying every event
 *   over the WebSocket, as `replay/wsjournal-lmdb/bufferHistory=false` does.
 * - `report/daily`: `GET …/report?period=day&tz=Europe/Berlin` counting every event, timed
 *   from the request to the last byte. Bar: ≥ 0.3× the baseline's events/s.
 * - `report/daily-by-name` and `report/daily-by-context`: the same grouped by name (read
 *   without parsing the event) and by a context field (every event parsed); no bar.
 *
 * Each pair runs `reps` times, interleaved, and the best run counts. `--report-events N` sets
 * the journal's size (default 1,000,000; quick 100,000).
 */
import { BenchProcess, stopAll } from './lib/child.js';
import { round } from './lib/results.js';
import { log, rate, tempDir, type ScenarioContext } from './lib/scenario.js';
import type { ReportClientConfig } from './report-client.js';

const SHARDS = 10;
const VARIANTS = [
  { scenario: 'report/daily', query: 'period=day&tz=Europe/Berlin', bar: 0.3 },
  { scenario: 'report/daily-by-name', query: 'period=day&tz=Europe/Berlin&by=name' },
  { scenario: 'report/daily-by-context', query: 'period=day&tz=Europe/Berlin&by=context.shard' },
] as const;

interface ClientResult {
  type: 'result';
  events: number;
  ms: number;
}

/** Starts a server on the journal at `path`, runs one client script against it, stops both. */
async function once(path: string, script: string, config: object, serverArgv: string[]): Promise<ClientResult> {
  const server = new BenchProcess('journal-server', { store: 'lmdb', path }, { execArgv: serverArgv });
  let client: BenchProcess | undefined;
  try {
    const { url } = await server.next<{ type: 'listening'; url: string }>('listening');
    client = new BenchProcess(script, { ...config, url });
    return await client.next<ClientResult>('result', 10 * 60_000);
  } finally {
    await stopAll([client, server]);
  }
}

export async function reportScenario(context: ScenarioContext, events?: number): Promise<void> {
  const count = events ?? (context.quick ? 100_000 : 1_000_000);
  const reps = context.quick ? 1 : 3;
  const dir = tempDir('report');
  try {
    log(`report: populating ${count} events`);
    const populate = new BenchProcess('replay-populate', { store: 'lmdb', path: dir.path, count, shards: SHARDS });
    await populate.next('populated', 30 * 60_000);
    await populate.stop();

    const replays: number[] = [];
    const reports = new Map<string, number[]>(VARIANTS.map((variant) => [variant.scenario, []]));
    for (let rep = 1; rep <= reps; rep++) {
      log(`report: run ${rep}/${reps}: replay, then the reports`);
      const replay = await once(dir.path, 'replay-consumer', { count, bufferHistory: false }, context.profileArgv('report-replay-server'));
      replays.push(rate(replay.events, replay.ms));
      for (const variant of VARIANTS) {
        const result = await once(dir.path, 'report-client', { query: variant.query, count } satisfies Omit<ReportClientConfig, 'url'>, context.profileArgv('report-server'));
        reports.get(variant.scenario)!.push(rate(result.events, result.ms));
      }
    }
    const baseline = Math.max(...replays);
    context.recorder.record({ scenario: 'report/baseline-replay', events: count, eventsPerSec: baseline, runs: replays, ratio: 1 });
    for (const variant of VARIANTS) {
      const runs = reports.get(variant.scenario)!;
      const eventsPerSec = Math.max(...runs);
      const ratio = round(eventsPerSec / baseline);
      const bar = 'bar' in variant ? { bar: `>= ${variant.bar}x`, pass: ratio >= variant.bar } : {};
      context.recorder.record({ scenario: variant.scenario, events: count, query: variant.query, eventsPerSec, runs, baseline, ratio, ...bar });
    }
  } finally {
    dir.remove();
  }
}
