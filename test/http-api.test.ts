/**
 * The HTTP API through real HTTP on port 0: every route, its statuses and error codes, the
 * token and origin checks, the limits of a page and of an append, and the WebSocket endpoint
 * still served beside it on the same port.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../server/memory-store.js';
import type { JournalInfo, StoredEvent } from '../server/store.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalProducer } from '../src/journal-producer.js';
import { get, request, where, type HttpAnswer } from './http-client.js';
import { pollMany, startServer, within } from './helpers.js';

const LIMIT = { timeout: 30_000 };
const TOKEN = 'sekret';

/** A MemoryStore whose journal listing waits at a gate until `open()`. */
class HeldStore extends MemoryStore {
  #open!: () => void;
  readonly #gate = new Promise<void>((resolve) => (this.#open = resolve));
  #entered!: () => void;
  readonly entered = new Promise<void>((resolve) => (this.#entered = resolve));

  override async listJournals(after: string | undefined, limit: number): Promise<JournalInfo[]> {
    this.#entered();
    await this.#gate;
    return super.listJournals(after, limit);
  }

  open(): void {
    this.#open();
  }
}

function assertError(answer: HttpAnswer, status: number, code: string): void {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.json?.error?.code, code, answer.text);
  assert.equal(typeof answer.json.error.message, 'string');
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
}

/** Appends `count` events named `e0`, `e1`, … (cycling through `names`) with `context.i`. */
async function fill(store: MemoryStore, journal: string, count: number, names = ['a', 'b']): Promise<StoredEvent[]> {
  const events = Array.from({ length: count }, (_, i) => ({ name: names[i % names.length]!, context: { i, even: i % 2 === 0 } }));
  const stored: StoredEvent[] = [];
  for (let i = 0; i < events.length; i += 500) stored.push(...(await store.append(journal, events.slice(i, i + 500))));
  return stored;
}

/** Every event of a query, following `next` from page to page; also returns how many pages it took. */
async function allPages(
  server: Awaited<ReturnType<typeof startServer>>,
  journal: string,
  query: string,
  headers: Record<string, string> = {},
): Promise<{ events: any[]; pages: number }> {
  const events: any[] = [];
  let pages = 0;
  let next: string | null = query;
  while (next !== null) {
    const answer = await get(server, `/v1/journals/${journal}/events?${next}`, headers);
    assert.equal(answer.status, 200, answer.text);
    events.push(...answer.json.events);
    next = answer.json.next;
    assert.ok(++pages < 10_000, 'the pages end');
  }
  return { events, pages };
}

describe('HTTP API', () => {
  it('answers GET / with what the address serves, without a token, where a plain GET once got 426', LIMIT, async (t) => {
    const server = await startServer({ tokens: [TOKEN] });
    t.after(() => server.close());
    const root = await get(server, '/');
    assert.equal(root.status, 200);
    assert.equal(root.json.name, 'wsjournal');
    assert.ok(root.json.routes.includes('GET /v1/journals/{journal}/events'));
    const head = await request(server, 'HEAD', '/');
    assert.equal(head.status, 200);
  });

  it('reports health without a token: 200 while the store works, 503 STORE_UNAVAILABLE once it does not', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store, tokens: [TOKEN] });
    t.after(() => server.close());
    const ok = await get(server, '/healthz');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, { status: 'ok' });
    await store.close();
    const down = await get(server, '/healthz');
    assertError(down, 503, 'STORE_UNAVAILABLE');
    assert.equal(down.json.status, 'unavailable');
    assertError(await get(server, `/v1/journals/j/events?token=${TOKEN}`), 503, 'STORE_UNAVAILABLE');
    assertError(await request(server, 'POST', `/v1/journals/j/events?token=${TOKEN}`, { body: { name: 'x' } }), 503, 'STORE_UNAVAILABLE');
  });

  it('asks for the same tokens as the WebSocket (bearer or ?token=), and checks the Origin', LIMIT, async (t) => {
    const server = await startServer({ tokens: [TOKEN], origins: ['https://ok.example'] });
    t.after(() => server.close());
    for (const path of ['/v1/journals', '/v1/journals/j/events', '/v1/journals/j/events/1', '/metrics', '/nothing-here']) {
      const none = await get(server, path);
      assertError(none, 401, 'UNAUTHORIZED');
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      assertError(await get(server, path, { authorization: 'Bearer nope' }), 401, 'UNAUTHORIZED');
    }
    assert.equal((await get(server, '/v1/journals', { authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await get(server, `/v1/journals?token=${TOKEN}`)).status, 200);
    assert.equal((await get(server, '/metrics', { authorization: `Bearer ${TOKEN}` })).status, 200);
    assertError(await get(server, '/v1/journals', { authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' }), 403, 'FORBIDDEN');
    assert.equal((await get(server, '/v1/journals', { authorization: `Bearer ${TOKEN}`, origin: 'https://ok.example' })).status, 200);
  });

  it('appends one event or a batch, and a retried Idempotency-Key stores nothing and answers the first acks', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store });
    t.after(() => server.close());
    const one = await request(server, 'POST', '/v1/journals/jobs/events', { body: { name: 'submit', context: { id: 1 } } });
    assert.equal(one.status, 200, one.text);
    const batch = await request(server, 'POST', '/v1/journals/jobs/events', { body: [{ name: 'run' }, { name: 'done', context: { ok: true } }] });
    const stored = await store.read('jobs', 0, 10);
    assert.deepEqual(
      [...one.json.acks, ...batch.json.acks],
      stored.map((event) => ({ seq: event.seq, timestamp: event.timestamp })),
    );
    assert.deepEqual(stored.map((event) => JSON.parse(event.json).context), [{ id: 1 }, {}, { ok: true }]);
    const keyed = { body: [{ name: 'x' }, { name: 'y' }], headers: { 'Idempotency-Key': 'order-17' } };
    const first = await request(server, 'POST', '/v1/journals/jobs/events', keyed);
    const retry = await request(server, 'POST', '/v1/journals/jobs/events', keyed);
    assert.equal(retry.status, 200);
    assert.deepEqual(retry.json, first.json);
    assert.equal((await store.head('jobs')).seq, 5);
  });

  it('refuses bad appends whole with the fitting status and code, storing nothing', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store, maxEventsPerAppend: 3, maxEventSize: 100, maxFrameSize: 1024 });
    t.after(() => server.close());
    const post = (body: unknown, headers: Record<string, string> = {}, journal = 'j') =>
      request(server, 'POST', `/v1/journals/${journal}/events`, { body, headers });
    assertError(await post([{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }]), 413, 'TOO_MANY_EVENTS');
    const tooLarge = await post([{ name: 'a' }, { name: 'b', context: { pad: 'x'.repeat(200) } }]);
    assertError(tooLarge, 413, 'EVENT_TOO_LARGE');
    assert.match(tooLarge.json.error.message, /event 1 is \d+ bytes; at most 100/);
    assertError(await post({ name: 'a', context: { pad: 'x'.repeat(2000) } }), 413, 'REQUEST_TOO_LARGE');
    for (const bad of [{ name: '' }, { context: {} }, { name: 'a', context: [] }, { name: 'a', extra: 1 }, [], '"text"', 42]) {
      const answer = await post(bad);
      assertError(answer, 422, 'INVALID_EVENT');
      assert.ok(Array.isArray(answer.json.error.details) && answer.json.error.details[0].path.startsWith('body'), answer.text);
    }
    assertError(await post('{"name":', {}), 400, 'BAD_REQUEST');
    assertError(await post('name=a', { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    assertError(await post({ name: 'a' }, { 'Idempotency-Key': 'k'.repeat(129) }), 400, 'BAD_REQUEST');
    assertError(await post({ name: 'a' }, {}, 'bad name'), 400, 'INVALID_JOURNAL');
    assert.deepEqual(await store.listJournals(undefined, 10), []);
  });

  it('an error never repeats in full what it was sent: a 30,000-character unknown key is cut in the message and details', LIMIT, async (t) => {
    const server = await startServer();
    t.after(() => server.close());
    const key = 'k'.repeat(30_000);
    const answer = await request(server, 'POST', `/v1/journals/j/events`, { body: Array.from({ length: 25 }, () => ({ name: 'a', [key]: 1 })) });
    assertError(answer, 422, 'INVALID_EVENT');
    assert.ok(answer.text.length < 8000, `the error body is ${answer.text.length} characters`);
    assert.ok(answer.json.error.message.length <= 300, answer.json.error.message);
    assert.equal(answer.json.error.details.length, 20, 'at most 20 details');
    for (const detail of answer.json.error.details) assert.ok(detail.path.length <= 200 && detail.message.length <= 200, JSON.stringify(detail).slice(0, 300));
  });

  it('checks appends against the journal policy and the schemas they name, as the WebSocket does', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store, journals: { 'strict.*': { requireSchema: true } } });
    t.after(() => server.close());
    const schema = { $id: 'urn:test:job', version: 1, type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] };
    await server.registerSchema(schema);
    const ref = { id: 'urn:test:job', version: 1 };
    const post = (journal: string, body: unknown) => request(server, 'POST', `/v1/journals/${journal}/events`, { body });
    const ok = await post('strict.jobs', { name: 'submit', context: { id: 7 }, schema: ref });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual((await get(server, '/v1/journals/strict.jobs/events/1')).json.schema, ref);
    const violation = await post('strict.jobs', [{ name: 'submit', context: { id: 8 }, schema: ref }, { name: 'submit', context: { id: 'x' }, schema: ref }]);
    assertError(violation, 422, 'SCHEMA_VIOLATION');
    assert.equal(violation.json.error.details[0].index, 1);
    assertError(await post('strict.jobs', { name: 'submit', context: { id: 9 } }), 422, 'SCHEMA_REQUIRED');
    assertError(await post('other', { name: 'submit', context: {}, schema: { id: 'urn:test:none', version: 1 } }), 422, 'UNKNOWN_SCHEMA');
    assert.equal((await store.head('strict.jobs')).seq, 1, 'nothing of a refused batch is stored');
  });

  it('lists journals with their heads, a page at a time, and one journal by name', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store });
    t.after(() => server.close());
    assert.deepEqual((await get(server, '/v1/journals')).json, { journals: [], next: null });
    for (const name of ['c', 'a', 'b.x']) await store.append(name, [{ name: 'e', context: {} }]);
    const [last] = await store.append('a', [{ name: 'e', context: {} }]);
    const all = await get(server, '/v1/journals');
    assert.deepEqual(all.json.journals.map((journal: JournalInfo) => journal.name), ['a', 'b.x', 'c']);
    assert.deepEqual(all.json.journals[0].head, { seq: 2, timestamp: last!.timestamp });
    const first = await get(server, '/v1/journals?limit=2');
    assert.deepEqual(first.json.journals.map((journal: JournalInfo) => journal.name), ['a', 'b.x']);
    const second = await get(server, `/v1/journals?${first.json.next}`);
    assert.deepEqual(second.json, { journals: [all.json.journals[2]], next: null });
    const one = await get(server, '/v1/journals/a');
    assert.deepEqual(one.json, { name: 'a', head: { seq: 2, timestamp: last!.timestamp } });
    assertError(await get(server, '/v1/journals/never'), 404, 'NOT_FOUND');
    assertError(await get(server, '/v1/journals/-bad'), 400, 'INVALID_JOURNAL');
    assertError(await get(server, '/v1/journals?limit=0'), 400, 'INVALID_QUERY');
  });

  it('pages through a journal oldest first and newest first, every event once, following next', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store });
    t.after(() => server.close());
    const stored = await fill(store, 'j', 250);
    const entries = stored.map((event) => JSON.parse(event.json));
    const first = await get(server, '/v1/journals/j/events');
    assert.equal(first.json.events.length, 100, 'the default limit');
    assert.equal(typeof first.json.next, 'string');
    assert.deepEqual(await allPages(server, 'j', ''), { events: entries, pages: 3 });
    assert.deepEqual((await allPages(server, 'j', 'order=desc&limit=64')).events, [...entries].reverse());
    // The page that ends the range has no next.
    const exact = await get(server, '/v1/journals/j/events?limit=250');
    assert.equal(exact.json.events.length, 250);
    assert.equal(exact.json.next, null);
    assert.deepEqual((await get(server, '/v1/journals/unknown/events')).json, { events: [], next: null });
  });

  it('ends a forward iteration at the head its first page saw, while appends go on', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store });
    t.after(() => server.close());
    const stored = await fill(store, 'j', 30);
    const first = await get(server, '/v1/journals/j/events?limit=10');
    await fill(store, 'j', 30);
    const rest = await allPages(server, 'j', first.json.next);
    assert.deepEqual([...first.json.events, ...rest.events].map((event) => event.seq), stored.map((event) => event.seq));
  });

  it('filters by since (exclusive), until (inclusive), after (a seq), names, level and where, and next keeps the filters', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store, tokens: [TOKEN] });
    t.after(() => server.close());
    const stored = await fill(store, 'j', 40, ['a', 'b', 'log']);
    await store.append('j', [
      { name: 'log', context: { level: 'error', levelno: 40, message: 'disk' } },
      { name: 'log', context: { level: 'warning', levelno: 30, message: 'slow' } },
      { name: 'other', context: { levelno: 50 } },
    ]);
    const seqsOf = async (query: string): Promise<number[]> => {
      const { events } = await allPages(server, 'j', query, { authorization: `Bearer ${TOKEN}` });
      return events.map((event) => event.seq);
    };
    const ts = (seq: number) => stored[seq - 1]!.timestamp;
    assert.deepEqual(await seqsOf(`since=${ts(10)}&until=${ts(15)}`), [11, 12, 13, 14, 15]);
    assert.deepEqual(await seqsOf(`after=35&limit=2`), [36, 37, 38, 39, 40, 41, 42, 43]);
    assert.deepEqual(await seqsOf(`after=35&until=${ts(38)}&order=desc&limit=1`), [38, 37, 36]);
    assert.deepEqual(await seqsOf(`since=${ts(5)}&after=2&limit=3`), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43]);
    assert.deepEqual(await seqsOf('names=a,other&after=30'), [31, 34, 37, 40, 43]);
    assert.deepEqual(await seqsOf('names=a&names=other&after=30'), [31, 34, 37, 40, 43]);
    assert.deepEqual(await seqsOf('level=warning'), [41, 42]);
    assert.deepEqual(await seqsOf('level=error&order=desc'), [41]);
    assert.deepEqual(await seqsOf('level=35'), [41]);
    assert.deepEqual(await seqsOf(`${where({ 'context.i': { $gte: 36 }, name: { $ne: 'b' } })}&limit=1`), [37, 39, 40]);
    const page = await get(server, `/v1/journals/j/events?names=a&limit=2&${where({ 'context.even': true })}&token=${TOKEN}`);
    assert.deepEqual(page.json.events.map((event: { seq: number }) => event.seq), [1, 7]);
    const next = new URLSearchParams(page.json.next);
    assert.equal(next.get('names'), 'a');
    assert.deepEqual(JSON.parse(next.get('where')!), { 'context.even': true });
    assert.equal(next.get('limit'), '2');
    assert.equal(next.get('token'), null, 'next never carries the token');
  });

  it('lowers a limit above maxQueryLimit to it', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store, maxQueryLimit: 20 });
    t.after(() => server.close());
    await fill(store, 'j', 50);
    const page = await get(server, '/v1/journals/j/events?limit=1000');
    assert.equal(page.json.events.length, 20);
    assert.equal(new URLSearchParams(page.json.next).get('limit'), '20');
  });

  it('refuses bad query parameters with INVALID_QUERY and bad selectors with INVALID_SELECTOR, saying where', LIMIT, async (t) => {
    const server = await startServer();
    t.after(() => server.close());
    for (const query of ['limit=0', 'limit=abc', 'limit=1&limit=2', 'order=up', 'since=-1', 'since=abc', 'after=1.5', 'level=loud', 'names=', 'bogus=1']) {
      const answer = await get(server, `/v1/journals/j/events?${query}`);
      assertError(answer, 400, 'INVALID_QUERY');
      assert.match(answer.json.error.details[0].path, /^query/, query);
    }
    for (const selector of ['{"name":', '[1]', JSON.stringify({ name: { $where: 'x' } }), JSON.stringify({ id: 1 }), JSON.stringify({ 'context.a': { $regex: '(a)\\1' } })]) {
      assertError(await get(server, `/v1/journals/j/events?where=${encodeURIComponent(selector)}`), 400, 'INVALID_SELECTOR');
    }
    assertError(await get(server, `/v1/journals/j/events?where=${encodeURIComponent(JSON.stringify({ name: 'x'.repeat(5000) }))}`), 400, 'INVALID_QUERY');
  });

  it('reads one event by seq, or answers 404', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store });
    t.after(() => server.close());
    const stored = await fill(store, 'j', 5);
    const one = await get(server, '/v1/journals/j/events/3');
    assert.equal(one.status, 200);
    assert.deepEqual(one.json, JSON.parse(stored[2]!.json));
    assertError(await get(server, '/v1/journals/j/events/6'), 404, 'NOT_FOUND');
    assertError(await get(server, '/v1/journals/none/events/1'), 404, 'NOT_FOUND');
    assertError(await get(server, '/v1/journals/j/events/0'), 400, 'BAD_REQUEST');
    assertError(await get(server, '/v1/journals/j/events/x'), 400, 'BAD_REQUEST');
    assertError(await get(server, '/v1/nothing'), 404, 'NOT_FOUND');
    assertError(await request(server, 'DELETE', '/v1/journals/j/events'), 404, 'NOT_FOUND');
  });

  it('ends a page early, with a next, when its scan passes the time budget; the pages still find every match', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store, queryTimeBudget: 0.001 });
    t.after(() => server.close());
    const stored = await fill(store, 'j', 20_000);
    const match = where({ 'context.i': { $in: [5, 19_990] } });
    const first = await get(server, `/v1/journals/j/events?${match}&limit=10`);
    assert.ok(first.json.events.length < 2 && typeof first.json.next === 'string', 'the first page stops before the whole journal');
    const { events, pages } = await allPages(server, 'j', `${match}&limit=10`);
    assert.deepEqual(events.map((event) => event.seq), [stored[5]!.seq, stored[19_990]!.seq]);
    assert.ok(pages > 1, `${pages} pages`);
  });

  it('ends a page at the connection output budget (maxSendBuffer), at least one event a page', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store, maxSendBuffer: 2000 });
    t.after(() => server.close());
    await store.append('j', Array.from({ length: 40 }, (_, i) => ({ name: 'e', context: { i, pad: 'x'.repeat(200) } })));
    const page = await get(server, '/v1/journals/j/events?limit=100');
    assert.ok(page.json.events.length < 40 && page.json.events.length > 0, `${page.json.events.length} events`);
    assert.ok(page.text.length < 2000 + 600, `${page.text.length} characters`);
    assert.equal((await allPages(server, 'j', 'limit=100')).events.length, 40);
    await store.append('k', [{ name: 'big', context: { pad: 'y'.repeat(5000) } }, { name: 'big', context: {} }]);
    const big = await get(server, '/v1/journals/k/events');
    assert.equal(big.json.events.length, 1, 'an event larger than the budget still gets a page of its own');
  });

  it('charges a page to the server\'s memory budget as it fills: a page larger than the whole budget is cut off before it is built', LIMIT, async (t) => {
    const store = new MemoryStore();
    // A budget of 512 KiB against a page of about 1 MB (1,000 events of 1 KiB).
    const server = await startServer({ store, maxServerBuffer: 512 * 1024 });
    t.after(() => server.close());
    await store.append('j', Array.from({ length: 1000 }, (_, i) => ({ name: 'e', context: { i, pad: 'x'.repeat(1000) } })));
    const overloaded = async (): Promise<number> => {
      const metric = await server.metrics.getSingleMetric('wsjournal_connections_closed_for_output_total')!.get();
      return metric.values.find((value) => value.labels['reason'] === 'overloaded')?.value ?? 0;
    };
    await assert.rejects(get(server, '/v1/journals/j/events?limit=1000'), 'the answer is cut off');
    assert.equal(await overloaded(), 1);
    // A page within the budget is answered.
    const small = await get(server, '/v1/journals/j/events?limit=100');
    assert.equal(small.json.events.length, 100);
  });

  it('answers 503 OVERLOADED past maxHttpRequests, and serves again once a request ends', LIMIT, async (t) => {
    const store = new HeldStore();
    const server = await startServer({ store, maxHttpRequests: 1 });
    t.after(() => server.close());
    const held = get(server, '/v1/journals');
    await within(store.entered, 5000, 'the first request to reach the store');
    assertError(await get(server, '/v1/journals/j/events'), 503, 'OVERLOADED');
    assert.equal((await get(server, '/healthz')).status, 200, 'health is not counted');
    store.open();
    assert.equal((await held).status, 200);
    assert.equal((await get(server, '/v1/journals/j/events')).status, 200);
  });

  it('serves the WebSocket endpoint on the same port, unchanged', LIMIT, async (t) => {
    const server = await startServer();
    const producer = new JournalProducer(server.url, 'ws');
    const consumer = new EventLogConsumer(server.url, 'ws');
    t.after(async () => {
      consumer.stop();
      await producer.close();
      await server.close();
    });
    await producer.append('one', { n: 1 });
    await request(server, 'POST', '/v1/journals/ws/events', { body: { name: 'two', context: { n: 2 } } });
    consumer.start();
    const events = await pollMany(consumer, 2);
    assert.deepEqual(events.map((event) => event.name), ['one', 'two']);
    const [ack] = await Promise.all([producer.append('three'), pollMany(consumer, 1)]);
    assert.equal((await get(server, `/v1/journals/ws/events/${ack.seq}`)).json.name, 'three');
  });
});
