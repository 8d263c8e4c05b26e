/**
 * QUALITY.md, Reliability: "model test" (SPEC 2 and 4).
 *
 * fast-check generates sequences of actions — append a batch of 1–5 events,
 * subscribe (since 0 or an existing timestamp; full or not; includeSentinel;
 * bufferHistory; on its own connection or a shared one), stop a consumer
 * (after draining it, or at once), cut every connection (through a TCP
 * proxy), restart the server (same port, same MemoryStore) — and runs them
 * against a real server, with an in-memory model of the journal (the
 * producer's acks) beside it. Each consumer's delivered sequence is compared
 * with what the model says it must see:
 *
 * - full: the events with timestamp > since, in order, each once; with
 *   includeSentinel the sentinel exactly once, right after the history of the
 *   last subscription it made before the sentinel came (its 'subscribed'
 *   head), and before every later event; without it, no sentinel;
 * - not full: the events after its first 'subscribed' head (and > since), no sentinel;
 * - drained consumers (and every consumer at the end of a run) have seen
 *   everything up to the last append; consumers stopped at once have seen a
 *   prefix of it;
 * - the store holds exactly the acknowledged events, each once, seq contiguous.
 *
 * A failure prints fast-check's seed and the shrunk action list;
 * WSJOURNAL_SEED=<seed> replays the same runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { JournalServer } from '../server/journal-server.js';
import { MemoryStore } from '../server/memory-store.js';
import { JournalConnection } from '../src/connection.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import { JournalProducer } from '../src/journal-producer.js';
import { testSeed } from './fixtures/random.js';
import { TcpProxy } from './fixtures/tcp-proxy.js';
import { within } from './helpers.js';
import { stressCount } from './stress-level.js';

const RUNS = stressCount(50, 1000);
const MAX_ACTIONS = 30;
const SENTINEL = EventLogConsumer.SENTINEL_EVENT;
/** Fast reconnects: the model test is about what is delivered, not about backoff. */
const CONNECTION_OPTIONS = { reconnectDelay: 0.005, maxReconnectDelay: 0.05 } as const;
/** How long any single expected thing may take before the run fails. */
const WAIT_MS = 10_000;

