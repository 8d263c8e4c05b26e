/**
 * Scenario 1 (and 4): replay historical events to one consumer, against a raw
 * `ws` server streaming the same events from memory, plus Socket.IO, NATS
 * JetStream, a raw Redis Streams reader and wsjournal on RedisStore. Each
 * measured pair runs a few times, interleaved, and the best run counts.
 */
import { BenchProcess, stopAll } from './lib/child.js';
import { JOURNAL } from './lib/events.js';
import { createStream, deleteStream, natsStream } from './lib/nats.js';
import { round } from './lib/results.js';
import { log, rate, skip, tempDir, type ScenarioContext } from './lib/scenario.js';
import { deleteRedisKeys } from './lib/redis.js';
import { REDIS_URL } from './lib/services.js';

interface ClientResult {
  type: 'result';
  events: number;
  ms: number;
  rssMaxMB: number;
  /** CPU time of the client while timed, and of the server while listening (ours only). */
  cpuMs: number;
  serverCpuMs?: number;
}

interface Runs {
  eventsPerSec: number;
  runs: number[];
  rssMaxMB: number;
  /** CPU µs per event, least of the runs: steadier than events/s while other work loads the machine. */
  cpuUsPerEvent: { client: number; server?: number };
  failedRuns?: number;
  error?: string;
}

/** Starts a server script, runs one client script against its URL, stops both. */
async function serveOnce(
  server: [script: string, config: object, execArgv?: string[]],
  client: [script: string, config: object, execArgv?: string[]],
): Promise<ClientResult> {
  const serverProcess = new BenchProcess(server[0], server[1], { execArgv: server[2] ?? [] });
  let clientProcess: BenchProcess | undefined;
  try {
    const { url } = await serverProcess.next<{ type: 'listening'; url: string }>('listening');
    clientProcess = new BenchProcess(client[0], { ...client[1], url }, { execArgv: client[2] ?? [] });
    const result = await clientProcess.next<ClientResult>('result');
    await stopAll([clientProcess, serverProcess]);
    const closed = await serverProcess.next<{ type: 'closed'; cpuMs: number }>('closed', 1).catch(() => undefined);
    return closed === undefined ? result : { ...result, serverCpuMs: closed.cpuMs };
  } finally {
    await stopAll([clientProcess, serverProcess]);
  }
}

/** Runs `client` once with no server of ours (NATS, Redis). */
async function clientOnce(script: string, config: object): Promise<ClientResult> {
  const child = new BenchProcess(script, config);
  try {
    return await child.next<ClientResult>('result');
  } finally {
    await child.stop();
  }
}

/** A run's result, or why it failed (a failed wsjournal run is a finding, not a reason to stop the bench). */
type Outcome = ClientResult | { type: 'failed'; error: string };

async function attempt(run: () => Promise<ClientResult>, count: number): Promise<Outcome> {
  try {
    const result = await run();
    if (result.events < count) return { type: 'failed', error: `delivered ${result.events} of ${count} events` };
    return result;
  } catch (error) {
    log(`replay: a run failed: ${(error as Error).message.split('\n')[0]}`);
    return { type: 'failed', error: (error as Error).message.split('\n')[0]! };
  }
}

/** The best run's rate, every run's rate, the peak RSS, and the first failure if any. */
function best(outcomes: Outcome[]): Runs {
  const results = outcomes.filter((outcome): outcome is ClientResult => outcome.type === 'result');
  const failure = outcomes.find((outcome) => outcome.type === 'failed');
  const runs = results.map((result) => rate(result.events, result.ms));
  const perEvent = (ms: number | undefined, events: number): number => (ms === undefined ? Infinity : round((ms * 1000) / events, 2));
  const client = Math.min(...results.map((result) => perEvent(result.cpuMs, result.events)));
  const server = Math.min(...results.map((result) => perEvent(result.serverCpuMs, result.events)));
  return {
    eventsPerSec: runs.length > 0 ? Math.max(...runs) : 0,
    runs,
    rssMaxMB: Math.max(0, ...results.map((result) => result.rssMaxMB)),
    cpuUsPerEvent: Number.isFinite(server) ? { client, server } : { client },
    ...(failure === undefined ? {} : { failedRuns: outcomes.length - results.length, error: failure.error }),
  };
}

