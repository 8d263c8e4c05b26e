/**
 * JournalProducer against a real server on port 0: acknowledgement after the
 * store, atomic batches, bound contexts, refusals with codes, idempotent
 * close, and a program that closes everything exits by itself (SPEC section 2).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { ErrorCode, JournalError, NotStartedError } from '../src/errors.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalProducer } from '../src/journal-producer.js';
import { Harness, range, readAll } from './harness.js';
import { once, within } from './helpers.js';
import { J, seqs, rejectsWithCode } from './client-assertions.js';

describe('JournalProducer', () => {
  it('append resolves { seq, timestamp } once the event is stored', async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer(J);
    const first = await producer.append('submit', { id: 'f3x', userid: 1000 });
    const second = await producer.append('alloc');
    assert.deepEqual(Object.keys(first).sort(), ['seq', 'timestamp']);
    assert.equal(first.seq, 1);
    assert.equal(second.seq, 2);
    assert.ok(second.timestamp > first.timestamp);
    const stored = await readAll(h.server.store, J);
    assert.deepEqual(
      stored.map((event) => JSON.parse(event.json)),
      [
        { name: 'submit', timestamp: first.timestamp, context: { id: 'f3x', userid: 1000 }, seq: 1 },
        { name: 'alloc', timestamp: second.timestamp, context: {}, seq: 2 },
      ],
    );
  });

  it('appendMany is atomic: contiguous seqs and increasing timestamps even with other writers racing', async (t) => {
    const h = await Harness.start(t);
    const one = h.producer(J);
    const two = h.producer(J);
    const batch = (tag: string) => range(1, 20).map((i) => ({ name: tag, context: { i } }));
    const results = await Promise.all([
      one.appendMany(batch('one')),
      two.appendMany(batch('two')),
      one.appendMany(batch('three')),
      two.append('single'),
    ]);
    for (const result of results.slice(0, 3) as { seq: number; timestamp: number }[][]) {
      assert.equal(result.length, 20);
      assert.deepEqual(
        result.map((r) => r.seq),
        range(result[0]!.seq, result[0]!.seq + 19),
      );
      for (let i = 1; i < result.length; i++) assert.ok(result[i]!.timestamp > result[i - 1]!.timestamp);
    }
    const stored = await readAll(h.server.store, J);
    assert.deepEqual(stored.map((event) => event.seq), range(1, 61));
    // Each batch's events sit together in the journal.
    const names = stored.map((event) => event.name);
    for (const tag of ['one', 'two', 'three']) {
      const at = names.indexOf(tag);
      assert.deepEqual(names.slice(at, at + 20), Array(20).fill(tag));
    }
  });

  it('bind merges context into every event (the event wins); unbind removes keys; both share the connection', async (t) => {
    const h = await Harness.start(t);
    const base = h.producer(J, { context: { host: 'h1' } });
    const bound = base.bind({ user: 'ann', rank: 0 });
    const rebound = bound.bind({ rank: 1 });
    const unbound = rebound.unbind('user', 'host');
    assert.ok(bound instanceof JournalProducer);
    await base.append('a', { x: 1 });
    await bound.append('b', { x: 2 });
    await rebound.append('c', { user: 'bob' });
    await unbound.append('d', { x: 4 });
    const stored = (await readAll(h.server.store, J)).map((event) => JSON.parse(event.json) as { name: string; context: unknown });
    assert.deepEqual(
      stored.map((event) => [event.name, event.context]),
      [
        ['a', { host: 'h1', x: 1 }],
        ['b', { host: 'h1', user: 'ann', rank: 0, x: 2 }],
        ['c', { host: 'h1', user: 'bob', rank: 1 }],
        ['d', { rank: 1, x: 4 }],
      ],
    );
    // Closing a derived producer leaves the others working on the shared connection.
    await bound.close();
    await base.append('e');
    await Promise.all([base.close(), rebound.close(), unbound.close()]);
    await rejectsWithCode(base.append('f'), ErrorCode.CLOSED);
  });

  it('close() is idempotent; append after close rejects with JournalError CLOSED and stores nothing', async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer(J);
    await producer.append('a');
    const closing = producer.close();
    assert.equal(producer.close(), closing);
    await closing;
    await producer.close();
    await rejectsWithCode(producer.append('b'), ErrorCode.CLOSED);
    await rejectsWithCode(producer.appendMany([{ name: 'c' }]), 'CLOSED');
    assert.equal((await h.server.store.head(J)).seq, 1);
  });

  it('close() waits for an append in flight, which then resolves and is stored', async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer(J);
    const pending = producer.append('in-flight');
    await producer.close();
    const result = await within(pending, 5000, 'the append in flight');
    assert.equal(result.seq, 1);
    assert.equal((await h.server.store.head(J)).seq, 1);
  });

  it('refuses bad events itself with JournalError INVALID_EVENT, sending nothing, and keeps working', async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer(J);
    const circular: Record<string, unknown> = { a: 1 };
    circular['self'] = circular;
    const bad: [string, () => Promise<unknown>][] = [
      ['an empty name', () => producer.append('')],
      ['a non-string name', () => producer.append(7 as unknown as string)],
      ['a number context', () => producer.append('x', 5 as unknown as object)],
      ['an array context', () => producer.append('x', [1, 2])],
      ['a null context', () => producer.append('x', null as unknown as object)],
      ['a BigInt in the context', () => producer.append('x', { n: 10n })],
      ['a circular context', () => producer.append('x', circular)],
      ['an empty batch', () => producer.appendMany([])],
      ['one bad event in a batch', () => producer.appendMany([{ name: 'ok' }, { name: '' }, { name: 'ok2' }])],
    ];
    for (const [what, attempt] of bad) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(error instanceof JournalError, `${what}: expected a JournalError, got ${String(error)}`);
        assert.equal(error.code, ErrorCode.INVALID_EVENT, what);
        return true;
      });
    }
    assert.equal((await h.server.store.head(J)).seq, 0);
    assert.equal((await producer.append('fine')).seq, 1);
  });

  it('a server refusal (more than maxEventsPerAppend) rejects with JournalError TOO_MANY_EVENTS and stores nothing', async (t) => {
    const h = await Harness.start(t, { maxEventsPerAppend: 3 });
    const producer = h.producer(J);
    await rejectsWithCode(producer.appendMany(range(1, 4).map((i) => ({ name: 'e', context: { i } }))), ErrorCode.TOO_MANY_EVENTS);
    assert.equal((await h.server.store.head(J)).seq, 0);
    const ok = await producer.appendMany(range(1, 3).map((i) => ({ name: 'e', context: { i } })));
    assert.deepEqual(ok.map((r) => r.seq), [1, 2, 3]);
    assert.equal((await readAll(h.server.store, J)).length, 3);
  });
});

describe('idempotent stop() and close()', () => {
  it("stop() twice emits 'end' once; stop() before start() does nothing", async (t) => {
    const h = await Harness.start(t);
    const consumer = h.consumer(J);
    let ended = 0;
    consumer.on('end', () => ended++);
    consumer.stop();
    assert.equal(ended, 0);
    await assert.rejects(consumer.poll(0), NotStartedError);
    consumer.start();
    await once(consumer, 'sentinel');
    consumer.stop();
    consumer.stop();
    assert.equal(ended, 1);
    assert.equal(await consumer.poll(1), null);
  });

  it('JournalConnection.close() twice resolves both times', async (t) => {
    const h = await Harness.start(t);
    const connection = h.connection();
    const consumer = h.consumer(J, {}, connection).start();
    await once(consumer, 'sentinel');
    await within(Promise.all([connection.close(), connection.close()]), 5000, 'both closes');
    await within(connection.close(), 5000, 'a third close');
    assert.equal(connection.isClosed, true);
  });
});


describe('cleanup', () => {
  it('leaves nothing running: a program that stops its consumer and closes its producer and server exits by itself', async () => {
    const helpers = new URL('./helpers.js', import.meta.url).href;
    const client = new URL('../src/index.js', import.meta.url).href;
    const script = `
      import { startServer } from ${JSON.stringify(helpers)};
      import { EventLogConsumer, JournalProducer } from ${JSON.stringify(client)};
      const server = await startServer();
      const producer = new JournalProducer(server.url, 'j');
      await producer.append('a');
      const consumer = new EventLogConsumer(server.url, 'j', { includeSentinel: true }).start();
      await consumer.poll(5);
      await consumer.poll(5);
      consumer.stop();
      await producer.close();
      await server.close();
      console.log('closed');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const [code] = await once<[number | null]>(child, 'exit', 15_000);
      assert.equal(code, 0);
      assert.equal(output.trim(), 'closed');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