type Action =
  | { kind: 'append'; size: number }
  | {
      kind: 'subscribe';
      since: number;
      full: boolean;
      includeSentinel: boolean;
      bufferHistory: boolean;
      shared: boolean;
      /** Wait for 'subscribed' before the next action (always, without full: its start is its head). */
      wait: boolean;
    }
  | { kind: 'stop'; which: number; drain: boolean }
  | { kind: 'disconnect' }
  | { kind: 'restart' };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), size: fc.integer({ min: 1, max: 5 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('subscribe' as const),
      since: fc.nat({ max: 1000 }),
      full: fc.boolean(),
      includeSentinel: fc.boolean(),
      bufferHistory: fc.boolean(),
      shared: fc.boolean(),
      wait: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stop' as const), which: fc.nat({ max: 100 }), drain: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('disconnect' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
);

/** An event as the model knows it: from the producer's ack. */
interface ModelEvent {
  seq: number;
  timestamp: number;
}

/** What a consumer did, in the order it happened. */
type Mark = { kind: 'subscribed'; seq: number } | { kind: 'sentinel' } | { kind: 'reconnect' };

class ModelConsumer {
  readonly delivered: (JournalEvent | 'S')[] = [];
  readonly marks: Mark[] = [];
  readonly errors: Error[] = [];
  readonly finished: Promise<void>;
  running = true;
  #finish!: () => void;
  #waiter: { done: () => boolean; resolve: () => void } | undefined;

  constructor(
    readonly label: string,
    readonly consumer: EventLogConsumer,
    readonly since: number,
    readonly full: boolean,
    readonly includeSentinel: boolean,
    readonly own: JournalConnection | undefined,
  ) {
    this.finished = new Promise((resolve) => (this.#finish = resolve));
    consumer.on('subscribed', (head) => {
      this.marks.push({ kind: 'subscribed', seq: head.seq });
      this.#check();
    });
    consumer.on('sentinel', () => this.marks.push({ kind: 'sentinel' }));
    consumer.on('reconnect', () => this.marks.push({ kind: 'reconnect' }));
    consumer.on('error', (error) => this.errors.push(error));
    consumer.setCallback((event) => {
      if (event === null) this.#finish();
      else this.delivered.push(event === SENTINEL ? 'S' : event);
      this.#check();
    });
  }

  get firstHead(): number | undefined {
    const mark = this.marks.find((m) => m.kind === 'subscribed');
    return mark?.kind === 'subscribed' ? mark.seq : undefined;
  }

  /** Resolves once `done()` holds, re-checked on every delivery. */
  until(done: () => boolean, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return within(new Promise<void>((resolve) => (this.#waiter = { done, resolve })), WAIT_MS, `${this.label}: ${what}`);
  }

  #check(): void {
    if (this.#waiter?.done()) {
      const { resolve } = this.#waiter;
      this.#waiter = undefined;
      resolve();
    }
  }

  /** The events this consumer must deliver, given the journal so far (once its first head is known). */
  expected(journal: readonly ModelEvent[]): ModelEvent[] {
    const from = this.full ? 0 : this.firstHead ?? Infinity;
    return journal.filter((event) => event.seq > from && event.timestamp > this.since);
  }

  /** Whether it delivers the sentinel. */
  get wantsSentinel(): boolean {
    return this.full && this.includeSentinel;
  }

  /** Waits until everything the model expects, and the sentinel if due, was delivered. */
  async drain(journal: readonly ModelEvent[]): Promise<void> {
    if (!this.full) await this.until(() => this.firstHead !== undefined, "'subscribed'");
    const expected = this.expected(journal);
    const last = expected.at(-1)?.seq ?? 0;
    await this.until(() => {
      const events = this.delivered.filter((e): e is JournalEvent => e !== 'S');
      const reached = last === 0 || (events.at(-1)?.seq ?? 0) >= last;
      return reached && (!this.wantsSentinel || this.delivered.includes('S'));
    }, `to drain to seq ${last}${this.wantsSentinel ? ' and the sentinel' : ''}`);
  }

  /** Checks what was delivered against the model; `complete` when it was drained before it stopped. */
  verify(journal: readonly ModelEvent[], complete: boolean): void {
    const label = this.label;
    const events = this.delivered.filter((e): e is JournalEvent => e !== 'S');
    const expected = this.firstHead === undefined && !this.full ? [] : this.expected(journal);
    const got = events.map((e) => [e.seq, e.timestamp]);
    const want = expected.map((e) => [e.seq, e.timestamp]);
    if (complete) assert.deepEqual(got, want, `${label}: exactly the events it must see, once, in order`);
    else assert.deepEqual(got, want.slice(0, got.length), `${label}: a prefix of the events it must see, once, in order`);
    const sentinels = this.delivered.flatMap((e, i) => (e === 'S' ? [i] : []));
    if (!this.wantsSentinel) {
      assert.deepEqual(sentinels, [], `${label}: no sentinel delivered`);
    } else {
      if (complete) assert.equal(sentinels.length, 1, `${label}: exactly one sentinel`);
      else assert.ok(sentinels.length <= 1, `${label}: at most one sentinel`);
      if (sentinels.length === 1) {
        // The sentinel ends the history of the last subscription made before it.
        const at = this.marks.findIndex((m) => m.kind === 'sentinel');
        const head = this.marks.slice(0, at).findLast((m) => m.kind === 'subscribed');
        assert.ok(head?.kind === 'subscribed', `${label}: 'subscribed' came before the sentinel`);
        const history = want.filter(([seq]) => seq! <= head.seq).length;
        assert.equal(sentinels[0], history, `${label}: the sentinel right after the ${history} events up to seq ${head.seq}`);
      }
    }
    if (this.full) {
      assert.ok(this.marks.filter((m) => m.kind === 'sentinel').length <= 1, `${label}: 'sentinel' emitted at most once`);
    }
    assert.deepEqual(
      this.errors.map((e) => e.message),
      [],
      `${label}: no error`,
    );
  }
}

/** The server (restartable on its port), the store, the proxy: shared by every run. */
class World {
  readonly store = new MemoryStore();
  server!: JournalServer;
  proxy!: TcpProxy;
  port = 0;
  restarts = 0;
  cuts = 0;

  async start(): Promise<void> {
    this.server = new JournalServer({ port: 0, store: this.store, heartbeatInterval: 5 });
    this.port = (await this.server.listen()).port;
    this.proxy = await TcpProxy.start(this.port);
  }

  async restart(): Promise<void> {
    await this.server.close();
    this.server = new JournalServer({ port: this.port, store: this.store, heartbeatInterval: 5 });
    await this.server.listen();
    this.restarts++;
  }

  async close(): Promise<void> {
    await this.proxy.close();
    await this.server.close();
  }
}

/** Runs one generated action list against the world and the model. */
async function run(world: World, journal: string, actions: readonly Action[], stats: { subscribes: number; stops: number; delivered: number; reconnects: number }): Promise<void> {
  const journalModel: ModelEvent[] = [];
  const producerConnection = new JournalConnection(world.proxy.url, CONNECTION_OPTIONS);
  const producer = new JournalProducer(producerConnection, journal);
  const sharedConnection = new JournalConnection(world.proxy.url, CONNECTION_OPTIONS);
  const consumers: ModelConsumer[] = [];
  let n = 0;
  try {
    for (const action of actions) {
      switch (action.kind) {
        case 'append': {
          const contexts = Array.from({ length: action.size }, () => ({ n: ++n }));
          const results = await within(
            producer.appendMany(contexts.map((context) => ({ name: 'e', context }))),
            WAIT_MS,
            `the append of ${action.size}`,
          );
          assert.equal(results.length, action.size);
          for (const result of results) journalModel.push(result);
          break;
        }
        case 'subscribe': {
          const pick = action.since % (journalModel.length + 1);
          const since = pick === 0 ? 0 : journalModel[pick - 1]!.timestamp;
          const own = action.shared ? undefined : new JournalConnection(world.proxy.url, CONNECTION_OPTIONS);
          const consumer = new EventLogConsumer(own ?? sharedConnection, journal, {
            since,
            full: action.full,
            includeSentinel: action.includeSentinel,
            bufferHistory: action.bufferHistory,
          });
          const label =
            `consumer ${consumers.length} (since ${pick === 0 ? 0 : `seq ${pick}`}, full ${action.full}, ` +
            `sentinel ${action.includeSentinel}, bufferHistory ${action.bufferHistory}, ${action.shared ? 'shared' : 'own'} connection)`;
          const model = new ModelConsumer(label, consumer, since, action.full, action.includeSentinel, own);
          consumers.push(model);
          stats.subscribes++;
          consumer.start();
          if (action.wait || !action.full) await model.until(() => model.firstHead !== undefined, "'subscribed'");
          break;
        }
        case 'stop': {
          const running = consumers.filter((c) => c.running);
          if (running.length === 0) break;
          const model = running[action.which % running.length]!;
          if (action.drain) await model.drain(journalModel);
          model.consumer.stop();
          model.running = false;
          await within(model.finished, WAIT_MS, `${model.label}: the final null`);
          model.verify(journalModel, action.drain);
          await model.own?.close();
          stats.stops++;
          break;
        }
        case 'disconnect':
          world.proxy.cutAll();
          world.cuts++;
          break;
        case 'restart':
          await world.restart();
          break;
      }
    }
    // The end: every consumer still running drains to the last append, then is checked.
    for (const model of consumers.filter((c) => c.running)) {
      await model.drain(journalModel);
      model.consumer.stop();
      model.running = false;
      await within(model.finished, WAIT_MS, `${model.label}: the final null`);
      model.verify(journalModel, true);
    }
    // The store holds exactly what was acknowledged, each once.
    const stored = await world.store.read(journal, 0, 10_000);
    assert.deepEqual(
      stored.map((e) => [e.seq, e.timestamp]),
      journalModel.map((e) => [e.seq, e.timestamp]),
      'the store holds exactly the acknowledged events',
    );
    const ids = stored.map((e) => (JSON.parse(e.json) as { context: { n: number } }).context.n);
    assert.deepEqual(ids, Array.from({ length: n }, (_, i) => i + 1), 'each append stored once, in order');
  } finally {
    for (const model of consumers) {
      stats.delivered += model.delivered.length;
      stats.reconnects += model.marks.filter((m) => m.kind === 'reconnect').length;
    }
    for (const model of consumers) model.consumer.stop();
    await Promise.allSettled(consumers.map((model) => model.own?.close()));
    await within(producer.close(), 5000, 'the producer to close').catch(() => {});
    await producerConnection.close();
    await sharedConnection.close();
  }
}

describe('model test', () => {
  it(`${RUNS} random sequences of append / subscribe / stop / disconnect / restart agree with the model`, async () => {
    const world = new World();
    await world.start();
    const seed = testSeed();
    const stats = { runs: 0, actions: 0, subscribes: 0, stops: 0, delivered: 0, reconnects: 0 };
    const started = performance.now();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(actionArb, { minLength: 1, maxLength: MAX_ACTIONS, size: 'max' }), async (actions) => {
          const journal = `model-${++stats.runs}`;
          stats.actions += actions.length;
          await run(world, journal, actions, stats);
        }),
        { numRuns: RUNS, seed },
      );
    } finally {
      await world.close();
    }
    const line =
      `[model] ${RUNS} runs passed (seed ${seed}; ${stats.runs} property runs executed, ${stats.actions} actions, ` +
      `${stats.subscribes} consumers, ${stats.stops} stops, ${world.cuts} cuts, ${world.restarts} restarts, ` +
      `${stats.delivered} deliveries checked, ${stats.reconnects} consumer reconnects) ` +
      `in ${((performance.now() - started) / 1000).toFixed(1)} s`;
    console.log(line);
  });
});