export async function replay(context: ScenarioContext): Promise<void> {
  const count = context.quick ? 100_000 : 1_000_000;
  const reps = context.quick ? 1 : 3;
  const { recorder, profileArgv } = context;
  const lmdb = tempDir('replay');
  try {
    log(`replay: populating the LmdbStore with ${count} events`);
    const populate = new BenchProcess('replay-populate', { store: 'lmdb', path: lmdb.path, count });
    const populated = await populate.next<{ type: 'populated'; ms: number }>('populated');
    await populate.stop();

    const baselineResults: Outcome[] = [];
    const unbuffered: Outcome[] = [];
    const buffered: Outcome[] = [];
    const lmdbServer: [string, object, string[]] = ['journal-server', { store: 'lmdb', path: lmdb.path }, profileArgv('server')];
    for (let rep = 1; rep <= reps; rep++) {
      log(`replay: run ${rep}/${reps}: raw ws, wsjournal bufferHistory false, true`);
      baselineResults.push(await attempt(() => serveOnce(['replay-ws-server', { count }], ['replay-ws-client', { count }]), count));
      const consumer = (bufferHistory: boolean): [string, object, string[]] => [
        'replay-consumer',
        { count, bufferHistory },
        profileArgv(`consumer-bufferHistory-${bufferHistory}`),
      ];
      // A run that failed (a stall) is not repeated: it would only cost the stall time again.
      const failed = (outcomes: Outcome[]): boolean => outcomes.some((outcome) => outcome.type === 'failed');
      if (!failed(unbuffered)) unbuffered.push(await attempt(() => serveOnce(lmdbServer, consumer(false)), count));
      if (!failed(buffered)) buffered.push(await attempt(() => serveOnce(lmdbServer, consumer(true)), count));
    }
    const baseline = best(baselineResults);
    if (baseline.error !== undefined) throw new Error(`the replay baseline failed: ${baseline.error}`);
    const common = { events: count, baselineName: 'raw ws server → ws client, JSON arrays of 100, JSON.parse' };
    const compare = (scenario: string, runs: Runs, bar?: number): void => {
      const ratio = round(runs.eventsPerSec / baseline.eventsPerSec);
      const barFields = bar === undefined ? {} : { bar: `>= ${bar}x`, pass: ratio >= bar && runs.error === undefined };
      recorder.record({ scenario, ...common, ...runs, baseline: baseline.eventsPerSec, ratio, ...barFields });
    };
    recorder.record({ scenario: 'replay/baseline-ws', ...common, ...baseline, ratio: 1 });
    const unbufferedRuns = best(unbuffered);
    compare('replay/wsjournal-lmdb/bufferHistory=false', unbufferedRuns, 0.7);
    compare('replay/wsjournal-lmdb/bufferHistory=true', best(buffered), 0.5);
    recorder.record({
      scenario: 'memory/replay-consumer-rss',
      events: count,
      rssMB: unbufferedRuns.rssMaxMB,
      baselineClientRssMB: baseline.rssMaxMB,
      bar: '<= 150 MB at 1,000,000 events',
      pass: unbufferedRuns.rssMaxMB <= 150 && unbufferedRuns.error === undefined,
      ...(unbufferedRuns.error === undefined ? {} : { error: unbufferedRuns.error }),
      populateMs: populated.ms,
    });
    if (!context.others) return;

    log('replay: Socket.IO');
    const socketio = await attempt(() => serveOnce(['replay-socketio-server', { count }], ['replay-socketio-client', { count }]), count);
    compare('replay/socket.io', best([socketio]));
    await replayNats(context, count, compare);
    await replayRedis(context, count, compare);
  } finally {
    lmdb.remove();
  }
}

type Compare = (scenario: string, runs: Runs, bar?: number) => void;

async function replayNats(context: ScenarioContext, count: number, compare: Compare): Promise<void> {
  const scenario = 'replay/nats-jetstream-ordered';
  if (context.natsReason !== undefined) return skip(context, scenario, context.natsReason);
  const stream = natsStream('replay');
  try {
    log(`replay: NATS JetStream: publishing ${count} events`);
    await createStream(stream);
    const populate = new BenchProcess('replay-nats-populate', { stream, count });
    await populate.next('populated');
    await populate.stop();
    log('replay: NATS JetStream ordered consumer');
    compare(scenario, best([await attempt(() => clientOnce('replay-nats', { stream, count }), count)]));
  } finally {
    await deleteStream(stream);
  }
}

async function replayRedis(context: ScenarioContext, count: number, compare: Compare): Promise<void> {
  if (context.redisReason !== undefined) {
    skip(context, 'replay/redis-xrange', context.redisReason);
    skip(context, 'replay/wsjournal-redis/bufferHistory=false', context.redisReason);
    return;
  }
  const prefix = `wsjbench:${process.pid}:replay:`;
  const store = { store: 'redis', redisUrl: REDIS_URL, prefix };
  try {
    log(`replay: populating the RedisStore with ${count} events`);
    const populate = new BenchProcess('replay-populate', { ...store, count });
    await populate.next('populated');
    await populate.stop();
    log('replay: raw Redis XRANGE, wsjournal on RedisStore');
    const key = `${prefix}j:{${JOURNAL}}`;
    const xrange = await attempt(() => clientOnce('replay-redis-xrange', { redisUrl: REDIS_URL, key, count }), count);
    compare('replay/redis-xrange', best([xrange]));
    const consumer = await attempt(() => serveOnce(['journal-server', store], ['replay-consumer', { count, bufferHistory: false }]), count);
    compare('replay/wsjournal-redis/bufferHistory=false', best([consumer]));
  } finally {
    await deleteRedisKeys(prefix);
  }
}
