/**
 * Scenario: HTTP queries on a large journal while appends go on (server on LmdbStore, the
 * querying client, the appending producer and the bystander in processes of their own).
 *
 * 1. `query/newest-1000-matching`: the newest 1,000 events matching `{"context.shard":0}`
 *    (selectivity 10%: every event has `shard: i % 10`, those appended during the run too, so
 *    a page scans about 10,000 events) on a journal of 1,000,000 events (quick: 100,000),
 *    one query after the other, while a producer appends 10,000 events/s one at a time. Bar:
 *    p99 ≤ 50 ms.
 * 2. `query/bystander-append`: a bystander appends 100 events/s, one at a time, while another
 *    client runs the heaviest query it can: a selector that matches nothing, newest first,
 *    following `next` through the whole journal, 4 such iterations at once, every page
 *    scanning for the server's whole time budget. Bar: the bystander's slowest round trip
 *    ≤ 100 ms.
 *
 * `--query-events N` sets the journal's size (the lead's full run uses the default).
 */
import { BenchProcess, stopAll } from './lib/child.js';
import { Histogram, type HistogramData } from './lib/histogram.js';
import { log, tempDir, type ScenarioContext } from './lib/scenario.js';
import type { QueryClientConfig } from './query-client.js';
import type { QueryLoadConfig } from './query-load.js';

const SHARDS = 10;
const APPEND_RATE = 10_000;
const BYSTANDER_RATE = 100;
const HEAVY_CONCURRENCY = 4;

interface LoadDone {
  type: 'done';
  achievedRate: number;
  failures: number;
  ack: HistogramData;
}

interface ClientDone {
  type: 'done';
  pages: number;
  shortPages: number;
  eventsSeen: number;
  latency: HistogramData;
}

function summary(data: HistogramData): ReturnType<Histogram['summary']> {
  const histogram = new Histogram();
  histogram.merge(data);
  return histogram.summary();
}

/** Runs a query client and an appender against `url` together; resolves with both results. */
async function together(url: string, client: Omit<QueryClientConfig, 'url'>, load: Omit<QueryLoadConfig, 'url'>): Promise<[ClientDone, LoadDone]> {
  const querier = new BenchProcess('query-client', { ...client, url } satisfies QueryClientConfig);
  const appender = new BenchProcess('query-load', { ...load, url } satisfies QueryLoadConfig);
  try {
    await Promise.all([querier.next('ready', 60_000), appender.next('ready', 60_000)]);
    querier.send({ type: 'go' });
    appender.send({ type: 'go' });
    const wait = client.warmupMs + client.durationMs + 120_000;
    return await Promise.all([querier.next<ClientDone>('done', wait), appender.next<LoadDone>('done', wait)]);
  } finally {
    await stopAll([querier, appender]);
  }
}

export async function query(context: ScenarioContext, events?: number): Promise<void> {
  const count = events ?? (context.quick ? 100_000 : 1_000_000);
  const warmupMs = context.quick ? 1000 : 4000;
  const durationMs = context.quick ? 3000 : 15_000;
  const dir = tempDir('query');
  let server: BenchProcess | undefined;
  try {
    log(`query: populating ${count} events`);
    const populate = new BenchProcess('replay-populate', { store: 'lmdb', path: dir.path, count, shards: SHARDS });
    await populate.next('populated', 30 * 60_000);
    await populate.stop();
    server = new BenchProcess('journal-server', { store: 'lmdb', path: dir.path }, { execArgv: context.profileArgv('query-server') });
    const { url } = await server.next<{ type: 'listening'; url: string }>('listening');

    log(`query: the newest 1000 of 1 in ${SHARDS} events, while ${APPEND_RATE} events/s are appended`);
    const [newest, load] = await together(
      url,
      { mode: 'newest', where: { 'context.shard': 0 }, limit: 1000, concurrency: 1, warmupMs, durationMs },
      { rate: APPEND_RATE, shards: SHARDS, warmupMs, durationMs },
    );
    const latency = summary(newest.latency);
    context.recorder.record({
      scenario: 'query/newest-1000-matching',
      journalEvents: count,
      selector: { 'context.shard': 0 },
      selectivity: 1 / SHARDS,
      limit: 1000,
      queries: newest.pages,
      shortPages: newest.shortPages,
      appendRate: load.achievedRate,
      appendFailures: load.failures,
      ...latency,
      bar: { p99Ms: 50 },
      pass: latency.p99Ms <= 50,
    });

    log(`query: a bystander's appends while ${HEAVY_CONCURRENCY} heaviest queries run`);
    const [heavy, bystander] = await together(
      url,
      { mode: 'heaviest', where: { 'context.shard': -1 }, limit: 1000, concurrency: HEAVY_CONCURRENCY, warmupMs, durationMs },
      { rate: BYSTANDER_RATE, shards: SHARDS, warmupMs, durationMs },
    );
    const roundTrip = summary(bystander.ack);
    const pages = summary(heavy.latency);
    context.recorder.record({
      scenario: 'query/bystander-append',
      journalEvents: count,
      heavyQueries: HEAVY_CONCURRENCY,
      heavyPages: heavy.pages,
      heavyPageP50Ms: pages.p50Ms,
      heavyPageMaxMs: pages.maxMs,
      bystanderRate: bystander.achievedRate,
      bystanderFailures: bystander.failures,
      ...roundTrip,
      bar: { maxMs: 100 },
      pass: roundTrip.maxMs <= 100,
    });
  } finally {
    await stopAll([server]);
    dir.remove();
  }
}
