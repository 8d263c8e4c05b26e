/**
 * The Forwarder (SPEC section 8): every event to every handler in order, retries with
 * backoff against a webhook that fails, times out or is down, the refusal policy (stop and
 * report, or a dead-letter journal), and the durable checkpoint (written before 'end',
 * moved only past what every handler took, resumed from after a restart).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { FileHandler } from '../src/forward/file-handler.js';
import { Forwarder, type ForwarderOptions } from '../src/forward/forwarder.js';
import type { EventHandler } from '../src/forward/handler.js';
import { JournalHandler } from '../src/forward/journal-handler.js';
import { WebhookHandler } from '../src/forward/webhook-handler.js';
import type { JournalEvent } from '../src/journal-event.js';
import { Harness, range, readAll } from './harness.js';
import { once, Signal, within } from './helpers.js';
import { WebhookReceiver } from './fixtures/webhook-receiver.js';

const J = 'jobs';
const FAST = { retryDelay: 0.01, maxRetryDelay: 0.05 };

async function scratch(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wsjournal-forward-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function receiverFor(t: TestContext): Promise<WebhookReceiver> {
  const receiver = await WebhookReceiver.start();
  t.after(() => receiver.close());
  return receiver;
}

async function append(h: Harness, from: number, to: number, journal = J): Promise<void> {
  const producer = h.producer(journal);
  for (let n = from; n <= to; n += 100) {
    await producer.appendMany(range(n, Math.min(to, n + 99)).map((i) => ({ name: 'job', context: { n: i } })));
  }
}

function forwarder(h: Harness, t: TestContext, options: ForwarderOptions, journal = J): Forwarder {
  const made = h.track(new Forwarder(h.url, journal, { ...FAST, ...options }));
  t.after(() => made.close());
  return made;
}

/** A handler that records what it is given, and whose sends wait while `gate` is closed. */
class Recorder implements EventHandler {
  readonly name = 'recorder';
  readonly seqs: number[] = [];
  readonly changed = new Signal();
  gate: Promise<void> = Promise.resolve();

  async send(event: JournalEvent): Promise<void> {
    await this.gate;
    this.seqs.push(event.seq!);
    this.changed.notify();
  }

  encodeConfig(): string {
    return '';
  }
}

/** Resolves once every handler of `fwd` has taken the event `seq`. */
async function untilPosition(fwd: Forwarder, seq: number): Promise<void> {
  if ((fwd.position?.seq ?? 0) >= seq) return;
  let listener!: (position: { seq: number }) => void;
  const reached = new Promise<void>((resolve) => {
    listener = (position) => {
      if (position.seq >= seq) resolve();
    };
    fwd.on('forwarded', listener);
  });
  await within(reached, 5000, `the forwarder's position to reach ${seq}`).finally(() => fwd.off('forwarded', listener));
}

const storedSeqs = (receiver: WebhookReceiver) => receiver.stored.map((body) => body['seq'] as number);
const checkpointOf = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as { journal: string; seq: number; timestamp: number };

