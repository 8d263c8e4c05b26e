/**
 * Scenario 2: live latency. One producer appends 10,000 events/s, one at a
 * time, for ~10 s (quick: 2 s) after a warm-up; 1 and 100 consumers measure
 * append→delivery latency. Baseline: a raw `ws` relay (producer → relay →
 * clients, no store) at the same rate and fan-out; also NATS JetStream and
 * wsjournal on RedisStore. 100 consumers live in 4 processes of 25, each
 * consumer on its own connection.
 *
 * 100 consumers at 10,000 events/s is 1,000,000 WebSocket frames/s, far more
 * than this 2-core machine carries even for the raw relay (it saturates near
 * 100,000/s), so that case measures saturation. Two cases the machine
 * carries are added: 1 consumer at 1,000 events/s and 100 consumers at 100
 * events/s; --quick runs 1 × 10,000/s and 100 × 100/s only.
 *
 * Each rate also measures the fsync floor: raw lmdb-js puts paced at that
 * rate in the store's durability mode (fsync per commit), put→commit latency.
 * It is what a server that delivered only events LMDB had fsync'd would add
 * at least; wsjournal delivers once an event is in its write-ahead log (one
 * write(2), safe from `kill -9`) and acknowledges the append once the log is
 * fdatasync'd (group commit), before LMDB has it.
 */
import { BenchProcess, stopAll } from './lib/child.js';
import { Histogram, type HistogramData } from './lib/histogram.js';
import { deleteRedisKeys } from './lib/redis.js';
import { createStream, deleteStream, natsStream, type NatsStream } from './lib/nats.js';
import { round } from './lib/results.js';
import { log, skip, tempDir, type ScenarioContext } from './lib/scenario.js';
import { REDIS_URL } from './lib/services.js';
import type { LiveFloorConfig } from './live-lmdb-floor.js';
import type { LiveProducerConfig } from './live-producer.js';

const CONSUMER_PROCESSES = 4;

type Mode = LiveProducerConfig['mode'];

interface Setup {
  mode: Mode;
  /** The server process, if the system has one of ours. */
  server?: [script: string, config: object];
  stream?: NatsStream;
}

interface LiveResult {
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
  delivered: number;
  expected: number;
  /** Events not delivered by 10 s after the producer finished: the system was saturated (the percentiles cover delivered events only). */
  undelivered: number;
  achievedRate: number;
  appendAck?: unknown;
  producerFailures: number;
  /** Appends not acknowledged 10 s after the last was sent. */
  unacked: number;
  maxInFlight: number;
}

/** One measurement: server (if any), consumers, then the paced producer. */
export async function measure(
  setup: Setup,
  fanout: number,
  rate: number,
  warmupMs: number,
  durationMs: number,
  profileArgv: ScenarioContext['profileArgv'],
): Promise<LiveResult> {
  const profile = (role: string): { execArgv: string[] } => ({ execArgv: setup.mode === 'wsjournal' ? profileArgv(`live-${role}-${fanout}`) : [] });
  const server = setup.server ? new BenchProcess(setup.server[0], setup.server[1], profile('server')) : undefined;
  const consumers: BenchProcess[] = [];
  let producer: BenchProcess | undefined;
  try {
    const url = server ? (await server.next<{ type: 'listening'; url: string }>('listening')).url : undefined;
    const target = { mode: setup.mode, ...(url === undefined ? {} : { url }), ...(setup.stream ? { stream: setup.stream } : {}) };
    const processes = Math.min(fanout, CONSUMER_PROCESSES);
    for (let i = 0; i < processes; i++) {
      const share = Math.floor(fanout / processes) + (i < fanout % processes ? 1 : 0);
      consumers.push(new BenchProcess('live-consumers', { ...target, consumers: share }, profile('consumers')));
    }
    producer = new BenchProcess('live-producer', { ...target, rate, warmupMs, durationMs } satisfies LiveProducerConfig, profile('producer'));
    await Promise.all([...consumers, producer].map((child) => child.next('ready', 60_000)));
    producer.send({ type: 'go' });
    const done = await producer.next<{
      type: 'done';
      measured: number;
      failures: number;
      unacked: number;
      achievedRate: number;
      maxInFlight: number;
      ack?: unknown;
    }>('done', warmupMs + durationMs + 120_000);
    for (const consumer of consumers) consumer.send({ type: 'finish', expected: done.measured, waitMs: 10_000 });
    const histogram = new Histogram();
    let delivered = 0;
    for (const consumer of consumers) {
      const result = await consumer.next<{ type: 'result'; histogram: HistogramData; delivered: number }>('result', 60_000);
      histogram.merge(result.histogram);
      delivered += result.delivered;
    }
    const { count: _count, ...latency } = histogram.summary();
    const expected = done.measured * fanout;
    return {
      ...latency,
      delivered,
      expected,
      undelivered: expected - delivered,
      achievedRate: done.achievedRate,
      producerFailures: done.failures,
      unacked: done.unacked,
      maxInFlight: done.maxInFlight,
      ...(done.ack === undefined ? {} : { appendAck: done.ack }),
    };
  } finally {
    await stopAll([producer, ...consumers]);
    await server?.stop();
  }
}

