/**
 * Event handlers (SPEC section 8): the registry, e3's `name=config|name2=config`
 * environment form (also as another process reads it), and the built-in `file`, `stdout`,
 * `webhook` and `journal` handlers, each against the real thing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { FileHandler } from '../src/forward/file-handler.js';
import type { EventHandler } from '../src/forward/handler.js';
import { JournalHandler } from '../src/forward/journal-handler.js';
import { createHandler, handlerConfigAsEnv, handlerNames, loadHandlersFromEnv, parseHandlers, registerHandler } from '../src/forward/registry.js';
import { StdoutHandler } from '../src/forward/stdout-handler.js';
import { WebhookHandler } from '../src/forward/webhook-handler.js';
import { JournalEvent } from '../src/journal-event.js';
import { Harness, readAll } from './harness.js';
import { WebhookReceiver } from './fixtures/webhook-receiver.js';

const run = promisify(execFile);
const INDEX = new URL('../src/index.js', import.meta.url).href;
const event = (seq: number, name = 'job', context: Record<string, unknown> = { n: seq }) => new JournalEvent({ name, context, seq, timestamp: 1700000000 + seq / 1000 });

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: unknown }).code, code, String(error));
    if (message) assert.match((error as Error).message, message);
    return true;
  });
}

describe('handler registry and the environment form', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wsjournal-handlers-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('makes the built-in handlers by name, each named so, and back from its encodeConfig()', () => {
    assert.deepEqual(handlerNames().slice(0, 4), ['file', 'webhook', 'stdout', 'journal']);
    const configs: [string, string][] = [
      ['file', join(dir, 'a.jsonl')],
      ['webhook', 'http://127.0.0.1:9/hook?x=1&y=a=b'],
      ['stdout', ''],
      ['stdout', 'text'],
      ['journal', 'copy@ws://127.0.0.1:9'],
    ];
    for (const [name, config] of configs) {
      const handler = createHandler(name, config);
      assert.equal(handler.name, name);
      assert.equal(handler.encodeConfig(), config);
      assert.equal(createHandler(name, handler.encodeConfig()).encodeConfig(), config);
    }
  });

  it('refuses an unknown name or a bad configuration with INVALID_HANDLER, naming it', () => {
    const invalid = (fn: () => unknown, message: RegExp) =>
      assert.throws(fn, (error: unknown) => (error as { code?: string }).code === 'INVALID_HANDLER' && message.test((error as Error).message));
    invalid(() => createHandler('syslog', 'x'), /no handler is registered as "syslog"/);
    invalid(() => createHandler('constructor'), /no handler is registered as "constructor"/);
    invalid(() => createHandler('webhook', 'not a url'), /webhook=not a url: .*http/);
    invalid(() => createHandler('webhook', 'ftp://h/x'), /http:\/\/ or https:\/\//);
    invalid(() => createHandler('file', ''), /file=: the file handler needs a path/);
    invalid(() => createHandler('journal', 'ws://h:1'), /JOURNAL@URL/);
    invalid(() => createHandler('journal', 'bad name@ws://h:1'), /journal must be a string matching/);
    invalid(() => createHandler('stdout', 'yaml'), /json or text/);
    invalid(() => parseHandlers('stdout|nope=1'), /"nope"/);
    assert.throws(() => registerHandler('bad=name', () => new StdoutHandler()), TypeError);
    assert.throws(() => registerHandler('ok', 'no' as never), TypeError);
    registerHandler('liar', () => new StdoutHandler());
    invalid(() => createHandler('liar'), /made no handler named so/);
  });

  it("reads e3's name=config|name2=config form from a variable, the config being all after the first =", () => {
    process.env['WSJOURNAL_TEST_HANDLERS'] = `file=${join(dir, 'a.jsonl')}|webhook=http://127.0.0.1:9/x?a=b&c=d|stdout||`;
    const handlers = loadHandlersFromEnv('WSJOURNAL_TEST_HANDLERS');
    assert.deepEqual(handlers.map((handler) => [handler.name, handler.encodeConfig()]), [
      ['file', join(dir, 'a.jsonl')],
      ['webhook', 'http://127.0.0.1:9/x?a=b&c=d'],
      ['stdout', ''],
    ]);
    delete process.env['WSJOURNAL_TEST_HANDLERS'];
    assert.deepEqual(loadHandlersFromEnv('WSJOURNAL_TEST_HANDLERS'), []);
    process.env['WSJOURNAL_TEST_HANDLERS'] = 'stdout|teapot=1';
    assert.throws(() => loadHandlersFromEnv('WSJOURNAL_TEST_HANDLERS'), /WSJOURNAL_TEST_HANDLERS: no handler is registered as "teapot"/);
    delete process.env['WSJOURNAL_TEST_HANDLERS'];
  });

  it('writes the handlers to the variable, returns its value, and another process makes the same handlers from it', async () => {
    class Custom implements EventHandler {
      readonly name = 'custom';
      constructor(readonly config: string) {}
      async send(): Promise<void> {}
      encodeConfig(): string {
        return this.config;
      }
    }
    registerHandler('custom', (config) => new Custom(config));
    const handlers = [new FileHandler(join(dir, 'b.jsonl')), new WebhookHandler('https://example.com/a?b=c'), new StdoutHandler('text'), new Custom('x=y')];
    const value = handlerConfigAsEnv(handlers, 'WSJOURNAL_TEST_SHARED');
    assert.equal(value, `file=${join(dir, 'b.jsonl')}|webhook=https://example.com/a?b=c|stdout=text|custom=x=y`);
    assert.equal(process.env['WSJOURNAL_TEST_SHARED'], value);
    assert.deepEqual(loadHandlersFromEnv('WSJOURNAL_TEST_SHARED').map((handler) => handler.encodeConfig()), handlers.map((handler) => handler.encodeConfig()));
    assert.equal(handlerConfigAsEnv([new StdoutHandler()]), 'stdout');
    assert.equal(process.env['WSJOURNAL_HANDLERS'], 'stdout');
    delete process.env['WSJOURNAL_HANDLERS'];
    // The child inherits the variable; the built-in handlers come back in it (the custom one is this process's).
    const child = await run(process.execPath, [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(INDEX)}); process.env.WSJOURNAL_TEST_SHARED = process.env.WSJOURNAL_TEST_SHARED.replace('|custom=x=y', ''); console.log(JSON.stringify(m.loadHandlersFromEnv('WSJOURNAL_TEST_SHARED').map((h) => [h.name, h.encodeConfig()])));`,
    ]);
    assert.deepEqual(JSON.parse(child.stdout), handlers.slice(0, 3).map((handler) => [handler.name, handler.encodeConfig()]));
    delete process.env['WSJOURNAL_TEST_SHARED'];
    assert.throws(() => handlerConfigAsEnv([new Custom('a|b')], 'WSJOURNAL_TEST_SHARED'), RangeError);
  });
});

describe('built-in handlers', () => {
  let dir: string;
  let receiver: WebhookReceiver;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wsjournal-handlers-'));
    receiver = await WebhookReceiver.start();
  });
  after(async () => {
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('file: appends one JSON line per event, never truncating, after a newline if the last line was torn', async () => {
    const path = join(dir, 'events.jsonl');
    await writeFile(path, '{"kept":true}\n{"torn":');
    const handler = new FileHandler(path);
    await handler.send(event(1));
    await handler.sendBatch([event(2), event(3, 'other', { nested: { a: [1, 'x'] } })]);
    await handler.flush();
    await handler.close();
    const again = new FileHandler(path);
    await again.send(event(4));
    await again.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    assert.deepEqual(lines.slice(0, 2), ['{"kept":true}', '{"torn":']);
    assert.deepEqual(lines.slice(2, 6).map((line) => JSON.parse(line) as unknown), [1, 2, 3, 4].map((seq) => (seq === 3 ? event(3, 'other', { nested: { a: [1, 'x'] } }) : event(seq)).toJSON()));
    assert.equal(lines[2], JSON.stringify(event(1)));
    assert.equal(lines.at(-1), '', 'the file ends with a newline');
  });

  it('stdout: one JSON line per event, or toString() with stdout=text', async () => {
    const child = await run(process.execPath, [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(INDEX)});
       const e = (seq) => new m.JournalEvent({ name: 'job', context: { n: seq }, seq, timestamp: 1700000000.5 });
       await new m.StdoutHandler().send(e(1));
       await new m.StdoutHandler('text').sendBatch([e(2), e(3)]);`,
    ]);
    assert.deepEqual(child.stdout.split('\n'), ['{"timestamp":1700000000.5,"context":{"n":1},"name":"job","seq":1}', '1700000000.50000 job n=2', '1700000000.50000 job n=3', '']);
  });

  it('webhook: POSTs the event as JSON with Idempotency-Key journal:seq; 2xx takes it', async () => {
    receiver.answer = () => 201;
    const handler = new WebhookHandler(receiver.url, { headers: { authorization: 'Bearer s3cret' } });
    await handler.send(event(7), { journal: 'jobs' });
    await handler.send(event(8));
    const [first, second] = receiver.requests.slice(-2);
    assert.equal(first!.key, 'jobs:7');
    assert.equal(first!.contentType, 'application/json');
    assert.deepEqual(first!.body, event(7).toJSON());
    assert.equal(second!.key, undefined, 'no key without the journal');
    const long = 'j'.repeat(128);
    await handler.send(event(9), { journal: long });
    assert.match(receiver.requests.at(-1)!.key!, /^#[0-9a-f]{16}:9$/, 'a key fits in 128 characters');
  });

  it('webhook: 408, 429, 5xx, no answer and no server fail for now; other 4xx and 3xx refuse for good', async () => {
    const handler = new WebhookHandler(receiver.url, { timeout: 0.3 });
    for (const status of [408, 429, 500, 503]) {
      receiver.answer = () => status;
      await rejectsWith(handler.send(event(1), { journal: 'j' }), 'HANDLER_FAILED', new RegExp(`HTTP ${status}`));
    }
    for (const status of [400, 401, 403, 404, 409, 410, 413, 422, 302]) {
      receiver.answer = () => status;
      await rejectsWith(handler.send(event(1), { journal: 'j' }), 'EVENT_REFUSED', new RegExp(`HTTP ${status}`));
    }
    receiver.answer = () => 'hang';
    await rejectsWith(handler.send(event(1), { journal: 'j' }), 'HANDLER_FAILED', /no answer within 0\.3 s/);
    await rejectsWith(new WebhookHandler('http://127.0.0.1:9/closed').send(event(1)), 'HANDLER_FAILED', /ECONNREFUSED|fetch failed/);
    const controller = new AbortController();
    const pending = handler.send(event(1), { journal: 'j', signal: controller.signal });
    controller.abort(new Error('stopping'));
    await assert.rejects(pending, /stopping/);
    receiver.answer = () => 200;
    assert.throws(() => new WebhookHandler(receiver.url, { timeout: 0 }), RangeError);
  });

  it('journal: appends each event to another server keyed journal:seq, so a resend is stored once; refusals are for good', async (t) => {
    const target = await Harness.start(t, { maxEventSize: 200 });
    const handler = new JournalHandler(target.url, 'copy');
    t.after(() => handler.close());
    await handler.send(event(1), { journal: 'jobs' });
    await handler.sendBatch([event(2), event(3), event(4)], { journal: 'jobs' });
    await handler.sendBatch([event(3), event(4), event(5)], { journal: 'jobs' });
    const stored = await readAll(target.server.store, 'copy');
    assert.deepEqual(stored.map((entry) => JSON.parse(entry.json).context), [1, 2, 3, 4, 5].map((n) => ({ n })));
    assert.deepEqual(stored.map((entry) => entry.name), ['job', 'job', 'job', 'job', 'job']);
    await rejectsWith(handler.send(event(6, 'big', { text: 'x'.repeat(500) }), { journal: 'jobs' }), 'EVENT_REFUSED', /EVENT_TOO_LARGE/);
    assert.equal(handler.encodeConfig(), `copy@${target.url}`);
  });
});
