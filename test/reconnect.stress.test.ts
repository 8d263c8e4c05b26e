/**
 * QUALITY.md, Reliability: "resume after disconnect" (SPEC 4.2).
 *
 * Every client talks to the server through a TCP proxy that can cut all
 * connections at once, mid-frame; now and then the server itself is
 * restarted instead (closed, and a new JournalServer started on the same
 * port with the same MemoryStore). Meanwhile a producer appends continuously
 * (several appends in flight, batches of 1–3, each event with a unique
 * `context.n`) and consumers of every kind follow the journal through
 * callbacks:
 *
 *   full          includeSentinel, bufferHistory true       (from the start)
 *   full-stream   includeSentinel, bufferHistory false      (from the start; shares a connection with slow)
 *   slow          includeSentinel, bufferHistory false, an async callback, maxQueued 32, on a server
 *                 with small send buffers, so it pauses and gets SLOW_CONSUMER ends among the faults
 *   late          full, bufferHistory true                  (started a third of the way in: a long history)
 *   live          full: false                               (started half-way, after full's 'subscribed';
 *                                                            must see everything after its own 'subscribed' head)
 *
 * At the end every consumer must have seen every event exactly once, in
 * order, seq contiguous, equal to a full read of the store; full consumers
 * with includeSentinel exactly one sentinel, after the history they
 * subscribed to; each consumer must have emitted 'reconnect'; and no
 * acknowledged append may be missing or stored twice.
 *
 * WSJOURNAL_SEED=<n> replays the same fault choices (their timing against the
 * stream is the OS's).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { JournalServer, type JournalServerOptions } from '../server/journal-server.js';
import { MemoryStore } from '../server/memory-store.js';
import type { StoredEvent } from '../server/store.js';
import { JournalConnection } from '../src/connection.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalConsumerOptions } from '../src/journal-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import { JournalProducer, type AppendResult } from '../src/journal-producer.js';
import type { Head } from '../src/protocol.js';
import { Random, testSeed } from './fixtures/random.js';
import { TcpProxy } from './fixtures/tcp-proxy.js';
import { within } from './helpers.js';
import { stressCount } from './stress-level.js';

const FAULTS = stressCount(50, 1000);
/** Reconnect and resubscribe after 5–20 ms, back to the first delay once a socket lasted 50 ms. */
const FAST_RETRY = { reconnectDelay: 0.01, maxReconnectDelay: 0.02, healthyAfter: 0.05 };
/** Share of faults that restart the server rather than cut the connections. */
const RESTART_SHARE = 0.2;
const J = 'stream';
const SEED_EVENTS = 2000;
/** Appends the producer keeps in flight. */
const LANES = 4;
const SENTINEL = EventLogConsumer.SENTINEL_EVENT;
/** Small send buffers, so that the slow consumer really falls behind and is ended with SLOW_CONSUMER. */
const SERVER_OPTIONS: JournalServerOptions = { sendHighWaterMark: 16 * 1024, maxSendBuffer: 64 * 1024, heartbeatInterval: 5 };

/** A consumer under test and everything it did. */
class Watched {
  readonly delivered: (JournalEvent | 'S')[] = [];
  readonly heads: Head[] = [];
  readonly errors: Error[] = [];
  reconnects = 0;
  ended = false;
  /** Resolves when the callback got its final null. */
  readonly finished: Promise<void>;
  #finish!: () => void;
  #wanted: { seq: number; resolve: () => void } | undefined;

