/**
 * Scenario 3: durable appends from one producer through the server to the
 * embedded LmdbStore, against raw lmdb-js puts of the same events in the same
 * durability mode, in the same shapes: batched (appendMany of 100, 1 and 10
 * in flight) and one at a time (100 in flight), the latter also with the
 * producer's coalescing turned off (each append a frame of its own, the path
 * before coalescing). Full runs also measure the same server on MemoryStore:
 * with nothing to make durable, it is the ceiling the protocol and the two
 * processes leave on this machine. Then a lone append's latency (p50, p99),
 * coalesced and not, and a JournalLogger logging as fast as it can, in memory
 * and through a spool, against the producer's batched rate.
 */
import { BenchProcess, stopAll } from './lib/child.js';
import { round } from './lib/results.js';
import { log, rate, tempDir, type ScenarioContext } from './lib/scenario.js';
import type { AppendConfig } from './append-producer.js';
import type { LatencyConfig } from './append-latency.js';
import type { LoggerConfig } from './append-logger.js';

interface Shape extends AppendConfig {
  name: string;
  /** The QUALITY.md bar, for the shapes it covers. */
  bar?: number;
}

/** Events/s through a wsjournal server on LmdbStore, or on MemoryStore (`memory`: no durability, the protocol's ceiling). */
async function wsjournalRate(shape: AppendConfig, profileArgv: ScenarioContext['profileArgv'], memory = false): Promise<number> {
  const dir = memory ? undefined : tempDir('append');
  const store = dir === undefined ? { store: 'memory' as const } : { store: 'lmdb' as const, path: dir.path };
  const server = new BenchProcess('journal-server', store, { execArgv: memory ? [] : profileArgv('append-server') });
  let producer: BenchProcess | undefined;
  try {
    const { url } = await server.next<{ type: 'listening'; url: string }>('listening');
    producer = new BenchProcess('append-producer', { ...shape, url }, { execArgv: profileArgv('append-producer') });
    const result = await producer.next<{ type: 'result'; events: number; ms: number }>('result');
    return rate(result.events, result.ms);
  } finally {
    await stopAll([producer, server]);
    dir?.remove();
  }
}

/** Raw LMDB rates measured in this run, by shape (batch and in flight), so that shapes sharing a baseline measure it once. */
const rawRates = new Map<string, number[]>();

async function rawRate(shape: AppendConfig): Promise<number> {
  const dir = tempDir('append-raw');
  const child = new BenchProcess('append-lmdb-raw', { ...shape, path: dir.path });
  try {
    const result = await child.next<{ type: 'result'; events: number; ms: number }>('result');
    return rate(result.events, result.ms);
  } finally {
    await child.stop();
    dir.remove();
  }
}

export async function append(context: ScenarioContext): Promise<void> {
  const scale = context.quick ? 0.1 : 1;
  const reps = context.quick ? 1 : 2;
  // Each run first appends a quarter of its total, untimed, in the same shape (raw LMDB alike):
  // the first appends of a fresh process run while V8 is still compiling the code they use.
  const shapes: Shape[] = [
    { name: 'batched-100/in-flight-1', batch: 100, inFlight: 1, total: 100_000 * scale, warmup: 25_000 * scale, bar: 0.5 },
    { name: 'batched-100/in-flight-10', batch: 100, inFlight: 10, total: 200_000 * scale, warmup: 50_000 * scale, bar: 0.5 },
    { name: 'single/in-flight-100', batch: 1, inFlight: 100, total: 50_000 * scale, warmup: 12_500 * scale, bar: 0.5 },
    { name: 'single/in-flight-100/uncoalesced', batch: 1, inFlight: 100, total: 50_000 * scale, warmup: 12_500 * scale, coalesce: false },
  ];
  let batchedRate = 0;
  for (const { name, bar, ...shape } of shapes) {
    log(`append: ${name}, ${shape.total} events`);
    const wsjournal: number[] = [];
    const rawKey = `${shape.batch}/${shape.inFlight}/${shape.total}`;
    const raw: number[] = rawRates.get(rawKey) ?? [];
    const measureRaw = raw.length === 0;
    rawRates.set(rawKey, raw);
    const memory: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      if (measureRaw) raw.push(await rawRate(shape));
      wsjournal.push(await wsjournalRate(shape, context.profileArgv));
      // The ceiling is context, not a bar: quick runs leave it out to stay under a minute.
      if (!context.quick) memory.push(await wsjournalRate(shape, context.profileArgv, true));
    }
    const baseline = Math.max(...raw);
    const eventsPerSec = Math.max(...wsjournal);
    const ratio = round(eventsPerSec / baseline);
    if (name === 'batched-100/in-flight-10') batchedRate = eventsPerSec;
    if (measureRaw) context.recorder.record({
      scenario: `append/baseline-lmdb-raw/${name}`,
      ...shape,
      eventsPerSec: baseline,
      runs: raw,
      ratio: 1,
    });
    context.recorder.record({
      scenario: `append/wsjournal-lmdb/${name}`,
      ...shape,
      eventsPerSec,
      runs: wsjournal,
      baseline,
      baselineName: 'raw lmdb-js puts, same durability (fsync per commit), same shape',
      ratio,
      ...(bar === undefined ? {} : { bar: `>= ${bar}x`, pass: ratio >= bar }),
    });
    if (memory.length === 0) continue;
    const ceiling = Math.max(...memory);
    context.recorder.record({
      scenario: `append/wsjournal-memory/${name}`,
      ...shape,
      eventsPerSec: ceiling,
      runs: memory,
      baseline,
      note: 'the same server on MemoryStore (nothing durable, no log, no LMDB): what the producer, the WebSocket hop and the server\'s parsing and encoding allow on this machine',
      ratio: round(ceiling / baseline),
    });
  }
  await loneLatency(context);
  await loggerRate(context, batchedRate);
}

