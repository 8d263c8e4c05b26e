/**
 * QUALITY.md, Reliability: "acknowledged appends survive a crash".
 *
 * The server runs as a child process on an LmdbStore. Producers append
 * continuously (single events and batches), each event carrying a unique
 * `{ writer, n }`, and record every acknowledgement. At a random moment after
 * the round's first acks the server is killed with SIGKILL and restarted on
 * the same data and port. Two kinds of producer write: fresh ones
 * (`reconnect: false`, new each round, going on with new ids), whose appends
 * in flight at the kill fail with an unknown outcome, and resending ones
 * (`reconnect: true`, living through every kill), which resend unacknowledged
 * batches with the same batch key, so a batch stored just before the kill
 * must not be stored twice. At the end everything is read back and checked:
 * no acknowledged event lost or moved, no duplicate, seq contiguous from 1,
 * timestamps strictly increasing, every batch all or nothing and contiguous.
 * Unacknowledged events may or may not be stored; they are counted, not judged.
 * A live consumer follows each round up to the kill: since the server sends
 * events before their fsync, every event it was sent must also be stored,
 * with the seq and timestamp it was sent with.
 *
 * WSJOURNAL_SEED=<n> replays the same batch sizes and kill delays (the timing
 * of the kill relative to the writes is the OS's).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { JournalConnection } from '../src/connection.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import { JournalProducer, type AppendResult } from '../src/journal-producer.js';
import { freePort, spawnServer, within, type ServerProcess } from './helpers.js';
import { stressCount } from './stress-level.js';

const KILLS = stressCount(20, 100);
/** Producers with `reconnect: false`, new each round: their appends in flight at the kill have an unknown outcome. */
const FRESH_PRODUCERS = 3;
/** Appends each fresh producer keeps in flight at once. */
const LANES = 2;
/** Producers that live through every kill, reconnecting and resending unacknowledged batches with their keys. */
const RESENDING_PRODUCERS = 2;
const MAX_BATCH = 25;
/** The kill comes this long after the round's first ack, drawn per round. */
const KILL_DELAY_MS = [5, 60] as const;
const JOURNAL = 'crash';
const SENTINEL = EventLogConsumer.SENTINEL_EVENT;

/** One append as the producer made it: its ids, and its ack if one came. */
interface Batch {
  readonly round: number;
  readonly kind: Kind;
  readonly writer: string;
  readonly ids: readonly string[];
  results: AppendResult[] | undefined;
  /** The round in which the ack came: later than `round` if it was resent after a kill. */
  ackRound: number | undefined;
  /** Why it was not acknowledged (after the kill: the connection closed). */
  failure: string | undefined;
}

/** Every append made, by id. */
class Ledger {
  readonly batches: Batch[] = [];
  readonly byId = new Map<string, { batch: Batch; index: number }>();
  readonly #next = new Map<string, number>();

