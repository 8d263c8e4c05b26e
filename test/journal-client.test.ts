/** JournalClient against a real server on port 0: every method, its errors as JournalErrors with the server's codes, and its bad uses. */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { MemoryStore } from '../server/memory-store.js';
import { ConnectionError, JournalError, TimeoutError } from '../src/errors.js';
import { JournalClient } from '../src/journal-client.js';
import { JournalEvent } from '../src/journal-event.js';
import { freePort, startServer } from './helpers.js';

const LIMIT = { timeout: 30_000 };

async function collect(iterable: AsyncIterable<JournalEvent>): Promise<JournalEvent[]> {
  const events: JournalEvent[] = [];
  for await (const event of iterable) events.push(event);
  return events;
}

describe('JournalClient', () => {
  it('refuses bad arguments at construction and at the call, naming them', () => {
    assert.throws(() => new JournalClient('not a url'), { name: 'TypeError', message: /url is not a valid URL/ });
    assert.throws(() => new JournalClient('ftp://h'), { name: 'TypeError', message: /url must use http:, https:, ws: or wss:/ });
    assert.throws(() => new JournalClient('http://h', { timeout: 0 }), { name: 'RangeError', message: /options\.timeout/ });
    assert.throws(() => new JournalClient('http://h', { token: '' }), { name: 'TypeError', message: /options\.token/ });
    assert.throws(() => new JournalClient('http://h', { retries: 3 } as never), { name: 'TypeError', message: /options\.retries is not a known option/ });
    const client = new JournalClient('ws://127.0.0.1:1/base');
    assert.equal(client.url, 'http://127.0.0.1:1/base/');
    assert.throws(() => client.events('bad name'), { name: 'TypeError', message: /journal must be a string/ });
    assert.throws(() => client.events('j', { limit: 0 }), { name: 'RangeError', message: /query\.limit/ });
    assert.throws(() => client.events('j', { names: ['a,b'] }), { name: 'TypeError', message: /query\.names/ });
    assert.throws(() => client.events('j', { order: 'up' as never }), { name: 'TypeError', message: /query\.order/ });
  });

  it('appends, lists journals, reads one event and iterates every page of a query', LIMIT, async (t) => {
    const server = await startServer({ store: new MemoryStore() });
    t.after(() => server.close());
    const client = new JournalClient(server.url);
    const acks = await client.append('jobs', Array.from({ length: 25 }, (_, i) => ({ name: i % 5 === 0 ? 'fail' : 'ok', context: { i } })));
    assert.deepEqual(acks.map((ack) => ack.seq), Array.from({ length: 25 }, (_, i) => i + 1));
    const retried = await client.append('jobs', { name: 'once' }, { idempotencyKey: 'k' });
    assert.deepEqual(await client.append('jobs', { name: 'once' }, { idempotencyKey: 'k' }), retried);
    assert.deepEqual(await client.journals(), [{ name: 'jobs', head: retried[0] }]);
    assert.deepEqual(await client.journal('jobs'), { name: 'jobs', head: retried[0] });
    assert.equal(await client.journal('none'), undefined);

    const all = await collect(client.events('jobs', { pageSize: 4 }));
    assert.equal(all.length, 26);
    assert.ok(all.every((event) => event instanceof JournalEvent));
    assert.deepEqual(all.map((event) => event.seq), Array.from({ length: 26 }, (_, i) => i + 1));
    const failures = await collect(client.events('jobs', { names: ['fail'], order: 'desc', pageSize: 2 }));
    assert.deepEqual(failures.map((event) => event.context['i']), [20, 15, 10, 5, 0]);
    const selected = await collect(client.events('jobs', { where: { 'context.i': { $gte: 10 } }, limit: 3 }));
    assert.deepEqual(selected.map((event) => event.context['i']), [10, 11, 12]);
    const one = await client.event('jobs', 3);
    assert.deepEqual(one?.toJSON(), all[2]!.toJSON());
    assert.equal(await client.event('jobs', 99), undefined);
  });

  it("rejects with a JournalError carrying the server's code", LIMIT, async (t) => {
    const server = await startServer({ tokens: ['t'] });
    t.after(() => server.close());
    await assert.rejects(new JournalClient(server.url).journals(), (error: JournalError) => error instanceof JournalError && error.code === 'UNAUTHORIZED');
    const client = new JournalClient(server.url, { token: 't' });
    await assert.rejects(collect(client.events('j', { where: { $where: '1' } })), { code: 'INVALID_SELECTOR' });
    await assert.rejects(client.append('j', { name: '' }), { code: 'INVALID_EVENT' });
    await assert.rejects(collect(client.events('j', { level: 'loud' as never })), { code: 'INVALID_QUERY' });
  });

  it('rejects with ConnectionError when nothing listens, TimeoutError when the server does not answer', LIMIT, async (t) => {
    const port = await freePort();
    await assert.rejects(new JournalClient(`http://127.0.0.1:${port}`).journals(), (error) => error instanceof ConnectionError && error.code === 'CONNECTION_CLOSED');
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const address = silent.address() as { port: number };
    const client = new JournalClient(`http://127.0.0.1:${address.port}`, { timeout: 0.2 });
    await assert.rejects(client.journals(), (error) => error instanceof TimeoutError && error.code === 'TIMEOUT');
  });

  it('stops an iteration when its signal is aborted, and uses the fetch it is given', LIMIT, async (t) => {
    const server = await startServer();
    t.after(() => server.close());
    const urls: string[] = [];
    const client = new JournalClient(server.url, {
      fetch: (input, init) => {
        urls.push(String(input));
        return fetch(input, init);
      },
    });
    await client.append('j', Array.from({ length: 10 }, () => ({ name: 'e' })));
    const controller = new AbortController();
    const seen: JournalEvent[] = [];
    await assert.rejects(
      (async () => {
        for await (const event of client.events('j', { pageSize: 2, signal: controller.signal })) {
          seen.push(event);
          if (seen.length === 3) controller.abort(new Error('enough'));
        }
      })(),
      { message: 'enough' },
    );
    assert.equal(seen.length, 4, 'the page already fetched is delivered; the next request is not made');
    assert.ok(urls.every((url) => url.startsWith(server.url.replace('ws:', 'http:'))));
    assert.ok(urls.some((url) => url.includes('/v1/journals/j/events?limit=2')));
  });
});
