/**
 * A producer's single appends coalesced into one frame per turn: order and
 * each append's own result, a lone append sent at once, appendMany batches
 * kept whole, a refused frame sent again append by append, the frame limits,
 * linger, `coalesce: false`, and a resend after a reconnect stored once.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { JournalServer } from '../server/journal-server.js';
import { MemoryStore } from '../server/memory-store.js';
import type { AppendOptions, NewEvent, StoredEvent } from '../server/store.js';
import { JournalConnection } from '../src/connection.js';
import { ErrorCode, JournalError } from '../src/errors.js';
import { JournalProducer } from '../src/journal-producer.js';
import { TcpProxy } from './fixtures/tcp-proxy.js';
import { Signal, startServer, within } from './helpers.js';

/** A MemoryStore that records the size of every batch it is given, and can hold appends at a gate. */
class RecordingStore extends MemoryStore {
  readonly batches: number[] = [];
  readonly changed = new Signal();
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  override append(journal: string, events: readonly NewEvent[], options?: AppendOptions): Promise<StoredEvent[]> {
    this.batches.push(events.length);
    this.changed.notify();
    const gate = this.#gate;
    // Held appends run in the order they came once the gate opens, as a store takes them.
    const run = this.#queue.then(() => gate).then(() => super.append(journal, events, options));
    this.#queue = run.catch(() => {});
    return run;
  }

  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }
}

const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

async function setup(options: Parameters<typeof startServer>[0] = {}): Promise<{ server: JournalServer; store: RecordingStore }> {
  const store = new RecordingStore();
  const server = await startServer({ store, ...options });
  closers.push(() => server.close());
  return { server, store };
}

function producer(url: string | JournalConnection, options: ConstructorParameters<typeof JournalProducer>[2] = {}): JournalProducer {
  const made = new JournalProducer(url, 'c', options);
  closers.push(() => made.close());
  return made;
}

async function names(server: JournalServer): Promise<string[]> {
  return (await server.store.read('c', 0, 100_000)).map((event) => event.name);
}

