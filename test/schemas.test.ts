/**
 * Schemas end to end (SPEC section 6): registration over the WebSocket and the server API,
 * validation at append with its refusal codes and details, journal policies, the
 * subscription filter by schema, and schemas on everything delivered.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { JournalServer } from '../server/journal-server.js';
import { LmdbStore } from '../server/lmdb-store.js';
import { MemoryStore } from '../server/memory-store.js';
import { ErrorCode, JournalError } from '../src/errors.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalProducer } from '../src/journal-producer.js';
import { Harness, readAll } from './harness.js';
import { pollMany } from './helpers.js';

const JOB = {
  $id: 'urn:test:job',
  version: 1,
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^f[0-9a-z]+$' },
    userid: { type: 'integer', minimum: 0 },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['id', 'userid'],
  additionalProperties: false,
};
const JOB_REF = { id: 'urn:test:job', version: 1 };

/** Rejects with a JournalError of `code`, returned for a closer look. */
async function refused(promise: Promise<unknown>, code: string): Promise<JournalError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof JournalError, `expected a JournalError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

describe('schema registration', () => {
  it('registers over the WebSocket, again as a no-op, and lists what it holds', async (t) => {
    const harness = await Harness.start(t);
    const producer = harness.producer('jobs');
    assert.deepEqual(await producer.registerSchema(JOB), { id: 'urn:test:job', version: 1, created: true });
    // The same body with its keys in another order is the same schema.
    const reordered = Object.fromEntries(Object.entries(JOB).reverse());
    assert.deepEqual(await producer.registerSchema(reordered), { id: 'urn:test:job', version: 1, created: false });
    assert.deepEqual(await harness.server.registerSchema({ ...JOB, version: 2 }), { id: 'urn:test:job', version: 2, created: true });
    const { schemas, next } = await producer.listSchemas();
    assert.deepEqual(schemas, [JOB, { ...JOB, version: 2 }]);
    assert.equal(next, undefined);
    const first = await producer.listSchemas({ limit: 1 });
    assert.deepEqual(first.next, JOB_REF);
    assert.deepEqual((await producer.listSchemas({ after: first.next!, limit: 1 })).schemas, [{ ...JOB, version: 2 }]);
  });

  it('refuses another body under a registered $id and version with SCHEMA_CONFLICT', async (t) => {
    const harness = await Harness.start(t);
    const producer = harness.producer('jobs');
    await producer.registerSchema(JOB);
    await refused(producer.registerSchema({ ...JOB, required: ['id'] }), ErrorCode.SCHEMA_CONFLICT);
    await refused(harness.server.registerSchema({ ...JOB, title: 'changed' }), ErrorCode.SCHEMA_CONFLICT);
    assert.deepEqual((await producer.listSchemas()).schemas, [JOB]);
  });

  it('refuses what breaks the metaschema or the validator with INVALID_SCHEMA, saying why', async (t) => {
    const harness = await Harness.start(t);
    const producer = harness.producer('jobs');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ version: 1, properties: {} }, /\$id must be a URI or URN/],
      [{ $id: '', version: 1, properties: {} }, /\$id/],
      [{ $id: 'no-scheme', version: 1, properties: {} }, /\$id/],
      [{ $id: 'urn:x', properties: {} }, /version must be a positive integer/],
      [{ $id: 'urn:x', version: 0, properties: {} }, /version/],
      [{ $id: 'urn:x', version: 1.5, properties: {} }, /version/],
      [{ $id: 'urn:x', version: '1', properties: {} }, /version/],
      [{ $id: 'urn:x', version: 1 }, /properties must be an object/],
      [{ $id: 'urn:x', version: 1, properties: [] }, /properties must be an object/],
      [{ $id: 'urn:x', version: 1, properties: { __timestamp__: {} } }, /reserved/],
      [{ $id: 'urn:x', version: 1, $schema: 'http://json-schema.org/draft-04/schema#', properties: {} }, /\$schema/],
      [{ $id: 'urn:x', version: 1, properties: { a: { type: 'strnig' } } }, /the validator refuses the schema/],
      [{ $id: 'urn:x', version: 1, properties: { a: { $ref: '#/definitions/missing' } } }, /the validator refuses the schema/],
      [{ $id: 'urn:x', version: 1, properties: { a: { $id: 'urn:y' } } }, /only the schema itself may have \$id/],
      [{ $id: 'urn:x', version: 1, properties: { a: { pattern: '(a)\\1' } } }, /the validator refuses the schema/],
    ];
    for (const [schema, message] of cases) {
      const error = await refused(producer.registerSchema(schema), ErrorCode.INVALID_SCHEMA);
      assert.match(error.message, message, JSON.stringify(schema));
    }
    assert.deepEqual((await producer.listSchemas()).schemas, []);
    // A schema that is not an object is refused by the frame's own check.
    const raw = await harness.raw();
    raw.send({ type: 'register', id: 1, schema: [] });
    const reply = await raw.next();
    assert.equal(reply['code'], ErrorCode.INVALID_SCHEMA);
  });

  it('registers the schemas option (an array, or a directory of *.json) before listen() resolves', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-schemas-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'b.json'), JSON.stringify({ ...JOB, version: 2 }));
    await writeFile(join(dir, 'a.json'), JSON.stringify(JOB));
    await writeFile(join(dir, 'notes.txt'), 'not a schema');
    const store = new MemoryStore();
    const fromDir = new JournalServer({ port: 0, store, schemas: dir });
    await fromDir.listen();
    t.after(() => fromDir.close());
    assert.deepEqual((await fromDir.listSchemas()).schemas, [JOB, { ...JOB, version: 2 }]);
    // Registering them again, from a second server on the same store, changes nothing.
    const again = new JournalServer({ port: 0, store, schemas: [JOB, { ...JOB, version: 3 }] });
    await again.listen();
    t.after(() => again.close());
    assert.equal((await again.listSchemas()).schemas.length, 3);
    const conflicting = new JournalServer({ port: 0, store, schemas: [{ ...JOB, title: 'other' }] });
    t.after(() => conflicting.close());
    await assert.rejects(conflicting.listen(), (error: JournalError) => error.code === ErrorCode.SCHEMA_CONFLICT && /options\.schemas\[0\]/.test(error.message));
    await writeFile(join(dir, 'c.json'), '{"$id":');
    const broken = new JournalServer({ port: 0, store: new MemoryStore(), schemas: dir });
    t.after(() => broken.close());
    await assert.rejects(broken.listen(), (error: JournalError) => error.code === ErrorCode.INVALID_SCHEMA && error.message.includes('c.json'));
    assert.throws(() => new JournalServer({ port: 0, store, schemas: 42 as never }), TypeError);
  });

  it('keeps schemas across a restart of a server on LmdbStore', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-schemas-lmdb-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const first = new JournalServer({ port: 0, dataDir: dir });
    await first.listen();
    await first.registerSchema(JOB);
    await first.append('jobs', 'submit', { id: 'f1', userid: 1 }, { schema: JOB_REF });
    await first.close();
    const second = new JournalServer({ port: 0, dataDir: dir });
    await second.listen();
    t.after(() => second.close());
    assert.deepEqual((await second.listSchemas()).schemas, [JOB]);
    await refused(second.registerSchema({ ...JOB, title: 'x' }), ErrorCode.SCHEMA_CONFLICT);
    await second.append('jobs', 'submit', { id: 'f2', userid: 2 }, { schema: JOB_REF });
    await refused(second.append('jobs', 'submit', { id: 'f3' }, { schema: JOB_REF }), ErrorCode.SCHEMA_VIOLATION);
    const events = await readAll(second.store, 'jobs');
    assert.deepEqual(events.map((event) => (JSON.parse(event.json) as { schema?: unknown }).schema), [JOB_REF, JOB_REF]);
  });
});

describe('validation at append', () => {
  it('stores valid events with their schema and delivers it on history and live events', async (t) => {
    const harness = await Harness.start(t);
    await harness.server.registerSchema(JOB);
    const producer = harness.producer('jobs');
    await producer.appendMany([
      { name: 'submit', context: { id: 'f1', userid: 1 }, schema: JOB_REF },
      { name: 'note', context: { free: 'form' } },
    ]);
    const consumer = harness.consumer('jobs', { includeSentinel: true }).start();
    const history = await pollMany(consumer, 3);
    assert.deepEqual(history.map((event) => event.schema), [JOB_REF, undefined, undefined]);
    assert.ok(history[2]!.isEmpty());
    assert.deepEqual(history[0]!.toJSON().schema, JOB_REF);
    await producer.append('submit', { id: 'f2', userid: 2 }, { schema: JOB_REF });
    const [live] = await pollMany(consumer, 1);
    assert.deepEqual(live!.schema, JOB_REF);
    assert.deepEqual(live!.context, { id: 'f2', userid: 2 });
  });

  it('refuses a violation with SCHEMA_VIOLATION, details naming each bad event and path, and stores nothing of the batch', async (t) => {
    const harness = await Harness.start(t);
    await harness.server.registerSchema(JOB);
    const producer = harness.producer('jobs');
    const error = await refused(
      producer.appendMany([
        { name: 'submit', context: { id: 'f1', userid: 1 }, schema: JOB_REF },
        { name: 'submit', context: { id: 'g1', userid: 1 }, schema: JOB_REF },
        { name: 'plain', context: {} },
        { name: 'submit', context: { id: 'f3', userid: 1, extra: true }, schema: JOB_REF },
        { name: 'submit', context: { id: 'f4', userid: -1 }, schema: JOB_REF },
        { name: 'submit', context: { id: 'f5', userid: 1, tags: ['a', 7] }, schema: JOB_REF },
        { name: 'submit', context: { 'a/b~c': 1, id: 'f6' }, schema: JOB_REF },
      ]),
      ErrorCode.SCHEMA_VIOLATION,
    );
    assert.deepEqual(
      error.details?.map(({ index, path }) => ({ index, path })),
      [
        { index: 1, path: '/id' },
        { index: 3, path: '/extra' },
        { index: 4, path: '/userid' },
        { index: 5, path: '/tags/1' },
        { index: 6, path: '/userid' },
      ],
    );
    for (const detail of error.details!) assert.ok(detail.message.length > 0 && detail.message.length <= 200);
    assert.match(error.message, /^event 1: \/id /);
    assert.deepEqual(await readAll(harness.server.store, 'jobs'), []);
    // The same events without the bad ones go through, on the same connection.
    await producer.append('submit', { id: 'f1', userid: 1 }, { schema: JOB_REF });
    assert.equal((await readAll(harness.server.store, 'jobs')).length, 1);
  });

  it('bounds details to 20, each path and message to 200 characters', async (t) => {
    const harness = await Harness.start(t);
    const key = 'k'.repeat(400);
    await harness.server.registerSchema({ $id: 'urn:test:strict', version: 1, properties: {}, additionalProperties: false });
    const events = Array.from({ length: 50 }, () => ({ name: 'x', context: { [key]: 1 }, schema: { id: 'urn:test:strict', version: 1 } }));
    const error = await refused(harness.producer('j').appendMany(events), ErrorCode.SCHEMA_VIOLATION);
    assert.equal(error.details!.length, 20);
    assert.match(error.message, /20\+ problems/);
    for (const detail of error.details!) assert.ok(detail.path.length <= 200 && detail.path.endsWith('…'));
  });

  it('refuses an unregistered schema with UNKNOWN_SCHEMA and stores nothing', async (t) => {
    const harness = await Harness.start(t);
    await harness.server.registerSchema(JOB);
    const producer = harness.producer('jobs');
    const error = await refused(
      producer.appendMany([
        { name: 'submit', context: { id: 'f1', userid: 1 }, schema: JOB_REF },
        { name: 'submit', context: { id: 'f1', userid: 1 }, schema: { id: 'urn:test:job', version: 9 } },
      ]),
      ErrorCode.UNKNOWN_SCHEMA,
    );
    assert.deepEqual(error.details, [{ index: 1, path: '', message: 'schema urn:test:job version 9 is not registered' }]);
    await refused(harness.server.append('jobs', 'x', {}, { schema: { id: 'urn:none', version: 1 } }), ErrorCode.UNKNOWN_SCHEMA);
    assert.deepEqual(await readAll(harness.server.store, 'jobs'), []);
  });

  it('refuses a malformed schema reference on the wire with INVALID_EVENT, and in the client before sending', async (t) => {
    const harness = await Harness.start(t);
    const raw = await harness.raw();
    for (const [id, schema] of [[1, { id: 'not a uri', version: 1 }], [2, { id: 'urn:x', version: 0 }], [3, { id: 'urn:x' }], [4, 'urn:x']] as const) {
      raw.send({ type: 'append', id, journal: 'j', events: [{ name: 'a', context: {}, schema }] });
      const reply = await raw.next();
      assert.deepEqual([reply['id'], reply['code']], [id, ErrorCode.INVALID_EVENT]);
    }
    await refused(harness.producer('j').append('a', {}, { schema: { id: 'urn:x', version: 1.5 } }), ErrorCode.INVALID_EVENT);
    assert.deepEqual(await readAll(harness.server.store, 'j'), []);
  });

  it('stores the appends of one connection in the order sent, whether they wait for validation or not', async (t) => {
    const harness = await Harness.start(t);
    await harness.server.registerSchema(JOB);
    const producer = harness.producer('jobs');
    const appends: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      appends.push(i % 3 === 0 ? producer.append('plain', { i }) : producer.append('submit', { id: `f${i}`, userid: i }, { schema: JOB_REF }));
    }
    await Promise.all(appends);
    const stored = await readAll(harness.server.store, 'jobs');
    assert.deepEqual(
      stored.map((event) => (JSON.parse(event.json) as { context: { i?: number; userid?: number } }).context),
      Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? { i } : { id: `f${i}`, userid: i })),
    );
  });

  it('validates what another server on the same store registered', async (t) => {
    const store = new MemoryStore();
    const a = await Harness.start(t, { store });
    const b = await Harness.start(t, { store });
    await a.producer('jobs').registerSchema(JOB);
    await b.producer('jobs').append('submit', { id: 'f1', userid: 1 }, { schema: JOB_REF });
    await refused(b.producer('jobs').append('submit', { id: 'x', userid: 1 }, { schema: JOB_REF }), ErrorCode.SCHEMA_VIOLATION);
  });

  it('accepts draft-07 and 2020-12 schemas, and checks formats', async (t) => {
    const harness = await Harness.start(t);
    const producer = harness.producer('j');
    await producer.registerSchema({ $id: 'urn:d7', version: 1, $schema: 'http://json-schema.org/draft-07/schema#', properties: { at: { type: 'string', format: 'date-time' } } });
    await producer.registerSchema({
      $id: 'urn:d2020',
      version: 1,
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      properties: { pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }] }, mail: { type: 'string', format: 'email' } },
    });
    await producer.append('a', { at: '2026-01-02T03:04:05Z' }, { schema: { id: 'urn:d7', version: 1 } });
    await refused(producer.append('a', { at: 'yesterday' }, { schema: { id: 'urn:d7', version: 1 } }), ErrorCode.SCHEMA_VIOLATION);
    await producer.append('b', { pair: ['a', 1], mail: 'a@example.com' }, { schema: { id: 'urn:d2020', version: 1 } });
    const error = await refused(producer.append('b', { pair: ['a', 'b'] }, { schema: { id: 'urn:d2020', version: 1 } }), ErrorCode.SCHEMA_VIOLATION);
    assert.equal(error.details![0]!.path, '/pair/1');
    await refused(producer.append('b', { mail: 'nobody' }, { schema: { id: 'urn:d2020', version: 1 } }), ErrorCode.SCHEMA_VIOLATION);
  });
});

describe('journal policies', () => {
  it('requires a schema, and allows only listed ones, where the most specific key says so', async (t) => {
    const harness = await Harness.start(t, {
      journals: {
        '*': { requireSchema: true },
        'jobs.*': { allowedSchemas: ['urn:test:job'] },
        'jobs.free': {},
        'jobs.*.strict': { requireSchema: true, allowedSchemas: ['urn:test:job'] },
      },
    });
    await harness.server.registerSchema(JOB);
    await harness.server.registerSchema({ $id: 'urn:test:other', version: 1, properties: {} });
    const append = (journal: string, schema?: { id: string; version: number }) =>
      harness.producer(journal).append('e', { id: 'f1', userid: 1 }, schema === undefined ? {} : { schema });
    const required = await refused(append('anything'), ErrorCode.SCHEMA_REQUIRED);
    assert.deepEqual(required.details, [{ index: 0, path: '', message: 'names no schema' }]);
    assert.match(required.message, /policy "\*"/);
    await append('anything', { id: 'urn:test:other', version: 1 });
    await append('jobs.a');
    await append('jobs.a', JOB_REF);
    const disallowed = await refused(append('jobs.a', { id: 'urn:test:other', version: 1 }), ErrorCode.SCHEMA_NOT_ALLOWED);
    assert.equal(disallowed.details![0]!.index, 0);
    await append('jobs.free', { id: 'urn:test:other', version: 1 });
    await refused(append('jobs.x.strict'), ErrorCode.SCHEMA_REQUIRED);
    await append('jobs.x.strict', JOB_REF);
    await refused(harness.server.append('elsewhere', 'e', {}), ErrorCode.SCHEMA_REQUIRED);
    // A batch with one event breaking the policy is refused whole.
    const producer = harness.producer('jobs.b');
    await refused(
      producer.appendMany([{ name: 'e', context: { id: 'f1', userid: 1 }, schema: JOB_REF }, { name: 'e', context: {}, schema: { id: 'urn:test:other', version: 1 } }]),
      ErrorCode.SCHEMA_NOT_ALLOWED,
    );
    assert.deepEqual(await readAll(harness.server.store, 'jobs.b'), []);
  });

  it('refuses bad policies at construction, naming them', () => {
    for (const journals of [42, { 'a b': {} }, { a: 1 }, { a: { requireSchema: 'yes' } }, { a: { allowedSchemas: 'urn:x' } }, { a: { retention: 1 } }]) {
      assert.throws(() => new JournalServer({ store: new MemoryStore(), journals: journals as never }), TypeError, JSON.stringify(journals));
    }
  });
});

describe('subscribing by schema', () => {
  it('delivers only events whose schema is listed, in history and live', async (t) => {
    const harness = await Harness.start(t);
    await harness.server.registerSchema(JOB);
    await harness.server.registerSchema({ $id: 'urn:test:other', version: 1, properties: {} });
    const producer = harness.producer('mixed');
    await producer.appendMany([
      { name: 'a', context: { id: 'f1', userid: 1 }, schema: JOB_REF },
      { name: 'b', context: {} },
      { name: 'c', context: {}, schema: { id: 'urn:test:other', version: 1 } },
      { name: 'd', context: { schema: { id: 'urn:test:job', version: 1 } } },
    ]);
    class JobsOnly extends EventLogConsumer {
      override get requestPayload(): Record<string, unknown> {
        return { schemas: ['urn:test:job'] };
      }
    }
    const consumer = harness.track(new JobsOnly(harness.url, 'mixed', { includeSentinel: true })).start();
    const history = await pollMany(consumer, 2);
    assert.deepEqual(history.map((event) => event.name), ['a', undefined]);
    await producer.append('e', {});
    await producer.append('f', { id: 'f2', userid: 2 }, { schema: JOB_REF });
    const [live] = await pollMany(consumer, 1);
    assert.equal(live!.name, 'f');
    const raw = await harness.raw();
    raw.send({ type: 'subscribe', id: 1, journal: 'mixed', payload: { schemas: [] } });
    assert.equal((await raw.next())['code'], ErrorCode.INVALID_PAYLOAD);
  });
});

describe('JournalProducer schema requests', () => {
  it('rejects schema requests after close, and bad arguments at once', async (t) => {
    const harness = await Harness.start(t);
    const producer = new JournalProducer(harness.url, 'j');
    await assert.rejects(producer.listSchemas({ limit: 0 }), RangeError);
    await assert.rejects(producer.listSchemas({ after: { id: 'nope', version: 1 } }), TypeError);
    await assert.rejects(producer.registerSchema(null as never), TypeError);
    await producer.close();
    await refused(producer.registerSchema(JOB), ErrorCode.CLOSED);
  });
});

describe('listing schemas', () => {
  /** A store that counts the schema bodies it reads for listings. */
  class CountingStore extends MemoryStore {
    bodies = 0;
    reads: number[] = [];

    override async listSchemas(...args: Parameters<MemoryStore['listSchemas']>): ReturnType<MemoryStore['listSchemas']> {
      const found = await super.listSchemas(...args);
      this.reads.push(args[1]);
      this.bodies += found.length;
      return found;
    }
  }

  const schemaOf = (n: number, pad: number) => ({
    id: `urn:list:s${String(n).padStart(3, '0')}`,
    version: 1,
    json: JSON.stringify({ $id: `urn:list:s${String(n).padStart(3, '0')}`, version: 1, type: 'object', properties: {}, description: 'x'.repeat(pad) }),
  });

  /** A server on a CountingStore holding 100 schemas whose descriptions are `pad` characters long. */
  async function serverWith(t: { after(fn: () => unknown): void }, pad: number): Promise<{ store: CountingStore; server: JournalServer }> {
    const store = new CountingStore();
    for (let n = 0; n < 100; n++) await store.putSchema(schemaOf(n, pad));
    const server = new JournalServer({ store, logger: false });
    t.after(() => server.close());
    return { store, server };
  }

  it('a page of large bodies reads about a page of them from the store, not the limit; following next lists each once', async (t) => {
    const { store, server } = await serverWith(t, 40_000);
    const first = await server.listSchemas({ limit: 1000 });
    // 512 Ki units a page: 13 bodies of about 40,000.
    assert.equal(first.schemas.length, 13);
    assert.deepEqual(first.next, { id: 'urn:list:s012', version: 1 });
    assert.ok(store.bodies <= 33, `${store.bodies} bodies read for a page of 13`);
    assert.ok(store.reads.every((limit) => limit <= 33), `reads of ${store.reads.join(', ')}`);
    const ids: string[] = first.schemas.map((schema) => schema['$id'] as string);
    for (let page = first; page.next !== undefined; ) {
      page = await server.listSchemas({ after: page.next, limit: 1000 });
      ids.push(...page.schemas.map((schema) => schema['$id'] as string));
    }
    assert.deepEqual(ids, Array.from({ length: 100 }, (_, n) => schemaOf(n, 0).id));
  });

  it('small bodies: a page holds the limit, read 32 at a time', async (t) => {
    const { server } = await serverWith(t, 10);
    const all = await server.listSchemas({ limit: 1000 });
    assert.equal(all.schemas.length, 100);
    assert.equal(all.next, undefined);
    const some = await server.listSchemas({ limit: 70 });
    assert.equal(some.schemas.length, 70);
    assert.deepEqual(some.next, { id: 'urn:list:s069', version: 1 });
    const rest = await server.listSchemas({ after: some.next!, limit: 70 });
    assert.deepEqual(rest.schemas.map((schema) => schema['$id']), Array.from({ length: 30 }, (_, n) => schemaOf(n + 70, 0).id));
    assert.equal(rest.next, undefined);
  });
});