/** A lone append's latency through the server on LmdbStore, coalesced and not, alternating in one run. */
async function loneLatency(context: ScenarioContext): Promise<void> {
  const samples = context.quick ? 500 : 5000;
  const reps = context.quick ? 1 : 2;
  const dir = tempDir('append-latency');
  const server = new BenchProcess('journal-server', { store: 'lmdb', path: dir.path });
  try {
    const { url } = await server.next<{ type: 'listening'; url: string }>('listening');
    const best = new Map<boolean, { p50Ms: number; p99Ms: number; runs: { p50Ms: number; p99Ms: number }[] }>();
    for (let rep = 0; rep < reps; rep++) {
      for (const coalesce of [false, true]) {
        log(`append: a lone append's latency, ${samples} samples, coalesce ${coalesce}`);
        const config: LatencyConfig = { samples, warmup: Math.ceil(samples / 4), coalesce };
        const child = new BenchProcess('append-latency', { ...config, url });
        try {
          const result = await child.next<{ type: 'result'; p50Ms: number; p99Ms: number }>('result');
          const entry = best.get(coalesce) ?? { p50Ms: Infinity, p99Ms: Infinity, runs: [] };
          entry.runs.push({ p50Ms: result.p50Ms, p99Ms: result.p99Ms });
          entry.p50Ms = Math.min(entry.p50Ms, result.p50Ms);
          entry.p99Ms = Math.min(entry.p99Ms, result.p99Ms);
          best.set(coalesce, entry);
        } finally {
          await child.stop();
        }
      }
    }
    const before = best.get(false)!;
    const after = best.get(true)!;
    context.recorder.record({ scenario: 'append/latency/lone/uncoalesced', samples, p50Ms: before.p50Ms, p99Ms: before.p99Ms, runs: before.runs });
    context.recorder.record({
      scenario: 'append/latency/lone/coalesced',
      samples,
      p50Ms: after.p50Ms,
      p99Ms: after.p99Ms,
      runs: after.runs,
      baselineName: 'the same appends with coalesce: false, same run, same server',
      p50Ratio: round(after.p50Ms / before.p50Ms),
      ratio: round(after.p99Ms / before.p99Ms),
    });
  } finally {
    await server.stop();
    dir.remove();
  }
}

/** A JournalLogger logging as fast as it can, in memory and through a spool, against the producer's batched rate. */
async function loggerRate(context: ScenarioContext, batchedRate: number): Promise<void> {
  const total = context.quick ? 20_000 : 200_000;
  for (const spooled of [false, true]) {
    const dir = tempDir('append-logger');
    const spool = spooled ? tempDir('append-logger-spool') : undefined;
    const server = new BenchProcess('journal-server', { store: 'lmdb', path: dir.path });
    let child: BenchProcess | undefined;
    try {
      const { url } = await server.next<{ type: 'listening'; url: string }>('listening');
      log(`append: a JournalLogger ${spooled ? 'with a spool' : 'in memory'}, ${total} events`);
      const config: LoggerConfig = { total, warmup: Math.ceil(total / 4), chunk: 1000, ...(spool === undefined ? {} : { spool: spool.path }) };
      child = new BenchProcess('append-logger', { ...config, url });
      const result = await child.next<{ type: 'result'; events: number; ms: number; callsMs: number; dropped: number }>('result');
      // Events stored per second: what was dropped (logged faster than the server took it) is not counted.
      const eventsPerSec = rate(result.events - result.dropped, result.ms);
      context.recorder.record({
        scenario: `append/logger/${spooled ? 'spool' : 'memory'}`,
        total,
        chunk: config.chunk,
        eventsPerSec,
        dropped: result.dropped,
        callMicros: round((result.callsMs * 1000) / result.events),
        baseline: batchedRate,
        baselineName: 'the producer, batched-100/in-flight-10, same run',
        ratio: batchedRate > 0 ? round(eventsPerSec / batchedRate) : null,
      });
    } finally {
      await stopAll([child, server]);
      dir.remove();
      spool?.remove();
    }
  }
}