  open(round: number, kind: Kind, writer: string, size: number): { batch: Batch; contexts: { writer: string; n: number }[] } {
    const contexts = Array.from({ length: size }, () => {
      const n = (this.#next.get(writer) ?? 0) + 1;
      this.#next.set(writer, n);
      return { writer, n };
    });
    const batch: Batch = { round, kind, writer, ids: contexts.map(idOf), results: undefined, ackRound: undefined, failure: undefined };
    this.batches.push(batch);
    batch.ids.forEach((id, index) => this.byId.set(id, { batch, index }));
    return { batch, contexts };
  }
}

function idOf(context: { writer?: unknown; n?: unknown }): string {
  return `${String(context.writer)}#${String(context.n)}`;
}

/** mulberry32: a small seeded PRNG, so a failing run's sizes and delays can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'fresh' | 'resending';

/** A promise with its resolve, for "the first ack of this round has come". */
class Signal {
  resolve!: () => void;
  readonly promise = new Promise<void>((resolve) => {
    this.resolve = resolve;
  });
}

interface WriterState {
  round: number;
  /** Set just before a kill: from then on, fresh writers expect their appends to fail. */
  killing: boolean;
  /** Set at the end: resending writers finish the append in hand and stop. */
  stopping: boolean;
  /** The first ack of the current round, by kind of writer. */
  acks: Record<Kind, Signal>;
  /** Wall-clock seconds just before each round's kill, by round. */
  killedAt: number[];
  /** Every event a round's live consumer was sent, by id. */
  seenLive: Map<string, { seq: number; timestamp: number }>;
}

/** A consumer of new events only that records each in `seen`; resolves once it is subscribed. */
async function followLive(url: string, seen: WriterState['seenLive']): Promise<EventLogConsumer> {
  const consumer = new EventLogConsumer(url, JOURNAL, { full: false, reconnect: false });
  consumer.setCallback((event) => {
    if (event !== null && event.seq !== undefined) seen.set(idOf(event.context), { seq: event.seq, timestamp: event.timestamp });
  });
  await within(
    new Promise((resolve, reject) => consumer.once('subscribed', resolve).once('error', reject).start()),
    10_000,
    'the live consumer to subscribe',
  );
  return consumer;
}

/**
 * Appends on `producer`, one append in flight at a time. A fresh writer's
 * producer has `reconnect: false`; it stops when its connection dies in the
 * kill. A resending writer's producer reconnects and resends what was not
 * acknowledged (with the same batch key), so it never fails and never stops
 * before the end.
 */
async function lane(
  producer: JournalProducer,
  writer: string,
  kind: Kind,
  ledger: Ledger,
  state: WriterState,
  random: () => number,
): Promise<void> {
  while (kind === 'fresh' ? !state.killing : !state.stopping) {
    const size = random() < 0.4 ? 1 : 2 + Math.floor(random() * (MAX_BATCH - 1));
    const { batch, contexts } = ledger.open(state.round, kind, writer, size);
    try {
      batch.results =
        size === 1
          ? [await producer.append('tick', contexts[0]!)]
          : await producer.appendMany(contexts.map((context) => ({ name: 'tick', context })));
      batch.ackRound = state.round;
      state.acks[kind].resolve();
    } catch (error) {
      batch.failure = `${(error as Error).name}: ${(error as Error).message}`;
      if (kind === 'fresh' && state.killing) return;
      throw new Error(`${writer}: an append failed in round ${state.round}`, { cause: error });
    }
  }
}

/** Rejects when `lanes` settle (they should not, yet): with their error, or saying they stopped. */
function stoppedEarly(lanes: Promise<unknown>, what: string): Promise<never> {
  return lanes.then(() => {
    throw new Error(`${what} stopped early`);
  });
}

/**
 * One round: once the resending producers are through to the new server,
 * fresh producers join them; at a random moment after the fresh ones' first
 * ack the server is SIGKILLed.
 */
async function crashRound(
  server: ServerProcess,
  state: WriterState,
  ledger: Ledger,
  random: () => number,
  resendingFailed: Promise<never>,
): Promise<void> {
  const { round } = state;
  // Waiting here keeps the fresh writers from piling up events while the others reconnect.
  const through = Promise.race([state.acks.resending.promise, resendingFailed]);
  await within(through, 15_000, `the resending writers in round ${round}`);
  const live = await followLive(server.url, state.seenLive);
  const producers = Array.from(
    { length: FRESH_PRODUCERS },
    () => new JournalProducer(server.url, JOURNAL, { reconnect: false }),
  );
  const lanes = Promise.all(
    producers.flatMap((producer, p) =>
      Array.from({ length: LANES }, (_, l) => lane(producer, `f${p}.${l}`, 'fresh', ledger, state, random)),
    ),
  );
  const failed = Promise.race([stoppedEarly(lanes, `round ${round}: the fresh writers`), resendingFailed]);
  try {
    await within(Promise.race([state.acks.fresh.promise, failed]), 10_000, `the first fresh ack of round ${round}`);
    const [low, high] = KILL_DELAY_MS;
    await Promise.race([delay(low + random() * (high - low)), failed]);
    state.killing = true;
    state.killedAt[round] = Date.now() / 1000;
    const status = await server.kill('SIGKILL');
    assert.equal(status.signal, 'SIGKILL', `round ${round}: the server exited on its own before the kill`);
    const dropped = Promise.race([lanes, resendingFailed]);
    await within(dropped, 10_000, `the fresh writers of round ${round} to see the connection drop`);
  } finally {
    state.killing = true;
    live.stop();
    await Promise.allSettled(producers.map((producer) => producer.close()));
  }
}

/** Every event of the journal, in delivery order, up to the sentinel; a dropped connection fails it. */
async function readEverything(url: string): Promise<JournalEvent[]> {
  const consumer = new EventLogConsumer(url, JOURNAL, {
    full: true,
    bufferHistory: false,
    includeSentinel: true,
    reconnect: false,
  }).start();
  try {
    const events: JournalEvent[] = [];
    for (;;) {
      const event = await consumer.poll(10).catch((error: unknown) => {
        throw new Error(`the read-back stalled after ${events.length} events`, { cause: error });
      });
      if (event === null) throw new Error(`the read-back ended after ${events.length} events, before the sentinel`);
      if (event === SENTINEL) return events;
      events.push(event);
    }
  } finally {
    consumer.stop();
  }
}

/** Lists up to `limit` examples after a count, for assertion messages. */
function examples(items: readonly string[], limit = 5): string {
  return items.length === 0 ? '' : `: ${items.slice(0, limit).join('; ')}${items.length > limit ? '; …' : ''}`;
}

describe('crash: kill -9 of the server while producers append', () => {
  const title = `loses no acknowledged append over ${KILLS} kills, and stores no duplicate, hole or partial batch`;
  it(title, { timeout: 15 * 60_000 }, async (t) => {
    const seed = Number(process.env['WSJOURNAL_SEED'] ?? Math.floor(Math.random() * 2 ** 32));
    const random = prng(seed);
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-crash-'));
    const dataDir = join(dir, 'data');
    let server: ServerProcess | undefined;
    t.after(async () => {
      await server?.kill('SIGKILL').catch(() => {});
      await rm(dir, { recursive: true, force: true });
    });
    const began = performance.now();
    const ledger = new Ledger();
    // One port for every restart, so that the resending producers find the server again.
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}`;
    const state: WriterState = {
      round: 0,
      killing: false,
      stopping: false,
      acks: { fresh: new Signal(), resending: new Signal() },
      killedAt: [],
      seenLive: new Map(),
    };
    // Each on a connection of its own that retries quickly, so the rounds stay short.
    const connections = Array.from(
      { length: RESENDING_PRODUCERS },
      () => new JournalConnection(url, { reconnect: true, reconnectDelay: 0.02, maxReconnectDelay: 0.25 }),
    );
    const resending = connections.map((connection) => new JournalProducer(connection, JOURNAL));
    const resendingLanes = Promise.all(
      resending.map((producer, p) => lane(producer, `r${p}`, 'resending', ledger, state, random)),
    );
    const resendingFailed = stoppedEarly(resendingLanes, 'the resending writers');
    resendingFailed.catch(() => {});
    t.after(async () => {
      await Promise.allSettled(resending.map((producer) => producer.close()));
      await Promise.allSettled(connections.map((connection) => connection.close()));
    });

    for (let round = 1; round <= KILLS; round++) {
      Object.assign(state, { round, killing: false, acks: { fresh: new Signal(), resending: new Signal() } });
      server = await spawnServer({ dataDir, port });
      await crashRound(server, state, ledger, random, resendingFailed);
    }

    // The last start: the resending producers deliver what they still hold, then everything is read.
    state.round = KILLS + 1;
    server = await spawnServer({ dataDir, port });
    state.stopping = true;
    await within(resendingLanes, 20_000, 'the resending writers to finish');
    await Promise.all(resending.map((producer) => producer.close()));
    await Promise.all(connections.map((connection) => connection.close()));
    const events = await readEverything(server.url);
    const status = await server.kill('SIGTERM');
    assert.deepEqual(status, { code: 0, signal: null }, `the server did not shut down cleanly: ${server.stderr()}`);

    // What the producers were told.
    const ackProblems: string[] = [];
    for (const batch of ledger.batches) {
      const results = batch.results;
      if (results === undefined) continue;
      if (results.length !== batch.ids.length) {
        ackProblems.push(`${batch.ids[0]}: ${results.length} results for ${batch.ids.length} events`);
      }
      for (let i = 1; i < results.length; i++) {
        if (results[i]!.seq !== results[i - 1]!.seq + 1 || !(results[i]!.timestamp > results[i - 1]!.timestamp)) {
          ackProblems.push(`${batch.ids[i]}: ack not contiguous with the one before`);
        }
      }
    }

    // What is stored.
    const position = new Map<string, number>();
    const duplicates: string[] = [];
    const unknown: string[] = [];
    const order: string[] = [];
    events.forEach((event, index) => {
      if (event.seq !== index + 1) order.push(`event ${index} has seq ${event.seq}, expected ${index + 1}`);
      if (index > 0 && !(event.timestamp > events[index - 1]!.timestamp)) {
        order.push(`event ${index} (seq ${event.seq}) has timestamp ${event.timestamp} <= ${events[index - 1]!.timestamp}`);
      }
      const id = idOf(event.context);
      if (position.has(id)) duplicates.push(`${id} at seq ${events[position.get(id)!]!.seq} and ${event.seq}`);
      else position.set(id, index);
      if (!ledger.byId.has(id)) unknown.push(`${id} at seq ${event.seq}`);
    });

    let acked = 0;
    let ackedResending = 0;
    let unackedStored = 0;
    let unackedAbsent = 0;
    const lost: string[] = [];
    const moved: string[] = [];
    const partial: string[] = [];
    for (const batch of ledger.batches) {
      const found = batch.ids.map((id) => position.get(id));
      const present = found.filter((index) => index !== undefined).length;
      if (batch.results === undefined) {
        unackedStored += present;
        unackedAbsent += batch.ids.length - present;
      } else {
        acked += batch.ids.length;
        if (batch.kind === 'resending') ackedResending += batch.ids.length;
        batch.ids.forEach((id, i) => {
          const index = found[i];
          if (index === undefined) {
            lost.push(`${id} (acked seq ${batch.results![i]!.seq}, round ${batch.round})`);
            return;
          }
          const event = events[index]!;
          const ack = batch.results![i]!;
          if (event.seq !== ack.seq || event.timestamp !== ack.timestamp) {
            moved.push(`${id}: acked ${ack.seq}@${ack.timestamp}, stored ${event.seq}@${event.timestamp}`);
          }
        });
      }
      if (present !== 0 && present !== batch.ids.length) {
        partial.push(`batch ${batch.ids[0]}..${batch.ids.at(-1)}: ${present} of ${batch.ids.length} stored`);
      } else if (present > 1 && found.some((index, i) => index !== found[0]! + i)) {
        partial.push(`batch ${batch.ids[0]}..${batch.ids.at(-1)} is not contiguous`);
      }
    }

    // What the live consumers were sent, before the fsync.
    const unsent: string[] = [];
    for (const [id, sent] of state.seenLive) {
      const index = position.get(id);
      const event = index === undefined ? undefined : events[index]!;
      if (event?.seq !== sent.seq || event.timestamp !== sent.timestamp) {
        unsent.push(`${id}: sent live as ${sent.seq}@${sent.timestamp}, stored ${event ? `${event.seq}@${event.timestamp}` : 'nowhere'}`);
      }
    }

    const unresolved = ledger.batches.filter((batch) => batch.kind === 'resending' && batch.results === undefined);
    // Resent after a kill; of those, stored before the kill (and so deduplicated by key), judged by
    // the server's wall-clock timestamp against the kill's: a diagnostic, not an assertion.
    const resent = ledger.batches.filter((batch) => batch.ackRound !== undefined && batch.ackRound > batch.round);
    const resentStored = resent.filter((batch) => batch.results![0]!.timestamp < state.killedAt[batch.round]!);
    const seconds = (performance.now() - began) / 1000;
    t.diagnostic(
      `crash: kills=${KILLS} acked=${acked} (by-resending=${ackedResending}) present=${events.length} ` +
        `lost=${lost.length} duplicates=${duplicates.length} ` +
        `unacked-but-stored=${unackedStored} unacked-absent=${unackedAbsent} batches=${ledger.batches.length} ` +
        `resent=${resent.length} resent-already-stored=${resentStored.length} ` +
        `seen-live=${state.seenLive.size} seen-live-not-stored=${unsent.length} ` +
        `seconds=${seconds.toFixed(1)} seed=${seed}`,
    );

    assert.equal(lost.length, 0, `acknowledged but lost: ${lost.length}${examples(lost)}`);
    assert.equal(moved.length, 0, `stored elsewhere than acknowledged: ${moved.length}${examples(moved)}`);
    assert.equal(duplicates.length, 0, `duplicates: ${duplicates.length}${examples(duplicates)}`);
    assert.equal(unknown.length, 0, `stored events nobody appended: ${unknown.length}${examples(unknown)}`);
    assert.equal(order.length, 0, `seq or timestamp out of order: ${order.length}${examples(order)}`);
    assert.equal(partial.length, 0, `batches not all-or-nothing and contiguous: ${partial.length}${examples(partial)}`);
    assert.equal(unsent.length, 0, `sent to a live consumer but not stored so: ${unsent.length}${examples(unsent)}`);
    assert.equal(ackProblems.length, 0, `inconsistent acks: ${ackProblems.length}${examples(ackProblems)}`);
    assert.equal(unresolved.length, 0, `resending producers' batches never acknowledged: ${unresolved.length}`);
    assert.ok(acked > 0 && acked <= events.length, `acked ${acked} of ${events.length} stored`);
  });
});
