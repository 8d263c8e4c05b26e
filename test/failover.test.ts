import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../server/memory-store.js';
import { EventLogConsumer, JournalConnection, JournalProducer, type JournalEvent } from '../src/index.js';
import { Latch, once, startServer, within } from './helpers.js';

describe('several server URLs', () => {
  it('a consumer and a producer move to the next server when theirs dies, losing and repeating nothing', async () => {
    const store = new MemoryStore();
    const first = await startServer({ store });
    const second = await startServer({ store });
    const urls = [first.url, second.url];
    const producer = new JournalProducer(urls, 'jobs');
    const consumer = new EventLogConsumer(urls, 'jobs', { includeSentinel: true });
    const seen: JournalEvent[] = [];
    const total = 400;
    const all = new Latch(total + 1);
    consumer.setCallback((event) => {
      if (event === null) return;
      seen.push(event);
      all.countDown();
    });
    const reconnected = once(consumer, 'reconnect');
    consumer.start();
    await once(consumer, 'subscribed');
    for (let n = 0; n < total / 2; n++) await producer.append('tick', { n });
    await first.close();
    await reconnected;
    for (let n = total / 2; n < total; n++) await producer.append('tick', { n });
    await all.wait(10_000, `${total} events and the sentinel`);
    const events = seen.filter((event) => !event.isEmpty());
    assert.deepEqual(
      events.map((event) => event.context['n']),
      Array.from({ length: total }, (_, n) => n),
    );
    assert.deepEqual(
      events.map((event) => event.seq),
      Array.from({ length: total }, (_, n) => n + 1),
    );
    assert.equal(seen.filter((event) => event.isEmpty()).length, 1);
    consumer.stop();
    await producer.close();
    await second.close();
  });

  it('tries the next URL when the first is down at start', async () => {
    const server = await startServer();
    const dead = await startServer();
    const deadUrl = dead.url;
    await dead.close();
    const connection = new JournalConnection([deadUrl, server.url], { reconnectDelay: 0.01 });
    const producer = new JournalProducer(connection, 'jobs');
    const result = await within(producer.append('hello'), 5000, 'the append through the second URL');
    assert.equal(result.seq, 1);
    assert.equal(connection.url, server.url);
    await producer.close();
    await connection.close();
    await server.close();
  });

  it('refuses an empty list or a bad URL in it, naming the argument', () => {
    assert.throws(() => new JournalConnection([]), { name: 'TypeError', message: /url/ });
    assert.throws(() => new EventLogConsumer(['ws://127.0.0.1:1', 'http://x'], 'jobs'), {
      name: 'TypeError',
      message: /url\[1\]/,
    });
  });
});