  constructor(
    readonly name: string,
    readonly consumer: EventLogConsumer,
    readonly options: JournalConsumerOptions,
    slowCallback = false,
  ) {
    this.finished = new Promise((resolve) => (this.#finish = resolve));
    consumer.on('subscribed', (head) => this.heads.push(head));
    consumer.on('reconnect', () => this.reconnects++);
    consumer.on('error', (error) => this.errors.push(error));
    let count = 0;
    consumer.setCallback(async (event) => {
      if (event === null) {
        this.ended = true;
        this.#finish();
        return;
      }
      this.delivered.push(event === SENTINEL ? 'S' : event);
      if (event !== SENTINEL && this.#wanted && event.seq! >= this.#wanted.seq) this.#wanted.resolve();
      // The slow one yields to the event loop often, so its queue fills while the socket brings more.
      if (slowCallback && ++count % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
    });
  }

  get lastSeq(): number {
    for (let i = this.delivered.length - 1; i >= 0; i--) {
      const event = this.delivered[i]!;
      if (event !== 'S') return event.seq!;
    }
    return 0;
  }

  /** Resolves once an event with `seq` or later was delivered. */
  reach(seq: number, ms: number): Promise<void> {
    if (this.lastSeq >= seq) return Promise.resolve();
    return within(
      new Promise<void>((resolve) => (this.#wanted = { seq, resolve })),
      ms,
      `consumer ${this.name} to reach seq ${seq} (it has ${this.lastSeq})`,
    );
  }
}

describe('resume after disconnect', () => {
  it(`${FAULTS} faults (connection cuts and server restarts) during a stream: every consumer sees every event once, in order; no acknowledged append lost or doubled`, async (t) => {
    const seed = testSeed();
    const random = new Random(seed);
    console.log(`[reconnect] seed ${seed} (WSJOURNAL_SEED=${seed} to replay the fault choices)`);
    const started = performance.now();

    const store = new MemoryStore();
    let server = new JournalServer({ ...SERVER_OPTIONS, port: 0, store });
    const { port } = await server.listen();
    const proxy = await TcpProxy.start(port);
    for (let i = 1; i <= SEED_EVENTS; i++) await server.append(J, 'seed', { n: `s${i}` });

    const closers: (() => unknown)[] = [];
    t.after(async () => {
      // Bounded, so that a failed run cannot hang in its teardown.
      for (const close of closers.reverse()) await within(Promise.resolve(close()), 5000, 'a client to close').catch(() => {});
      await proxy.close();
      await server.close();
    });

    // Connections that retry quickly: faults here come faster than the default backoff's
    // `healthyAfter` (5 s), which would stretch the run to hours; how often clients retry is
    // tested against hostile servers (hostile-servers.test.ts), this test is about exactly once.
    const connect = (): JournalConnection => {
      const connection = new JournalConnection(proxy.url, FAST_RETRY);
      closers.push(() => connection.close());
      return connection;
    };
    const producer = new JournalProducer(connect(), J);
    closers.push(() => producer.close());
    const acked = new Map<string, AppendResult>();
    let nextN = 0;
    let writing = true;
    let ackWaiter: { count: number; resolve: () => void } | undefined;
    const lane = async (): Promise<void> => {
      while (writing) {
        const ids = Array.from({ length: random.int(1, 3) }, () => `w${++nextN}`);
        const results = await producer.appendMany(ids.map((n) => ({ name: 'tick', context: { n } })));
        ids.forEach((n, i) => acked.set(n, results[i]!));
        if (ackWaiter && acked.size >= ackWaiter.count) ackWaiter.resolve();
      }
    };
    /** Resolves once `more` further events are acknowledged. */
    const progress = (more: number, what: string): Promise<void> => {
      const count = acked.size + more;
      return within(new Promise<void>((resolve) => (ackWaiter = { count, resolve })), 30_000, what);
    };

    const consumers: Watched[] = [];
    const shared = connect();
    const watch = (name: string, url: string | JournalConnection, options: JournalConsumerOptions, slow = false): Watched => {
      const consumer = new EventLogConsumer(typeof url === 'string' ? connect() : url, J, options);
      const watched = new Watched(name, consumer, options, slow);
      closers.push(() => consumer.stop());
      consumers.push(watched);
      consumer.start();
      return watched;
    };
    const full = watch('full', proxy.url, { includeSentinel: true, bufferHistory: true });
    watch('full-stream', shared, { includeSentinel: true, bufferHistory: false });
    watch('slow', shared, { includeSentinel: true, bufferHistory: false, maxQueued: 32 }, true);

    const lanes = Array.from({ length: LANES }, lane);
    const writers = Promise.all(lanes);
    writers.catch(() => {});

    let cuts = 0;
    let restarts = 0;
    for (let fault = 1; fault <= FAULTS; fault++) {
      if (fault === Math.ceil(FAULTS / 3)) watch('late', proxy.url, { bufferHistory: true });
      if (fault === Math.ceil(FAULTS / 2)) {
        // Not full: it must see everything after its own first 'subscribed' head.
        assert.ok(full.heads.length > 0);
        watch('live', proxy.url, { full: false, includeSentinel: true });
      }
      // Let the stream move on a little, then strike at a random moment: sometimes at once,
      // sometimes after a few acks, sometimes a few milliseconds later.
      const mode = random.int(0, 3);
      if (mode === 1) await progress(random.int(1, 5), `appends to go on before fault ${fault}`);
      else if (mode === 2) await progress(random.int(20, 100), `appends to go on before fault ${fault}`);
      else if (mode === 3) await delay(random.int(0, 15));
      if (random.chance(RESTART_SHARE)) {
        await server.close();
        server = new JournalServer({ ...SERVER_OPTIONS, port, store });
        await server.listen();
        restarts++;
      } else {
        proxy.cutAll();
        cuts++;
      }
    }
    // The stream must still be flowing after the last fault.
    await progress(20, 'appends to go on after the last fault');
    writing = false;
    await within(writers, 30_000, 'the appends in flight to be acknowledged');
    const last = await within(producer.append('last', { n: 'last' }), 30_000, 'the last append');
    for (const watched of consumers) await watched.reach(last.seq, 60_000);
    for (const watched of consumers) watched.consumer.stop();
    for (const watched of consumers) await within(watched.finished, 10_000, `the final null of ${watched.name}`);
    const elapsed = (performance.now() - started) / 1000;

    // The store: seq contiguous, timestamps increasing, each unique id once, every ack where it said.
    const all: StoredEvent[] = [];
    for (let after = 0; ; ) {
      const page = await store.read(J, after, 10_000);
      if (page.length === 0) break;
      all.push(...page);
      after = page.at(-1)!.timestamp;
    }
    assert.equal(all.length, last.seq);
    all.forEach((event, i) => {
      assert.equal(event.seq, i + 1, `seq ${i + 1} is contiguous`);
      if (i > 0) assert.ok(event.timestamp > all[i - 1]!.timestamp, `timestamp of seq ${event.seq} increases`);
    });
    const ids = all.map((event) => (JSON.parse(event.json) as { context: { n: string } }).context.n);
    const duplicates = ids.filter((n, i) => ids.indexOf(n) !== i);
    assert.deepEqual(duplicates, [], 'no append stored twice');
    const position = new Map(ids.map((n, i) => [n, i]));
    let ackedMissing = 0;
    for (const [n, result] of acked) {
      const i = position.get(n);
      if (i === undefined) {
        ackedMissing++;
        continue;
      }
      assert.equal(all[i]!.seq, result.seq, `the ack of ${n} names its seq`);
      assert.equal(all[i]!.timestamp, result.timestamp, `the ack of ${n} names its timestamp`);
    }
    assert.equal(ackedMissing, 0, 'acknowledged appends missing from the store');
    assert.equal(ids.filter((n) => n.startsWith('w')).length, acked.size, 'every stored append was acknowledged');

    // Every consumer: exactly the events it must see, once, in order; one sentinel, in its place.
    const summary: string[] = [];
    for (const watched of consumers) {
      const { name, options, delivered, heads } = watched;
      const events = delivered.filter((event): event is JournalEvent => event !== 'S');
      const from = options.full === false ? heads[0]!.seq : 0;
      const expected = all.filter((event) => event.seq > from);
      assert.deepEqual(
        events.map((event) => event.seq),
        expected.map((event) => event.seq),
        `${name}: every event after seq ${from} exactly once, in order`,
      );
      assert.deepEqual(
        events.map((event) => event.timestamp),
        expected.map((event) => event.timestamp),
        `${name}: the timestamps of the store`,
      );
      const sentinels = delivered.flatMap((event, i) => (event === 'S' ? [i] : []));
      if (options.full !== false && options.includeSentinel) {
        assert.equal(sentinels.length, 1, `${name}: exactly one sentinel`);
        const before = delivered.slice(0, sentinels[0]) as JournalEvent[];
        assert.ok(
          before.length >= heads[0]!.seq - from,
          `${name}: the sentinel comes after the history it subscribed to (seq ${heads[0]!.seq}), not after ${before.length} events`,
        );
      } else {
        assert.equal(sentinels.length, 0, `${name}: no sentinel`);
      }
      assert.ok(watched.reconnects > 0, `${name}: 'reconnect' was emitted`);
      assert.deepEqual(
        watched.errors.map((error) => error.message),
        [],
        `${name}: no error`,
      );
      assert.equal(watched.ended, true, `${name}: the callback got null after stop()`);
      summary.push(`${name} ${events.length} events, ${watched.reconnects} reconnects`);
    }
    const line =
      `[reconnect] ${FAULTS} faults survived (${cuts} cuts of ${proxy.cut} connections, ${restarts} server restarts), ` +
      `${all.length} events (${acked.size} acknowledged events, 0 lost, 0 doubled) in ${elapsed.toFixed(1)} s; ` +
      summary.join('; ');
    console.log(line);
    t.diagnostic(line);
  });
});
