/**
 * Resuming across a server restart: the server runs as a child process on an
 * LmdbStore and is stopped (SIGTERM) or crashed (SIGKILL), then started again
 * on the same data. A consumer resumes from `since: lastTimestamp` (a new
 * consumer, or the same one via `start()`), or rides the restart out with
 * `reconnect`, and sees every event exactly once, in order.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import { JournalProducer, type AppendResult } from '../src/journal-producer.js';
import { freePort, once, pollMany, spawnServer, within, type ExitStatus, type ServerProcess } from './helpers.js';

const J = 'resume';
const SENTINEL = EventLogConsumer.SENTINEL_EVENT;
const LIMIT = { timeout: 60_000 };
const SIGNALS = ['SIGTERM', 'SIGKILL'] as const;

interface TestContext {
  after(fn: () => unknown): void;
}

/** A fresh data directory and a list of servers and consumers torn down after the test (consumers first). */
async function fixture(t: TestContext): Promise<{ dataDir: string; servers: ServerProcess[]; consumers: EventLogConsumer[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'wsjournal-resume-'));
  const servers: ServerProcess[] = [];
  const consumers: EventLogConsumer[] = [];
  t.after(async () => {
    for (const consumer of consumers) consumer.stop();
    await Promise.allSettled(servers.map((server) => server.kill('SIGKILL')));
    await rm(dir, { recursive: true, force: true });
  });
  return { dataDir: join(dir, 'data'), servers, consumers };
}

/** Appends events `name` with context `{ i }` for i in from..from+count-1, in batches of 1 to 5, and closes. */
async function append(url: string, from: number, count: number, name = 'e'): Promise<AppendResult[]> {
  const producer = new JournalProducer(url, J, { reconnect: false });
  try {
    const results: AppendResult[] = [];
    for (let i = from; i < from + count; ) {
      const size = Math.min(1 + (i % 5), from + count - i);
      const events = Array.from({ length: size }, (_, k) => ({ name, context: { i: i + k } }));
      results.push(...(size === 1 ? [await producer.append(name, events[0]!.context)] : await producer.appendMany(events)));
      i += size;
    }
    return results;
  } finally {
    await producer.close();
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, k) => from + k);
}

/** The `i` of each event, 'S' for the sentinel. */
function ids(events: readonly JournalEvent[]): unknown[] {
  return events.map((event) => (event === SENTINEL ? 'S' : event.context['i']));
}

/** Polls up to and including the sentinel. */
async function pollToSentinel(consumer: EventLogConsumer, limit = 10_000): Promise<JournalEvent[]> {
  const events: JournalEvent[] = [];
  while (events.length < limit) {
    const event = await consumer.poll(10);
    if (event === null) throw new Error(`the consumer ended after ${events.length} events, before the sentinel`);
    events.push(event);
    if (event === SENTINEL) return events;
  }
  throw new Error(`no sentinel within ${limit} events`);
}

function assertExit(status: ExitStatus, signal: 'SIGTERM' | 'SIGKILL', server: ServerProcess): void {
  const expected = signal === 'SIGTERM' ? { code: 0, signal: null } : { code: null, signal: 'SIGKILL' };
  assert.deepEqual(status, expected, `the server did not exit as expected on ${signal}: ${server.stderr()}`);
}

/** Every event of the journal up to the sentinel, read by a consumer of its own. */
async function readAll(url: string): Promise<JournalEvent[]> {
  const consumer = new EventLogConsumer(url, J, { includeSentinel: true, bufferHistory: false, reconnect: false }).start();
  try {
    const events = await pollToSentinel(consumer, Infinity);
    return events.slice(0, -1);
  } finally {
    consumer.stop();
  }
}

