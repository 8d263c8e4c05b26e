/**
 * Scenario 3: durable appends from one producer through the server to the
 * embedded LmdbStore, against raw lmdb-js puts of the same events in the same
 * durability mode, in the same shapes: batched (appendMany of 100, 1 and 10
 * in flight) and one at a time (100 in flight). Full runs also measure the
 * same server on MemoryStore: with nothing to make durable, it is the ceiling
 * the protocol and the two processes leave on this machine.
 */
import { BenchProcess, stopAll } from './lib/child.js';
import { round } from './lib/results.js';
import { log, rate, tempDir, type ScenarioContext } from './lib/scenario.js';
import type { AppendConfig } from './append-producer.js';

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
    { name: 'single/in-flight-100', batch: 1, inFlight: 100, total: 50_000 * scale, warmup: 12_500 * scale },
  ];
  for (const { name, bar, ...shape } of shapes) {
    log(`append: ${name}, ${shape.total} events`);
    const wsjournal: number[] = [];
    const raw: number[] = [];
    const memory: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      raw.push(await rawRate(shape));
      wsjournal.push(await wsjournalRate(shape, context.profileArgv));
      // The ceiling is context, not a bar: quick runs leave it out to stay under a minute.
      if (!context.quick) memory.push(await wsjournalRate(shape, context.profileArgv, true));
    }
    const baseline = Math.max(...raw);
    const eventsPerSec = Math.max(...wsjournal);
    const ratio = round(eventsPerSec / baseline);
    context.recorder.record({
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
}
