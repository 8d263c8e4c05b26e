/**
 * The schema half of the `JournalStore` contract, registered by `storeConformance` for every
 * store: the registry (`putSchema`, `getSchema`, `listSchemas`) and events that carry a schema.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { schemaIdOf } from '../server/encode.js';
import type { JournalStore, StoredSchema } from '../server/store.js';
import type { StoreFixture, StoreOpenOptions } from './store-conformance.js';

type WithStore = (
  body: (store: JournalStore, fixture: StoreFixture) => Promise<void>,
  options?: StoreOpenOptions,
) => () => Promise<void>;

/** Every test fails rather than hangs. */
const LIMIT = { timeout: 60_000 };

function schema(id: string, version: number, body: Record<string, unknown> = {}): StoredSchema {
  return { id, version, json: JSON.stringify({ $id: id, version, properties: {}, ...body }) };
}

function refs(list: readonly StoredSchema[]): string[] {
  return list.map(({ id, version }) => `${id}@${version}`);
}

export function registerSchemaConformance(
  withStore: WithStore,
  reopenOf: ((fixture: StoreFixture) => (options?: StoreOpenOptions) => Promise<JournalStore>) | undefined,
): void {
  it('registers a schema once: the same key again returns the first body, created or not', LIMIT, withStore(async (store) => {
    const first = schema('urn:test:job', 1, { title: 'first' });
    assert.deepEqual(await store.putSchema(first), { schema: first, created: true });
    assert.deepEqual(await store.putSchema(first), { schema: first, created: false });
    const other = schema('urn:test:job', 1, { title: 'second' });
    assert.deepEqual(await store.putSchema(other), { schema: first, created: false });
    assert.deepEqual(await store.getSchema('urn:test:job', 1), first);
    assert.equal(await store.getSchema('urn:test:job', 2), undefined);
    assert.equal(await store.getSchema('urn:test:other', 1), undefined);
  }));

  it('creates exactly one of two bodies registered at once under one key', LIMIT, withStore(async (store) => {
    const bodies = Array.from({ length: 8 }, (_, i) => schema('urn:test:race', 3, { title: `body ${i}` }));
    const results = await Promise.all(bodies.map((body) => store.putSchema(body)));
    assert.equal(results.filter((result) => result.created).length, 1);
    const winner = results.find((result) => result.created)!.schema;
    for (const result of results) assert.deepEqual(result.schema, winner);
    assert.deepEqual(await store.getSchema('urn:test:race', 3), winner);
  }));

  it('lists schemas by id, then numeric version, in pages after a given one', LIMIT, withStore(async (store) => {
    const all = [
      schema('urn:b', 10),
      schema('urn:a:x', 1),
      schema('urn:b', 2),
      schema('urn:a', 7),
      schema('https://example.com/s.json', 1),
    ];
    for (const item of all) await store.putSchema(item);
    const expected = ['https://example.com/s.json@1', 'urn:a@7', 'urn:a:x@1', 'urn:b@2', 'urn:b@10'];
    assert.deepEqual(refs(await store.listSchemas(undefined, 100)), expected);
    assert.deepEqual(refs(await store.listSchemas(undefined, 2)), expected.slice(0, 2));
    assert.deepEqual(refs(await store.listSchemas({ id: 'urn:a', version: 7 }, 2)), expected.slice(2, 4));
    assert.deepEqual(refs(await store.listSchemas({ id: 'urn:b', version: 2 }, 10)), expected.slice(4));
    assert.deepEqual(await store.listSchemas({ id: 'urn:b', version: 10 }, 10), []);
    // `after` need not be registered itself.
    assert.deepEqual(refs(await store.listSchemas({ id: 'urn:a', version: 1 }, 1)), ['urn:a@7']);
    const listed = await store.listSchemas(undefined, 100);
    for (const item of listed) assert.deepEqual(item, all.find((one) => one.id === item.id && one.version === item.version));
    assert.deepEqual(await store.listSchemas(undefined, 0), []);
  }));

  it('stores an event\'s schema at the end of its JSON and gives it back on every read', LIMIT, withStore(async (store) => {
    const appended = await store.append('j', [
      { name: 'a', context: { n: 1 }, schema: { id: 'urn:test:a', version: 2 } },
      { name: 'b', context: { schema: { id: 'urn:decoy', version: 9 } } },
      { name: 'c', context: {}, contextJson: '{"x":"}}"}', schema: { id: 'https://example.com/c.json#v', version: 1 } },
    ]);
    const read = await store.read('j', 0, 10);
    assert.deepEqual(read, appended);
    const [a, b, c] = read;
    assert.ok(a!.json.endsWith(`"seq":${a!.seq},"schema":{"id":"urn:test:a","version":2}}`), a!.json);
    assert.deepEqual(JSON.parse(a!.json), { name: 'a', timestamp: a!.timestamp, context: { n: 1 }, seq: a!.seq, schema: { id: 'urn:test:a', version: 2 } });
    assert.equal(schemaIdOf(a!.json), 'urn:test:a');
    assert.deepEqual(Object.keys(JSON.parse(b!.json) as object), ['name', 'timestamp', 'context', 'seq']);
    assert.equal(schemaIdOf(b!.json), undefined, 'a context that holds a "schema" member names no schema');
    assert.equal(schemaIdOf(c!.json), 'https://example.com/c.json#v');
    assert.deepEqual((JSON.parse(c!.json) as { schema: unknown }).schema, { id: 'https://example.com/c.json#v', version: 1 });
  }));

  it('returns a keyed batch with its schemas when the key is sent again', LIMIT, withStore(async (store) => {
    const batch = [{ name: 'a', context: { n: 1 }, schema: { id: 'urn:test:a', version: 1 } }];
    const first = await store.append('j', batch, { key: 'k1' });
    assert.deepEqual(await store.append('j', batch, { key: 'k1' }), first);
    assert.equal(schemaIdOf(first[0]!.json), 'urn:test:a');
  }));

  if (reopenOf === undefined) return;

  it('keeps registered schemas and events\' schemas across reopen', LIMIT, withStore(async (store, fixture) => {
    const registered = schema('urn:test:durable', 4, { title: 'kept' });
    await store.putSchema(registered);
    const [event] = await store.append('j', [{ name: 'a', context: {}, schema: { id: 'urn:test:durable', version: 4 } }]);
    const reopened = await reopenOf(fixture)();
    assert.deepEqual(await reopened.getSchema('urn:test:durable', 4), registered);
    assert.deepEqual(refs(await reopened.listSchemas(undefined, 10)), ['urn:test:durable@4']);
    assert.deepEqual(await reopened.putSchema(schema('urn:test:durable', 4, { title: 'other' })), { schema: registered, created: false });
    assert.deepEqual(await reopened.read('j', 0, 10), [event]);
  }));
}
