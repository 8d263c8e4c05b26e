/**
 * Schema-checked events against the same events without a schema, in the same run:
 *
 * - appends, batched (appendMany of 100, 10 in flight), through a server on LmdbStore, every
 *   event naming BENCH_SCHEMA (types, required fields, no others, an id pattern), so that the
 *   server validates every context; the bar (QUALITY.md) is >= 0.8x the same appends unnamed;
 * - replay of a journal whose events all name the schema, against one whose events name none:
 *   the schema is a part of each stored event's JSON, sent as it is; the consumer parses it.
 *   Then the same two replays to a client that parses nothing (replay-unparsed-client.ts): the
 *   server's part alone, and the MB/s it sends.
 *
 * The two sides of each pair run alternately, five times (a burst of load on the machine takes
 * one run of a side down by a fifth or more), and the best run of each counts.
 */
import { BenchProcess, stopAll } from './lib/child.js';
import { BENCH_SCHEMA } from './lib/events.js';
import { round } from './lib/results.js';
import { log, rate, tempDir, type ScenarioContext } from './lib/scenario.js';
import type { AppendConfig } from './append-producer.js';

/**
 * One append run through a fresh server on LmdbStore, the events naming the schema or not: events/s,
 * and the server process's CPU µs per event (all its threads, the validation worker's included;
 * warm-up included), which a loaded machine disturbs less than events/s.
 */
async function appendRun(shape: AppendConfig, schema: boolean, profileArgv: ScenarioContext['profileArgv']): Promise<{ eventsPerSec: number; serverCpuUs: number | undefined }> {
  const dir = tempDir('schema-append');
  const role = schema ? 'validated' : 'unnamed';
  const server = new BenchProcess('journal-server', { store: 'lmdb', path: dir.path, schemas: [BENCH_SCHEMA] }, { execArgv: profileArgv(`schema-server-${role}`) });
  let producer: BenchProcess | undefined;
  try {
    const { url } = await server.next<{ type: 'listening'; url: string }>('listening');
    producer = new BenchProcess('append-producer', { ...shape, url, schema }, { execArgv: profileArgv(`schema-producer-${role}`) });
    const result = await producer.next<{ type: 'result'; events: number; ms: number }>('result');
    await stopAll([producer, server]);
    const closed = await server.next<{ type: 'closed'; cpuMs: number }>('closed', 1).catch(() => undefined);
    const serverCpuUs = closed === undefined ? undefined : round((closed.cpuMs * 1000) / (shape.total + shape.warmup));
    return { eventsPerSec: rate(result.events, result.ms), serverCpuUs };
  } finally {
    await stopAll([producer, server]);
    dir.remove();
  }
}

/**
 * One replay of `count` events from a journal populated with or without the schema: events/s, and
 * MB/s of frames received. `client` is `replay-consumer` (an EventLogConsumer, callback,
 * bufferHistory false) or `replay-unparsed-client` (pages counted, not parsed: the server alone).
 */
async function replayRun(count: number, schema: boolean, client: 'replay-consumer' | 'replay-unparsed-client'): Promise<{ eventsPerSec: number; megabytesPerSec?: number }> {
  const dir = tempDir('schema-replay');
  let server: BenchProcess | undefined;
  let consumer: BenchProcess | undefined;
  try {
    const populate = new BenchProcess('replay-populate', { store: 'lmdb', path: dir.path, count, schema });
    await populate.next('populated');
    await populate.stop();
    server = new BenchProcess('journal-server', { store: 'lmdb', path: dir.path });
    const { url } = await server.next<{ type: 'listening'; url: string }>('listening');
    consumer = new BenchProcess(client, client === 'replay-consumer' ? { url, count, bufferHistory: false } : { url, count });
    const result = await consumer.next<{ type: 'result'; events: number; ms: number; bytes?: number }>('result');
    const eventsPerSec = rate(result.events, result.ms);
    return result.bytes === undefined ? { eventsPerSec } : { eventsPerSec, megabytesPerSec: round(result.bytes / result.ms / 1000) };
  } finally {
    await stopAll([consumer, server]);
    dir.remove();
  }
}

export async function schema(context: ScenarioContext): Promise<void> {
  const scale = context.quick ? 0.1 : 1;
  const reps = context.quick ? 2 : 5;
  const shape: AppendConfig = { batch: 100, inFlight: 10, total: 200_000 * scale, warmup: 50_000 * scale };
  log(`schema: batched appends, ${shape.total} events, with and without a schema, ${reps} runs each`);
  const plain: number[] = [];
  const checked: number[] = [];
  const plainCpu: number[] = [];
  const checkedCpu: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const unnamed = await appendRun(shape, false, context.profileArgv);
    plain.push(unnamed.eventsPerSec);
    if (unnamed.serverCpuUs !== undefined) plainCpu.push(unnamed.serverCpuUs);
    const validated = await appendRun(shape, true, context.profileArgv);
    checked.push(validated.eventsPerSec);
    if (validated.serverCpuUs !== undefined) checkedCpu.push(validated.serverCpuUs);
  }
  const baseline = Math.max(...plain);
  const eventsPerSec = Math.max(...checked);
  const ratio = round(eventsPerSec / baseline);
  const leastCpu = (runs: number[]) => (runs.length === 0 ? undefined : Math.min(...runs));
  context.recorder.record({
    scenario: 'schema/append-unnamed/batched-100/in-flight-10',
    ...shape,
    eventsPerSec: baseline,
    runs: plain,
    serverCpuUsPerEvent: leastCpu(plainCpu),
    ratio: 1,
  });
  context.recorder.record({
    scenario: 'schema/append-validated/batched-100/in-flight-10',
    ...shape,
    eventsPerSec,
    runs: checked,
    serverCpuUsPerEvent: leastCpu(checkedCpu),
    baseline,
    baselineName: 'the same appends, events naming no schema, same server and store',
    ratio,
    bar: '>= 0.8x',
    pass: ratio >= 0.8,
  });

  const count = Math.round(1_000_000 * scale);
  for (const client of ['replay-consumer', 'replay-unparsed-client'] as const) {
    const unparsed = client === 'replay-unparsed-client';
    const suffix = unparsed ? '-unparsed' : '';
    log(`schema: replay of ${count} events, tagged with a schema and not, ${reps} runs each${unparsed ? ', to a client that parses nothing' : ''}`);
    const untagged: { eventsPerSec: number; megabytesPerSec?: number }[] = [];
    const tagged: { eventsPerSec: number; megabytesPerSec?: number }[] = [];
    for (let rep = 0; rep < reps; rep++) {
      untagged.push(await replayRun(count, false, client));
      tagged.push(await replayRun(count, true, client));
    }
    const best = (runs: typeof tagged) => runs.reduce((a, b) => (b.eventsPerSec > a.eventsPerSec ? b : a));
    const replayBaseline = best(untagged);
    const replayTagged = best(tagged);
    context.recorder.record({
      scenario: `schema/replay-untagged${suffix}`,
      count,
      ...replayBaseline,
      runs: untagged.map((run) => run.eventsPerSec),
      ratio: 1,
    });
    context.recorder.record({
      scenario: `schema/replay-tagged${suffix}`,
      count,
      ...replayTagged,
      runs: tagged.map((run) => run.eventsPerSec),
      baseline: replayBaseline.eventsPerSec,
      baselineName: `replay of the same events naming no schema${unparsed ? ', to the same client' : ''}`,
      ratio: round(replayTagged.eventsPerSec / replayBaseline.eventsPerSec),
    });
  }
}