describe('coalesced appends', () => {
  it('sends the appends of one turn in one frame, in order, each resolving with its own result', async () => {
    const { server, store } = await setup();
    const p = producer(server.url);
    await p.append('warm');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => p.append(`e${i}`, { i })));
    assert.deepEqual(store.batches, [1, 50]);
    assert.deepEqual(results.map((result) => result.seq), Array.from({ length: 50 }, (_, i) => i + 2));
    for (let i = 1; i < results.length; i++) assert.ok(results[i]!.timestamp > results[i - 1]!.timestamp);
    assert.deepEqual(await names(server), ['warm', ...Array.from({ length: 50 }, (_, i) => `e${i}`)]);
  });

  it('sends a lone append at once, in a frame of its own', async () => {
    const { server, store } = await setup();
    const p = producer(server.url);
    for (let i = 0; i < 3; i++) assert.equal((await p.append('alone')).seq, i + 1);
    assert.deepEqual(store.batches, [1, 1, 1]);
  });

  it('keeps an appendMany batch whole in a shared frame, with its own results', async () => {
    const { server, store } = await setup();
    const p = producer(server.url);
    await p.append('warm');
    const [single, many, last] = await Promise.all([
      p.append('a'),
      p.appendMany([{ name: 'b1' }, { name: 'b2' }, { name: 'b3' }]),
      p.append('c'),
    ]);
    assert.deepEqual(store.batches, [1, 5]);
    assert.equal(single.seq, 2);
    assert.deepEqual(many.map((result) => result.seq), [3, 4, 5]);
    assert.equal(last.seq, 6);
  });

  it('sends a batch with a key of its own in a frame of its own, in call order', async () => {
    const { server, store } = await setup();
    const p = producer(server.url);
    await p.append('warm');
    const [before, keyed, afterwards] = await Promise.all([
      p.append('a'),
      p.appendMany([{ name: 'k1' }, { name: 'k2' }], { key: 'my-batch' }),
      p.append('c'),
    ]);
    assert.deepEqual(store.batches, [1, 1, 2, 1]);
    assert.deepEqual([before.seq, ...keyed.map((result) => result.seq), afterwards.seq], [2, 3, 4, 5]);
    // The same key again is stored once.
    assert.deepEqual((await p.appendMany([{ name: 'k1' }, { name: 'k2' }], { key: 'my-batch' })).map((result) => result.seq), [3, 4]);
    assert.deepEqual(await names(server), ['warm', 'a', 'k1', 'k2', 'c']);
  });

  it('refuses an event over the limits the server announced before sending it; the others of its turn share a frame', async () => {
    const { server, store } = await setup({ maxEventSize: 200 });
    const p = producer(server.url);
    await p.append('warm');
    const outcomes = await Promise.allSettled([
      p.append('ok1'),
      p.append('big', { pad: 'x'.repeat(500) }),
      p.appendMany([{ name: 'many1' }, { name: 'many2' }]),
      p.append('ok2'),
    ]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const refused = (outcomes[1] as PromiseRejectedResult).reason as JournalError;
    assert.ok(refused instanceof JournalError);
    assert.equal(refused.code, ErrorCode.EVENT_TOO_LARGE);
    // The server's hello told its maxEventSize: the big event never left; the other three appends
    // went in one frame and one commit. (A frame the server itself refuses is split and each
    // append resent alone: test/hostile-servers.test.ts.)
    assert.match(refused.message, /200/);
    assert.deepEqual(store.batches, [1, 4]);
    assert.deepEqual(await names(server), ['warm', 'ok1', 'many1', 'many2', 'ok2']);
  });

  it('gives a schema violation to the append that made it, and stores the others of its frame', async () => {
    const { server, store } = await setup();
    const ref = await server.registerSchema({ $id: 'urn:test:coalesce', version: 1, type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] });
    const schema = { id: ref.id, version: ref.version };
    const p = producer(server.url);
    await p.append('warm');
    const outcomes = await Promise.allSettled([p.append('good', { n: 1 }, { schema }), p.append('bad', { n: 'one' }, { schema }), p.append('plain')]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'fulfilled']);
    const violation = (outcomes[1] as PromiseRejectedResult).reason as JournalError & { details?: { path: string }[] };
    assert.equal(violation.code, ErrorCode.SCHEMA_VIOLATION);
    assert.equal(violation.details?.[0]?.path, '/n');
    assert.deepEqual(await names(server), ['warm', 'good', 'plain']);
  });

  it('does not resend the appends of a frame refused as a whole', async () => {
    const { server, store } = await setup();
    const p = producer(server.url);
    await p.append('warm');
    await server.store.close();
    const outcomes = await Promise.allSettled([p.append('a'), p.append('b')]);
    for (const outcome of outcomes) assert.equal(((outcome as PromiseRejectedResult).reason as JournalError).code, ErrorCode.STORE_UNAVAILABLE);
    assert.deepEqual(store.batches, [1, 2]);
  });

  it('splits a turn\'s appends at the frame limits: 1000 events, and 64 KiB of events', async () => {
    const { server, store } = await setup({ maxEventSize: 1024 * 1024 });
    const p = producer(server.url);
    await p.append('warm');
    await Promise.all(Array.from({ length: 2500 }, (_, i) => p.append('n', { i })));
    assert.deepEqual(store.batches, [1, 1000, 1000, 500]);
    // 30 KiB each: two fit in a frame's 64 KiB, the third starts the next frame.
    const pad = 'x'.repeat(30 * 1024);
    const large = await Promise.all([p.append('l1', { pad }), p.append('l2', { pad }), p.append('l3', { pad })]);
    assert.deepEqual(store.batches.slice(4), [2, 1]);
    assert.deepEqual(large.map((result) => result.seq), [2502, 2503, 2504]);
    // Sizes are UTF-8 bytes: 12,000 euro signs are 36,000 bytes (12,000 UTF-16 units), and two do not fit in 64 KiB.
    const euros = '€'.repeat(12_000);
    const wide = await Promise.all([p.append('w1', { euros }), p.append('w2', { euros })]);
    assert.deepEqual(store.batches.slice(6), [1, 1]);
    assert.deepEqual(wide.map((result) => result.seq), [2505, 2506]);
    // A batch larger than a frame's 64 KiB still travels whole, alone.
    const half = 'x'.repeat(50 * 1024);
    const [whole] = await Promise.all([
      p.appendMany([
        { name: 'b1', context: { half } },
        { name: 'b2', context: { half } },
      ]),
      p.append('after'),
    ]);
    assert.deepEqual(store.batches.slice(8), [2, 1]);
    assert.deepEqual(whole.map((result) => result.seq), [2507, 2508]);
  });

  it('keeps a frame within a server frame limit smaller than 64 KiB', async () => {
    const { server, store } = await setup({ maxFrameSize: 40 * 1024 });
    const p = producer(server.url);
    await p.append('warm');
    // 15 KiB each: two fit in 40 KiB less the frame's other fields, three do not.
    const pad = 'x'.repeat(15 * 1024);
    await Promise.all([p.append('a', { pad }), p.append('b', { pad }), p.append('c', { pad })]);
    assert.deepEqual(store.batches, [1, 2, 1]);
  });

  it('waits up to linger for appends of later turns, and coalesce: false sends each alone', async () => {
    const { server, store } = await setup();
    const lingering = producer(server.url, { linger: 0.05 });
    const first = lingering.append('l1');
    await new Promise((resolve) => setImmediate(resolve));
    const second = lingering.append('l2');
    await Promise.all([first, second]);
    assert.deepEqual(store.batches, [2]);

    const plain = producer(server.url, { coalesce: false });
    await Promise.all([plain.append('p1'), plain.append('p2'), plain.append('p3')]);
    assert.deepEqual(store.batches, [2, 1, 1, 1]);
    assert.throws(() => new JournalProducer(server.url, 'c', { linger: -1 }), RangeError);
    assert.throws(() => new JournalProducer(server.url, 'c', { coalesce: 'yes' as unknown as boolean }), TypeError);
  });

  it('resends a coalesced frame after a reconnect with its key, so that it is stored once', async () => {
    const { server, store } = await setup();
    const proxy = await TcpProxy.start(Number(new URL(server.url).port));
    closers.push(() => proxy.close());
    const connection = new JournalConnection(proxy.url, { reconnectDelay: 0.02, maxReconnectDelay: 0.05 });
    closers.push(() => connection.close());
    const p = producer(connection);
    await p.append('warm');
    store.hold();
    const appends = Array.from({ length: 100 }, (_, i) => p.append('r', { i }));
    await store.changed.until(() => store.batches.length === 2, 5000, 'the frame to reach the store');
    // The frame is at the store, not yet stored: the connection breaks before any ack.
    proxy.cutAll();
    await store.changed.until(() => store.batches.length === 3, 5000, 'the resend');
    store.release();
    const results = await within(Promise.all(appends), 5000, 'the appends');
    assert.deepEqual(results.map((result) => result.seq), Array.from({ length: 100 }, (_, i) => i + 2));
    assert.equal((await server.store.head('c')).seq, 101);
    assert.deepEqual(store.batches, [1, 100, 100]);
  });
});
