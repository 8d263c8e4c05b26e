/**
 * Runs from a producer (SPEC section 8): `startRun`, `Run.append` with `run` and `seq_num`,
 * `Run.attach`, `Run.stop`, and runs ended by `withRun` (resolving and throwing) and by
 * leaving an `await using` block, read back from the server's store.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { JournalProducer } from '../src/journal-producer.js';
import { MAX_RUN_ATTACHMENTS, Run } from '../src/routing/run.js';
import { Harness, readAll } from './harness.js';

interface Entry {
  name: string;
  seq: number;
  timestamp: number;
  context: Record<string, unknown>;
}

async function entries(h: Harness, journal: string): Promise<Entry[]> {
  return (await readAll(h.server.store, journal)).map((event) => JSON.parse(event.json) as Entry);
}

async function setup(t: Parameters<typeof Harness.start>[0], journal = 'runs'): Promise<{ h: Harness; producer: JournalProducer }> {
  const h = await Harness.start(t);
  return { h, producer: h.producer(journal) };
}

describe('runs from a producer', () => {
  it('appends start with a new run id, events with run and seq_num, and stop with exit_status, reason, num_events and duration', async (t) => {
    const { h, producer } = await setup(t);
    const run = await producer.startRun({ plan: 'scan', sample: 'Fe' });
    assert.match(run.id, /^[0-9a-f-]{36}$/);
    await run.append('descriptor', { descriptor: 'primary', keys: ['motor'] });
    await run.append('event', { descriptor: 'primary', motor: 1.5 });
    const other = await producer.startRun();
    await other.append('event', { motor: 9 });
    await run.append('event', { descriptor: 'primary', motor: 2.5, run: 'ignored', seq_num: 'ignored' });
    const stopped = await run.stop({ exitStatus: 'abort', reason: 'operator' });
    await other.stop();
    const all = await entries(h, 'runs');
    const mine = all.filter((entry) => entry.context['run'] === run.id);
    assert.deepEqual(mine.map((entry) => entry.name), ['start', 'descriptor', 'event', 'event', 'stop']);
    assert.deepEqual(mine[0]!.context, { plan: 'scan', sample: 'Fe', run: run.id });
    assert.equal(mine[0]!.seq, run.started.seq);
    assert.deepEqual(mine.slice(1, 4).map((entry) => entry.context['seq_num']), [1, 2, 3]);
    assert.deepEqual(mine[3]!.context, { descriptor: 'primary', motor: 2.5, run: run.id, seq_num: 3 });
    const stop = mine[4]!;
    assert.equal(stop.seq, stopped.seq);
    assert.equal(stop.context['exit_status'], 'abort');
    assert.equal(stop.context['reason'], 'operator');
    assert.equal(stop.context['num_events'], 3);
    assert.equal(typeof stop.context['duration'], 'number');
    assert.ok((stop.context['duration'] as number) >= 0 && (stop.context['duration'] as number) < 60);
    assert.equal(stop.context['attachments'], undefined);
    const theirs = all.filter((entry) => entry.context['run'] === other.id);
    assert.deepEqual(theirs.map((entry) => [entry.name, entry.context['seq_num'], entry.context['exit_status']]), [
      ['start', undefined, undefined],
      ['event', 1, undefined],
      ['stop', undefined, 'success'],
    ]);
    assert.equal(theirs[2]!.context['reason'], undefined);
  });

  it("checks a run's event against the schema it names, with run and seq_num in its context", async (t) => {
    const { h, producer } = await setup(t);
    await h.server.registerSchema({ $id: 'urn:test:reading', version: 1, type: 'object', properties: { det: { type: 'integer' }, run: { type: 'string' }, seq_num: { type: 'integer' } }, required: ['det', 'run', 'seq_num'], additionalProperties: false });
    const run = await producer.startRun();
    const schema = { id: 'urn:test:reading', version: 1 };
    await run.append('event', { det: 42 }, { schema });
    await assert.rejects(run.append('event', { det: 'high' }, { schema }), { code: 'SCHEMA_VIOLATION' });
    await assert.rejects(run.append('event', { det: 1 }, { schema: { id: 'urn:test:unknown', version: 1 } }), { code: 'UNKNOWN_SCHEMA' });
    await run.stop();
    const all = await entries(h, 'runs');
    const events = all.filter((entry) => entry.name === 'event') as (Entry & { schema?: unknown })[];
    assert.deepEqual(events.map((entry) => [entry.context, entry.schema]), [[{ det: 42, run: run.id, seq_num: 1 }, schema]]);
    assert.equal(all.at(-1)!.context['num_events'], 1, 'refused events are not counted');
  });

  it('takes the run id from metadata.run when given', async (t) => {
    const { h, producer } = await setup(t);
    const run = await producer.startRun({ run: 'scan-0042' });
    assert.equal(run.id, 'scan-0042');
    await run.stop();
    assert.deepEqual((await entries(h, 'runs')).map((entry) => entry.context['run']), ['scan-0042', 'scan-0042']);
    await assert.rejects(producer.startRun({ run: 42 }), /metadata\.run/);
    await assert.rejects(producer.startRun('x' as never), /metadata must be a plain object/);
  });

  it('waits for appends in flight before the stop, which counts those stored', async (t) => {
    const { h, producer } = await setup(t);
    const run = await producer.startRun();
    const appends = [run.append('event', { n: 1 }), run.append('event', { n: 2 }), run.append('event', { n: 3 })];
    const stopped = await run.stop();
    const results = await Promise.all(appends);
    assert.ok(results.every((result) => result.seq < stopped.seq));
    const stop = (await entries(h, 'runs')).at(-1)!;
    assert.equal(stop.name, 'stop');
    assert.equal(stop.context['num_events'], 3);
  });

  it('refuses appends and attachments after the stop, the run\'s own event names, and a bad exit status', async (t) => {
    const { producer } = await setup(t);
    const run = await producer.startRun();
    await assert.rejects(run.append('start', {}), { code: 'INVALID_EVENT' });
    await assert.rejects(run.append('stop', {}), { code: 'INVALID_EVENT' });
    await assert.rejects(run.append('event', [] as never), { code: 'INVALID_EVENT' });
    await assert.rejects(run.stop({ exitStatus: 'ok' as never }), /options\.exitStatus must be 'success', 'fail' or 'abort'/);
    assert.equal(run.stopped, false, 'a refused stop leaves the run open');
    const first = run.stop();
    assert.equal(run.stop({ exitStatus: 'fail' }), first, 'a second stop returns the first');
    await first;
    assert.equal(run.stopped, true);
    await assert.rejects(run.append('event', {}), { code: 'RUN_STOPPED' });
    await assert.rejects(run.attach('/etc/hostname'), { code: 'RUN_STOPPED' });
  });

  it('records attached files by name, absolute path, size and SHA-1, and sends them with the stop', async (t) => {
    const { h, producer } = await setup(t);
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-attach-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const content = Buffer.from('x,y\n1,2\n'.repeat(10_000));
    await writeFile(join(dir, 'scan.csv'), content);
    await writeFile(join(dir, 'empty.bin'), '');
    const run = await producer.startRun();
    const csv = await run.attach(join(dir, 'scan.csv'));
    assert.deepEqual(csv, { name: 'scan.csv', path: join(dir, 'scan.csv'), size: content.length, sha1: createHash('sha1').update(content).digest('hex') });
    const pending = run.attach(join(dir, 'empty.bin'), 'baseline');
    await assert.rejects(run.attach(join(dir, 'missing.txt')), { code: 'ENOENT' });
    await assert.rejects(run.attach(dir), /is not a regular file/);
    await run.stop();
    assert.equal((await pending).name, 'baseline');
    const stop = (await entries(h, 'runs')).at(-1)!;
    assert.deepEqual(stop.context['attachments'], [csv, { name: 'baseline', path: join(dir, 'empty.bin'), size: 0, sha1: 'da39a3ee5e6b4b0d3255bfef95601890afd80709' }]);
    assert.equal(stop.context['num_events'], 0, 'attachments are not events');
  });

  it(`records at most ${MAX_RUN_ATTACHMENTS} files per run`, async (t) => {
    const { producer } = await setup(t);
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-attach-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'f'), 'x');
    const run = await producer.startRun();
    await Promise.all(Array.from({ length: MAX_RUN_ATTACHMENTS }, (_, i) => run.attach(join(dir, 'f'), `f${i}`)));
    await assert.rejects(run.attach(join(dir, 'f')), RangeError);
    await run.stop();
  });

  it('withRun stops with success and resolves as fn did, or with fail and the error message, rejecting with that error', async (t) => {
    const { h, producer } = await setup(t);
    const value = await producer.withRun({ task: 'good' }, async (run) => {
      assert.ok(run instanceof Run);
      await run.append('step', {});
      return 42;
    });
    assert.equal(value, 42);
    const failure = new Error('detector offline');
    await assert.rejects(producer.withRun({ task: 'bad' }, async (run) => {
      await run.append('step', {});
      throw failure;
    }), (error: unknown) => error === failure);
    await assert.rejects(producer.withRun({ task: 'sync-throw' }, () => {
      throw new TypeError('bad input');
    }), TypeError);
    const stops = (await entries(h, 'runs')).filter((entry) => entry.name === 'stop');
    assert.deepEqual(stops.map((entry) => [entry.context['exit_status'], entry.context['reason'], entry.context['num_events']]), [
      ['success', undefined, 1],
      ['fail', 'detector offline', 1],
      ['fail', 'bad input', 0],
    ]);
    await assert.rejects(producer.withRun({}, 'nope' as never), /fn must be a function/);
  });

  it('stops a run left open by its await using block with abort, whether the block ended or threw', async (t) => {
    const { h, producer } = await setup(t);
    {
      await using run = await producer.startRun({ block: 'ends' });
      await run.append('step', {});
    }
    await assert.rejects(async () => {
      await using run = await producer.startRun({ block: 'throws' });
      await run.append('step', {});
      throw new Error('inside the block');
    }, /inside the block/);
    {
      await using run = await producer.startRun({ block: 'stopped' });
      await run.stop({ exitStatus: 'success' });
    }
    const all = await entries(h, 'runs');
    const stops = all.filter((entry) => entry.name === 'stop');
    assert.deepEqual(stops.map((entry) => entry.context['exit_status']), ['abort', 'abort', 'success'], 'one stop per run, none added to a stopped one');
    assert.match(String(stops[0]!.context['reason']), /still open/);
    const starts = all.filter((entry) => entry.name === 'start');
    assert.deepEqual(stops.map((entry) => entry.context['run']), starts.map((entry) => entry.context['run']));
  });
});