describe('restart: a consumer resumes from lastTimestamp on the same data', () => {
  const N = 40;
  const K = 15;
  const LIVE = 10;

  for (const signal of SIGNALS) {
    it(`a new consumer with since: lastTimestamp gets exactly events ${K + 1}..${N}, then live ones (${signal})`, LIMIT, async (t) => {
      const { dataDir, servers, consumers } = await fixture(t);
      const first = await spawnServer({ dataDir });
      servers.push(first);
      const acks = await append(first.url, 1, N);

      const before = new EventLogConsumer(first.url, J);
      consumers.push(before);
      const head = await pollMany(before.start(), K);
      assert.deepEqual(ids(head), range(1, K));
      const saved = before.lastTimestamp;
      assert.equal(saved, acks[K - 1]!.timestamp);
      before.stop();

      assertExit(await first.kill(signal), signal, first);
      const second = await spawnServer({ dataDir });
      servers.push(second);

      const after = new EventLogConsumer(second.url, J, { since: saved, includeSentinel: true });
      consumers.push(after);
      const history = await pollToSentinel(after.start());
      assert.deepEqual(ids(history), [...range(K + 1, N), 'S']);
      assert.deepEqual(
        history.slice(0, -1).map((event) => [event.seq, event.timestamp]),
        acks.slice(K).map((ack) => [ack.seq, ack.timestamp]),
      );

      const liveAcks = await append(second.url, N + 1, LIVE, 'live');
      const live = await pollMany(after, LIVE);
      assert.deepEqual(ids(live), range(N + 1, N + LIVE));
      assert.deepEqual(
        live.map((event) => [event.seq, event.timestamp]),
        liveAcks.map((ack) => [ack.seq, ack.timestamp]),
      );
      assert.ok(live[0]!.timestamp > history.at(-2)!.timestamp, 'timestamps go on increasing after the restart');
      assert.equal(after.lastTimestamp, liveAcks.at(-1)!.timestamp);
    });

    it(`the same consumer, start()ed again after the restart, goes on from its lastTimestamp (${signal})`, LIMIT, async (t) => {
      const { dataDir, servers, consumers } = await fixture(t);
      const port = await freePort();
      const first = await spawnServer({ dataDir, port });
      servers.push(first);
      await append(first.url, 1, N);

      const consumer = new EventLogConsumer(first.url, J, { includeSentinel: true });
      consumers.push(consumer);
      // History (and the sentinel) is received in full; only K events are handed over.
      const head = await pollMany(consumer.start(), K);
      assert.deepEqual(ids(head), range(1, K));
      const saved = consumer.lastTimestamp;
      consumer.stop();

      assertExit(await first.kill(signal), signal, first);
      const second = await spawnServer({ dataDir, port });
      servers.push(second);
      await append(second.url, N + 1, 3, 'while-stopped');

      assert.equal(consumer.start(), consumer);
      assert.equal(consumer.lastTimestamp, saved);
      const history = await pollToSentinel(consumer);
      assert.deepEqual(ids(history), [...range(K + 1, N + 3), 'S']);
      await append(second.url, N + 4, LIVE, 'live');
      assert.deepEqual(ids(await pollMany(consumer, LIVE)), range(N + 4, N + 3 + LIVE));
      const all = [...head, ...history.slice(0, -1)];
      assert.deepEqual(
        all.map((event) => event.seq),
        range(1, N + 3),
      );
    });
  }
});

describe('restart: a running consumer reconnects to the restarted server', () => {
  it('sees every event exactly once, in order, with one sentinel, across kills and restarts on the same port', LIMIT, async (t) => {
    const { dataDir, servers, consumers } = await fixture(t);
    const port = await freePort();
    const HISTORY = 20;
    const RESTARTS = ['SIGKILL', 'SIGTERM', 'SIGKILL'] as const;
    let server = await spawnServer({ dataDir, port, heartbeatInterval: 1 });
    servers.push(server);
    await append(server.url, 1, HISTORY, 'history');

    const consumer = new EventLogConsumer(server.url, J, { includeSentinel: true });
    consumers.push(consumer);
    const seen: JournalEvent[] = [];
    let reconnects = 0;
    consumer.on('reconnect', () => reconnects++);
    // Waits on what the callback has seen so far, without sleeping.
    let check: (() => void) | undefined;
    const seenUntil = (predicate: (events: readonly JournalEvent[]) => boolean, what: string): Promise<void> =>
      within(
        new Promise<void>((resolve) => {
          check = () => {
            if (predicate(seen)) {
              check = undefined;
              resolve();
            }
          };
          check();
        }),
        15_000,
        what,
      );
    consumer.setCallback((event) => {
      if (event === null) return;
      seen.push(event);
      check?.();
    });
    consumer.start();
    await seenUntil((events) => events.includes(SENTINEL), 'the sentinel');

    let next = HISTORY + 1;
    for (const [cycle, signal] of RESTARTS.entries()) {
      // A writer appends flat out on its own connection until the server goes away.
      const producer = new JournalProducer(server.url, J, { reconnect: false });
      let stopping = false;
      const writer = (async () => {
        while (!stopping) {
          const size = 1 + (next % 4);
          const events = Array.from({ length: size }, (_, k) => ({ name: 'live', context: { i: next + k } }));
          next += size;
          try {
            await producer.appendMany(events);
          } catch (error) {
            if (!stopping) throw error;
          }
        }
      })();
      const mark = seen.length;
      await seenUntil((events) => events.length >= mark + 5, `live events before restart ${cycle + 1}`);

      const reconnected = once(consumer, 'reconnect', 20_000);
      stopping = true;
      assertExit(await server.kill(signal), signal, server);
      await within(writer, 10_000, 'the writer to stop');
      await producer.close();
      server = await spawnServer({ dataDir, port, heartbeatInterval: 1 });
      servers.push(server);
      await reconnected;
    }

    const last = await append(server.url, next, 1, 'last');
    await seenUntil((events) => events.at(-1)?.name === 'last', 'the last event');

    const stored = await readAll(server.url);
    const delivered = seen.filter((event) => event !== SENTINEL);
    assert.equal(seen.filter((event) => event === SENTINEL).length, 1, 'exactly one sentinel');
    assert.equal(seen.indexOf(SENTINEL), HISTORY, 'the sentinel right after the history');
    assert.equal(reconnects, RESTARTS.length);
    assert.deepEqual(
      delivered.map((event) => [event.seq, event.timestamp, event.name, event.context['i']]),
      stored.map((event) => [event.seq, event.timestamp, event.name, event.context['i']]),
      'the consumer saw exactly what is stored',
    );
    assert.deepEqual(
      stored.map((event) => event.seq),
      range(1, stored.length),
    );
    assert.equal(stored.at(-1)!.seq, last[0]!.seq);
    assert.ok(delivered.length > HISTORY + 5 * RESTARTS.length);
  });
});