type FloorResult = Omit<ReturnType<Histogram['summary']>, 'count'>;

/** Put→commit latency of raw lmdb-js puts paced at `rate` (bench/live-lmdb-floor.ts). */
async function storageFloor(rate: number, warmupMs: number, durationMs: number): Promise<FloorResult> {
  const dir = tempDir('live-floor');
  const child = new BenchProcess('live-lmdb-floor', { path: dir.path, rate, warmupMs, durationMs } satisfies LiveFloorConfig);
  try {
    const { latency } = await child.next<{ type: 'result'; latency: ReturnType<Histogram['summary']> }>('result', warmupMs + durationMs + 60_000);
    const { count: _count, ...rest } = latency;
    return rest;
  } finally {
    await child.stop();
    dir.remove();
  }
}

export async function live(context: ScenarioContext): Promise<void> {
  const warmupMs = context.quick ? 300 : 1000;
  const durationMs = context.quick ? 2000 : 10_000;
  const cases = context.quick
    ? [{ fanout: 1, rate: 10_000 }, { fanout: 100, rate: 100 }]
    : [
        { fanout: 1, rate: 10_000 },
        { fanout: 100, rate: 10_000 },
        { fanout: 1, rate: 1000 },
        { fanout: 100, rate: 100 },
      ];
  const { recorder, profileArgv } = context;
  /** The storage floor depends on the rate alone: measured once per rate. */
  const floors = new Map<number, FloorResult>();
  for (const { fanout, rate } of cases) {
    const label = `consumers=${fanout}/rate=${rate}`;
    const common = {
      consumers: fanout,
      rate,
      durationS: durationMs / 1000,
      consumerLayout: `${Math.min(fanout, CONSUMER_PROCESSES)} process(es), one connection per consumer`,
    };
    const run = (setup: Setup): Promise<LiveResult> => measure(setup, fanout, rate, warmupMs, durationMs, profileArgv);
    log(`live: raw ws relay, ${label}`);
    const relay = await run({ mode: 'ws', server: ['live-relay-server', {}] });
    recorder.record({ scenario: `live/baseline-ws-relay/${label}`, ...common, ...relay, eventsPerSec: relay.achievedRate, ratio: 1 });
    const compare = (system: string, result: LiveResult, withBar: boolean): void => {
      const ratio = round(result.p99Ms / relay.p99Ms, 2);
      const complete = result.undelivered === 0 && result.producerFailures === 0 && result.unacked === 0;
      const bars = withBar ? { bar: 'p99 <= 2x relay p99 (issue: 3x)', pass: ratio <= 2 && complete, passIssue3x: ratio <= 3 && complete } : {};
      const scenario = `live/${system}/${label}`;
      recorder.record({ scenario, ...common, ...result, eventsPerSec: result.achievedRate, baselineP99Ms: relay.p99Ms, ratio, ...bars });
    };

    log(`live: wsjournal on LmdbStore, ${label}`);
    const lmdb = tempDir('live');
    let wsjournalP99: number;
    try {
      const result = await run({ mode: 'wsjournal', server: ['journal-server', { store: 'lmdb', path: lmdb.path }] });
      wsjournalP99 = result.p99Ms;
      compare('wsjournal-lmdb', result, true);
    } finally {
      lmdb.remove();
    }

    log(`live: raw LMDB fsync'd puts at ${rate}/s (the storage floor)`);
    floors.set(rate, floors.get(rate) ?? (await storageFloor(rate, warmupMs, durationMs)));
    const floor = floors.get(rate)!;
    recorder.record({
      scenario: `live/floor-lmdb-fsync-put/${label}`,
      ...common,
      ...floor,
      eventsPerSec: rate,
      note: 'raw lmdb-js put→commit latency, same durability mode, one process, no network: the least a server delivering only events LMDB fsync\'d adds (wsjournal delivers from its write-ahead log before any fsync, and acks once the log is fdatasync\'d)',
      baselineP99Ms: relay.p99Ms,
      ratio: round(floor.p99Ms / relay.p99Ms, 2),
      wsjournalP99OverFloor: round(wsjournalP99 / floor.p99Ms, 2),
    });

    if (!context.others) continue;
    if (context.natsReason !== undefined) skip(context, `live/nats-jetstream-ordered-push/${label}`, context.natsReason);
    else {
      log(`live: NATS JetStream, ${label}`);
      const stream = natsStream('live');
      try {
        await createStream(stream);
        compare('nats-jetstream-ordered-push', await run({ mode: 'nats', stream }), false);
      } finally {
        await deleteStream(stream);
      }
    }

    if (context.redisReason !== undefined) skip(context, `live/wsjournal-redis/${label}`, context.redisReason);
    else {
      log(`live: wsjournal on RedisStore, ${label}`);
      const prefix = `wsjbench:${process.pid}:live:`;
      try {
        compare('wsjournal-redis', await run({ mode: 'wsjournal', server: ['journal-server', { store: 'redis', redisUrl: REDIS_URL, prefix }] }), true);
      } finally {
        await deleteRedisKeys(prefix);
      }
    }
  }
}