describe('Forwarder', () => {
  it('gets every event to a webhook that fails, times out and answers 500 then 200: in order, each stored once', async (t) => {
    const h = await Harness.start(t);
    const receiver = await receiverFor(t);
    const dir = await scratch(t);
    await append(h, 1, 40);
    // Request by request: 500 three times, a hang (timeout) once, then 500 and 200 in turns for a while.
    receiver.answer = (_request, index) => (index < 3 ? 500 : index === 3 ? 'hang' : index < 30 ? (index % 2 === 0 ? 500 : 200) : 200);
    const errors: string[] = [];
    const fwd = forwarder(h, t, { handlers: [new WebhookHandler(receiver.url, { timeout: 0.2 })], checkpoint: join(dir, 'cp.json') });
    fwd.on('error', (error) => errors.push(`${(error as { code?: string }).code} ${error.message}`));
    fwd.start();
    await receiver.changed.until(() => receiver.stored.length === 40, 10_000, '40 events at the receiver');
    await append(h, 41, 60);
    await receiver.changed.until(() => receiver.stored.length === 60, 10_000, '60 events at the receiver');
    assert.deepEqual(storedSeqs(receiver), range(1, 60));
    assert.deepEqual(receiver.storedKeys, range(1, 60).map((seq) => `${J}:${seq}`));
    assert.ok(receiver.requests.length > 60, 'failed requests were sent again');
    assert.ok(errors.some((line) => /^HANDLER_FAILED .*jobs:1 \(attempt 3\): .*HTTP 500/.test(line)), errors.join('\n'));
    assert.ok(errors.some((line) => /no answer within 0\.2 s/.test(line)), 'the timeout was reported');
    // The receiver has the last event a moment before the forwarder hears its answer.
    await untilPosition(fwd, 60);
    const ended = once(fwd, 'end');
    fwd.stop();
    await ended;
    assert.deepEqual(checkpointOf(join(dir, 'cp.json')), { journal: J, seq: 60, timestamp: fwd.position!.timestamp });
  });

  it('retries a webhook that is down until it is up, never skipping an event', async (t) => {
    const h = await Harness.start(t);
    await append(h, 1, 5);
    const receiver = await receiverFor(t);
    const url = receiver.url;
    await receiver.close();
    const failures = new Signal();
    let failed = 0;
    const fwd = forwarder(h, t, { handlers: [new WebhookHandler(url)] });
    fwd.on('error', () => {
      failed++;
      failures.notify();
    });
    fwd.start();
    await failures.until(() => failed >= 3, 5000, 'three failed attempts');
    assert.equal(fwd.position, undefined, 'nothing passed while the receiver is down');
    // Up again on the same port.
    const { createServer } = await import('node:http');
    const seen: number[] = [];
    const arrived = new Signal();
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push((JSON.parse(body) as { seq: number }).seq);
        res.writeHead(200).end();
        arrived.notify();
      });
    });
    await new Promise<void>((resolve) => server.listen(Number(new URL(url).port), '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await arrived.until(() => seen.length >= 5, 5000, 'five events once the receiver is up');
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    server.closeAllConnections();
  });

  it('by default, stops at an event refused for good, reports it, keeps its checkpoint before it, and goes on from it after a restart', async (t) => {
    const h = await Harness.start(t);
    const receiver = await receiverFor(t);
    const dir = await scratch(t);
    const checkpoint = join(dir, 'cp.json');
    await append(h, 1, 8);
    receiver.answer = (request) => (request.body['seq'] === 4 ? 422 : 200);
    const errors: Error[] = [];
    const fwd = forwarder(h, t, { handlers: [new WebhookHandler(receiver.url)], checkpoint });
    fwd.on('error', (error) => errors.push(error));
    const ended = once(fwd, 'end');
    fwd.start();
    await ended;
    assert.deepEqual(storedSeqs(receiver), [1, 2, 3]);
    assert.equal(fwd.failure?.code, 'EVENT_REFUSED');
    assert.match(fwd.failure!.message, /webhook handler refused jobs:4 for good \(.*HTTP 422.*\); the forwarder stops before it/);
    assert.ok(errors.includes(fwd.failure!));
    assert.deepEqual(checkpointOf(checkpoint).seq, 3);
    assert.equal(receiver.requests.filter((request) => request.body['seq'] === 4).length, 1, 'a refusal is not retried');

    receiver.answer = () => 200;
    const again = forwarder(h, t, { handlers: [new WebhookHandler(receiver.url)], checkpoint }).start();
    await receiver.changed.until(() => receiver.stored.length === 8, 5000, 'the rest after the restart');
    assert.deepEqual(storedSeqs(receiver), range(1, 8));
    await again.close();
  });

  it('with deadLetter, records an event refused for good in that journal and goes on', async (t) => {
    const h = await Harness.start(t);
    const receiver = await receiverFor(t);
    await append(h, 1, 6);
    receiver.answer = (request) => (request.body['seq'] === 3 || request.body['seq'] === 8 ? 400 : 200);
    const refusals: string[] = [];
    const fwd = forwarder(h, t, { handlers: [new WebhookHandler(receiver.url)], deadLetter: 'jobs.dead' });
    fwd.on('error', (error) => refusals.push(error.message));
    fwd.start();
    await receiver.changed.until(() => receiver.stored.length === 5, 5000, 'the five events accepted');
    await append(h, 7, 9);
    await receiver.changed.until(() => receiver.stored.length === 7, 5000, 'the live events accepted');
    assert.deepEqual(storedSeqs(receiver), [1, 2, 4, 5, 6, 7, 9]);
    await fwd.close();
    const dead = (await readAll(h.server.store, 'jobs.dead')).map((entry) => JSON.parse(entry.json) as { name: string; context: Record<string, unknown> });
    assert.deepEqual(dead.map((entry) => entry.name), ['refused', 'refused']);
    assert.deepEqual(dead.map((entry) => [entry.context['handler'], entry.context['journal'], entry.context['seq']]), [['webhook', J, 3], ['webhook', J, 8]]);
    assert.equal((dead[0]!.context['error'] as { code: string }).code, 'EVENT_REFUSED');
    assert.deepEqual((dead[0]!.context['event'] as { context: unknown }).context, { n: 3 });
    assert.ok(refusals.some((line) => /refused jobs:3 .*recorded in jobs\.dead/.test(line)));
    assert.equal(fwd.failure, undefined);
  });

  it('gives every handler every event in order, and moves the checkpoint only past what all of them took', async (t) => {
    const h = await Harness.start(t);
    const dir = await scratch(t);
    const checkpoint = join(dir, 'cp.json');
    await append(h, 1, 20);
    const fast = new Recorder();
    const slow = new Recorder();
    let open!: () => void;
    slow.gate = new Promise((resolve) => (open = resolve));
    const fwd = forwarder(h, t, { handlers: [fast, slow, new FileHandler(join(dir, 'out.jsonl'))], checkpoint, checkpointInterval: 0.01 }).start();
    await fast.changed.until(() => fast.seqs.length === 20, 5000, 'the fast handler');
    assert.deepEqual(slow.seqs, []);
    assert.equal(fwd.position, undefined);
    await assert.rejects(readFile(checkpoint), { code: 'ENOENT' }, 'no checkpoint while one handler has nothing');
    open();
    await slow.changed.until(() => slow.seqs.length === 20, 5000, 'the slow handler');
    await untilPosition(fwd, 20);
    assert.deepEqual(fast.seqs, range(1, 20));
    assert.deepEqual(slow.seqs, range(1, 20));
    // stop() writes the checkpoint before 'end'.
    let atEnd: unknown;
    fwd.once('end', () => (atEnd = checkpointOf(checkpoint)));
    const ended = once(fwd, 'end');
    fwd.stop();
    await ended;
    assert.deepEqual(atEnd, { journal: J, seq: 20, timestamp: fwd.position!.timestamp });
    const lines = (await readFile(join(dir, 'out.jsonl'), 'utf8')).trim().split('\n');
    assert.deepEqual(lines.map((line) => (JSON.parse(line) as { seq: number }).seq), range(1, 20));
  });

  it('goes on after a restart from its checkpoint: a file gets each event once, a journal handler stores a resend once', async (t) => {
    const h = await Harness.start(t);
    const target = await Harness.start(t);
    const dir = await scratch(t);
    const checkpoint = join(dir, 'cp.json');
    const file = join(dir, 'out.jsonl');
    await append(h, 1, 50);
    const first = forwarder(h, t, { handlers: [new FileHandler(file), new JournalHandler(target.url, 'copy')], checkpoint }).start();
    await untilPosition(first, 50);
    await first.close();
    assert.equal(checkpointOf(checkpoint).seq, 50);
    await append(h, 51, 80);
    const second = forwarder(h, t, { handlers: [new FileHandler(file), new JournalHandler(target.url, 'copy')], checkpoint }).start();
    assert.equal(second.since, checkpointOf(checkpoint).timestamp);
    await untilPosition(second, 80);
    await second.close();
    const seqs = (await readFile(file, 'utf8')).trim().split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq);
    assert.deepEqual(seqs, range(1, 80));

    // A crash after the checkpoint at 30: the events after it are sent again.
    const source = (await readAll(h.server.store, J))[29]!;
    await writeFile(checkpoint, JSON.stringify({ journal: J, seq: 30, timestamp: source.timestamp }));
    const third = forwarder(h, t, { handlers: [new JournalHandler(target.url, 'copy')], checkpoint }).start();
    await untilPosition(third, 80);
    await third.close();
    const copied = await readAll(target.server.store, 'copy');
    assert.deepEqual(copied.map((entry) => (JSON.parse(entry.json) as { context: { n: number } }).context.n), range(1, 80), 'each event stored once');
  });

  it('refuses a checkpoint of another journal or one that is not a checkpoint, and bad options, naming them', async (t) => {
    const h = await Harness.start(t);
    const dir = await scratch(t);
    const handlers = [new Recorder()];
    await writeFile(join(dir, 'other.json'), JSON.stringify({ journal: 'other', seq: 1, timestamp: 1 }));
    await writeFile(join(dir, 'junk.json'), '{"journal":');
    await writeFile(join(dir, 'empty.json'), '{}');
    const invalid = (file: string, message: RegExp) =>
      assert.throws(() => new Forwarder(h.url, J, { handlers, checkpoint: join(dir, file) }), (error: unknown) => (error as { code?: string }).code === 'INVALID_CHECKPOINT' && message.test((error as Error).message));
    invalid('other.json', /is for journal "other", not "jobs"/);
    invalid('junk.json', /is not JSON/);
    invalid('empty.json', /holds no position/);
    assert.throws(() => new Forwarder(h.url, J, { handlers: [] }), /options\.handlers must be a non-empty array/);
    assert.throws(() => new Forwarder(h.url, J, { handlers: [{} as EventHandler] }), /options\.handlers\[0\] is not a handler/);
    assert.throws(() => new Forwarder(h.url, J, { handlers, retryDelay: -1 }), RangeError);
    assert.throws(() => new Forwarder(h.url, J, { handlers, deadLetter: 'bad name' }), /options\.deadLetter/);
    assert.throws(() => new Forwarder(h.url, J, { handlers, bogus: 1 } as never), /options\.bogus is not a known option/);
    assert.throws(() => new Forwarder(h.url, J, undefined as never), /options must be an object/);
  });
});
