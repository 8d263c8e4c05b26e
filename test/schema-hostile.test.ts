/**
 * Schemas are data from clients: a hostile one is refused, or bounded, and never holds the
 * event loop. Each test checks that a bystander's plain append is answered while the hostile
 * work is still running (it runs in a worker thread), and that the server works afterwards.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ErrorCode, JournalError } from '../src/errors.js';
import { Harness, readAll } from './harness.js';
import { within } from './helpers.js';

/** Settles to the error's code (or 'ok'), and says whether it has settled yet. */
function track(promise: Promise<unknown>): { settled: () => boolean; outcome: Promise<string> } {
  let done = false;
  const outcome = promise.then(
    () => 'ok',
    (error: unknown) => (error instanceof JournalError ? error.code : String(error)),
  );
  void outcome.finally(() => (done = true));
  return { settled: () => done, outcome };
}

/** A schema of `count` properties, each an object with constraints: about 130 bytes of JSON each. */
function wideSchema(count: number): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    properties[`p${i}`] = {
      type: 'object',
      properties: { a: { type: 'string', maxLength: 10 }, b: { type: 'integer', minimum: 0 } },
      required: ['a'],
    };
  }
  return { $id: 'urn:hostile:wide', version: 1, type: 'object', properties };
}

describe('hostile schemas', () => {
  it('refuses a schema larger than maxSchemaSize, and one that takes too long to compile, without holding the event loop', async (t) => {
    const harness = await Harness.start(t, { maxSchemaSize: 256 * 1024, schemaCompileTimeout: 0.3 });
    const producer = harness.producer('j');
    const tooLarge = await within(
      producer.registerSchema(wideSchema(3000)).then(() => 'ok', (error: JournalError) => error.message),
      5000,
      'the refusal of a huge schema',
    );
    assert.match(tooLarge, /bytes as JSON; at most 262144/);
    // Within the size limit, but seconds of compiling: the worker is stopped at the deadline.
    const slow = track(producer.registerSchema(wideSchema(1500)));
    await harness.producer('bystander').append('plain', { n: 1 });
    assert.equal(slow.settled(), false, 'the bystander was answered while the schema compiled');
    assert.equal(await within(slow.outcome, 10_000, 'the slow schema to be refused'), ErrorCode.INVALID_SCHEMA);
    assert.deepEqual((await producer.listSchemas()).schemas, []);
    // The pool goes on with a new worker.
    await producer.registerSchema({ $id: 'urn:ok', version: 1, properties: { n: { type: 'integer' } } });
    await producer.append('n', { n: 1 }, { schema: { id: 'urn:ok', version: 1 } });
  });

  it('refuses a deeply nested schema with INVALID_SCHEMA', async (t) => {
    const harness = await Harness.start(t);
    const producer = harness.producer('j');
    let inner: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 40; i++) inner = { type: 'object', properties: { a: inner } };
    const error = await producer.registerSchema({ $id: 'urn:hostile:deep', version: 1, properties: { a: inner } }).then(
      () => undefined,
      (caught: JournalError) => caught,
    );
    assert.equal(error?.code, ErrorCode.INVALID_SCHEMA);
    assert.match(error!.message, /nested deeper than 32 levels/);
    // Deeper than JSON.stringify goes: written by hand, and sent as it is.
    const depth = 100_000;
    const deep = '{"not":'.repeat(depth) + '{}' + '}'.repeat(depth);
    const raw = await harness.raw();
    raw.send(`{"type":"register","id":1,"schema":{"$id":"urn:hostile:deeper","version":1,"properties":{"a":${deep}}}}`);
    const reply = await raw.next(10_000);
    assert.equal(reply['code'], ErrorCode.INVALID_SCHEMA, JSON.stringify(reply).slice(0, 200));
    assert.match(String(reply['message']), /nested deeper than 32 levels/);
    let fine: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 10; i++) fine = { type: 'object', properties: { a: fine } };
    await producer.registerSchema({ $id: 'urn:fine:deep', version: 1, properties: { a: fine } });
  });

  it('refuses references outside the schema, and fetches nothing', async (t) => {
    let requests = 0;
    const http = createServer((_req, res) => {
      requests++;
      res.end(JSON.stringify({ type: 'string' }));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => http.close(() => resolve())));
    const remote = `http://127.0.0.1:${(http.address() as AddressInfo).port}/schema.json`;
    const harness = await Harness.start(t);
    const producer = harness.producer('j');
    const refs = [
      { $ref: remote },
      { $ref: 'http://json-schema.org/draft-07/schema#' },
      { $ref: 'urn:test:job' },
      { $ref: `${remote}#/definitions/x` },
      { items: [{ $ref: remote }] },
      { $dynamicRef: remote },
    ];
    for (const [version, property] of refs.entries()) {
      await assert.rejects(
        producer.registerSchema({ $id: 'urn:hostile:ref', version: version + 1, properties: { a: property } }),
        (error: JournalError) => error.code === ErrorCode.INVALID_SCHEMA && /only references inside the schema/.test(error.message),
        JSON.stringify(property),
      );
    }
    assert.equal(requests, 0, 'the server fetched a schema');
    await producer.registerSchema({
      $id: 'urn:local:ref',
      version: 1,
      properties: { a: { $ref: '#/definitions/s' } },
      definitions: { s: { type: 'string' } },
    });
    await producer.append('a', { a: 'x' }, { schema: { id: 'urn:local:ref', version: 1 } });
    await assert.rejects(producer.append('a', { a: 1 }, { schema: { id: 'urn:local:ref', version: 1 } }), { code: ErrorCode.SCHEMA_VIOLATION });
  });

  it('runs a catastrophic pattern in linear time: a long non-matching string is refused at once', async (t) => {
    const harness = await Harness.start(t);
    const producer = harness.producer('j');
    const schema = {
      $id: 'urn:hostile:redos',
      version: 1,
      properties: { s: { type: 'string', pattern: '^(a+)+$' } },
      patternProperties: { '^(x|x)*y$': { type: 'integer' } },
    };
    await producer.registerSchema(schema);
    const ref = { id: 'urn:hostile:redos', version: 1 };
    await producer.append('ok', { s: 'aaaa' }, { schema: ref });
    // A backtracking engine takes longer than the age of the universe on each of these.
    const error = await within(
      producer.append('evil', { s: `${'a'.repeat(30_000)}!` }, { schema: ref }).then(() => undefined, (caught: JournalError) => caught),
      5000,
      'the refusal of a catastrophic-pattern string',
    );
    assert.equal(error?.code, ErrorCode.SCHEMA_VIOLATION);
    assert.equal(error!.details![0]!.path, '/s');
    const key = await within(
      producer.append('evil', { [`${'x'.repeat(30_000)}z`]: 'not an integer' }, { schema: ref }).then(() => 'ok', (caught: JournalError) => caught.code),
      5000,
      'a catastrophic key',
    );
    assert.equal(key, 'ok', 'a key the pattern does not match is not checked against it');
    assert.equal((await readAll(harness.server.store, 'j')).length, 2);
  });

  it('refuses a pattern the linear-time engine cannot run (lookaround, backreference)', async (t) => {
    const harness = await Harness.start(t);
    for (const pattern of ['^(?=a)', '(?<!a)b', '(a)\\1']) {
      await assert.rejects(
        harness.producer('j').registerSchema({ $id: 'urn:hostile:lookaround', version: 1, properties: { s: { type: 'string', pattern } } }),
        (error: JournalError) => error.code === ErrorCode.INVALID_SCHEMA && /the validator refuses the schema/.test(error.message),
        pattern,
      );
    }
  });

  it('stops a validation of exponential cost at its deadline, refusing the batch, while bystanders go on', async (t) => {
    const harness = await Harness.start(t, { schemaValidationTimeout: 0.5 });
    const producer = harness.producer('j');
    // Each level tries both branches in full before `required` fails them: 2^depth steps.
    const branch = (missing: string) => ({ allOf: [{ properties: { a: { $ref: '#/definitions/n' } } }, { required: [missing] }] });
    await producer.registerSchema({
      $id: 'urn:hostile:exponential',
      version: 1,
      properties: { x: { $ref: '#/definitions/n' } },
      definitions: { n: { anyOf: [{ type: 'string' }, branch('z'), branch('y')] } },
    });
    const ref = { id: 'urn:hostile:exponential', version: 1 };
    let nested: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) nested = { a: nested };
    await producer.append('shallow', { x: 'leaf' }, { schema: ref });
    const hostile = track(producer.append('deep', { x: nested }, { schema: ref }));
    await harness.producer('bystander').append('plain', { n: 1 });
    assert.equal(hostile.settled(), false, 'the bystander was answered while the validation ran');
    assert.equal(await within(hostile.outcome, 10_000, 'the deadline'), ErrorCode.SCHEMA_VIOLATION);
    // A new worker takes the next batch.
    await producer.append('shallow', { x: 'leaf' }, { schema: ref });
    assert.deepEqual((await readAll(harness.server.store, 'j')).map((event) => event.name), ['shallow', 'shallow']);
  });
});
