/**
 * `wsjournal export` and `wsjournal import` (SPEC section 8), run as the built binary: lines
 * of `EventEntry`, `--since`/`--until`, imports that append anew or (`--preserve`) keep seqs
 * and timestamps into an empty journal only, and a journal moved LMDB → Redis → LMDB that
 * comes out identical. Also the preserving append on the wire, through the producer.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { JournalServer } from '../server/journal-server.js';
import { LmdbStore } from '../server/lmdb-store.js';
import { RedisStore } from '../server/redis-store.js';
import { Harness, readAll } from './harness.js';
import { within } from './helpers.js';
import { REDIS_URL, withRedis } from './redis-available.js';
import { deleteKeys } from './fixtures/redis-keys.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `wsjournal ...args` with `input` on standard input; resolves once it exits. */
function cli(args: string[], input = ''): Promise<Ran> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, WSJOURNAL_TOKEN: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => {});
  child.stdin.end(input);
  const exited = new Promise<Ran>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return within(exited, 30_000, `wsjournal ${args.join(' ')}`).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
}

interface Entry {
  name: string;
  timestamp: number;
  context: Record<string, unknown>;
  seq: number;
}

const parse = (text: string): Entry[] => text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Entry);

/** The schema every third event of `populate` names: the servers they are imported into must know it. */
const JOB_SCHEMA = { $id: 'urn:test:moved-job', version: 1, type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] };
const JOB_REF = { id: JOB_SCHEMA.$id, version: JOB_SCHEMA.version };

/**
 * Events with contexts of every JSON kind (and a key named `__proto__`), every third naming
 * a schema, in batches of different sizes.
 */
async function populate(server: JournalServer, journal: string, count: number): Promise<void> {
  let n = 0;
  while (n < count) {
    const size = Math.min(count - n, 1 + (n % 37));
    const batch = Array.from({ length: size }, () => {
      n++;
      const contextJson = `{"n":${n},"text":${JSON.stringify(`line\n"${n}" ✓`)},"nested":{"list":[${n},null,true,1.5]}${n % 7 === 0 ? ',"__proto__":"own"' : ''}}`;
      return { name: n % 5 === 0 ? 'ünïcødé ✓' : 'job', contextJson, ...(n % 3 === 0 ? { schema: JOB_REF } : {}) };
    });
    await server.store.append(journal, batch);
  }
}

describe('wsjournal export and import', () => {
  it('exports one EventEntry a line, all of them or those in --since/--until', async (t) => {
    const h = await Harness.start(t);
    await populate(h.server, 'jobs', 30);
    const stored = (await readAll(h.server.store, 'jobs')).map((event) => JSON.parse(event.json) as Entry);
    const all = await cli(['export', 'jobs', '--url', h.url]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(parse(all.stdout), stored);
    assert.equal(all.stdout, `${(await readAll(h.server.store, 'jobs')).map((event) => event.json).join('\n')}\n`, 'as the server sends each entry');
    assert.match(all.stderr, /exported 30 events of jobs \(seq 1-30\)/);
    const some = await cli(['export', 'jobs', '--url', h.url, '--since', String(stored[9]!.timestamp), '--until', String(stored[19]!.timestamp)]);
    assert.deepEqual(parse(some.stdout).map((entry) => entry.seq), Array.from({ length: 10 }, (_, i) => 11 + i));
    const none = await cli(['export', 'empty', '--url', h.url]);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, '');
    const bad = await cli(['export', 'jobs', '--url', h.url, '--since', '5', '--until', '4']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--until must not be before --since/);
  });

  it('imports anew: names, contexts and schemas kept, new seqs and timestamps, also into a journal that has events', async (t) => {
    const h = await Harness.start(t);
    await h.server.registerSchema(JOB_SCHEMA);
    await populate(h.server, 'source', 12);
    await h.server.append('target', 'already', {});
    const exported = await cli(['export', 'source', '--url', h.url]);
    const imported = await cli(['import', 'target', '--url', h.url], exported.stdout);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /imported 12 events into target \(seq 2-13\)/);
    const target = (await readAll(h.server.store, 'target')).map((event) => JSON.parse(event.json) as Entry);
    const source = parse(exported.stdout);
    const shape = (entry: Entry & { schema?: unknown }) => [entry.name, entry.context, entry.schema];
    assert.deepEqual(target.slice(1).map(shape), source.map(shape));
    assert.ok(source.some((entry) => (entry as Entry & { schema?: unknown }).schema !== undefined));
    assert.deepEqual(target.map((entry) => entry.seq), Array.from({ length: 13 }, (_, i) => i + 1));
    assert.ok(target[1]!.timestamp > source.at(-1)!.timestamp, 'new timestamps');
  });

  it('refuses --preserve into a journal that is not empty, importing nothing', async (t) => {
    const h = await Harness.start(t);
    await populate(h.server, 'source', 5);
    await h.server.append('busy', 'mine', {});
    const exported = await cli(['export', 'source', '--url', h.url]);
    const refused = await cli(['import', 'busy', '--preserve', '--url', h.url], exported.stdout);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^wsjournal import: busy is not empty \(its last event is seq 1\); --preserve imports only into an empty journal, so nothing was imported\n$/);
    assert.equal((await readAll(h.server.store, 'busy')).length, 1);
  });

  it('refuses --preserve lines that do not go up, and lines that are not events, saying which and what was imported', async (t) => {
    const h = await Harness.start(t);
    const line = (seq: number, timestamp: number) => JSON.stringify({ name: 'e', timestamp, context: {}, seq });
    const backwards = await cli(['import', 'a', '--preserve', '--url', h.url], [line(1, 10), line(2, 11), line(2, 12)].join('\n'));
    assert.equal(backwards.code, 1);
    assert.match(backwards.stderr, /line 3: seq 2 at 12 does not follow line 2 \(seq 2 at 11\).*2 events were imported from the lines before it/);
    assert.deepEqual((await readAll(h.server.store, 'a')).map((event) => [event.seq, event.timestamp]), [[1, 10], [2, 11]]);
    const noSeq = await cli(['import', 'b', '--preserve', '--url', h.url], JSON.stringify({ name: 'e', timestamp: 5, context: {} }));
    assert.match(noSeq.stderr, /line 1: "seq" must be a positive integer/);
    const junk = await cli(['import', 'c', '--url', h.url], `${line(1, 1)}\n\nnot json\n`);
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /line 3: not valid JSON .*1 event was imported from the lines before it/);
  });

  it('carries preserving appends on the wire: OUT_OF_ORDER and INVALID_EVENT reach the producer, nothing stored', async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer('moved');
    const results = await producer.appendMany([{ name: 'a', seq: 3, timestamp: 100 }, { name: 'b', context: { x: 1 }, seq: 7, timestamp: 100.5 }], { preserve: true });
    assert.deepEqual(results, [{ seq: 3, timestamp: 100 }, { seq: 7, timestamp: 100.5 }]);
    await assert.rejects(producer.appendMany([{ name: 'c', seq: 7, timestamp: 200 }], { preserve: true }), { code: 'OUT_OF_ORDER' });
    await assert.rejects(producer.appendMany([{ name: 'c', seq: 8, timestamp: 100.5 }], { preserve: true }), { code: 'OUT_OF_ORDER' });
    await assert.rejects(producer.appendMany([{ name: 'c' }], { preserve: true }), { code: 'INVALID_EVENT' });
    const raw = await h.raw();
    raw.send({ type: 'append', id: 1, journal: 'moved', events: [{ name: 'c', seq: 9, timestamp: 300 }] });
    const refusal = (await raw.until((frame) => frame['id'] === 1)).at(-1)!;
    assert.equal(refusal['code'], 'INVALID_EVENT');
    assert.match(String(refusal['message']), /only an append with preserve carries them/);
    raw.send({ type: 'append', id: 2, journal: 'moved', preserve: true, events: [{ name: 'c', seq: 9 }] });
    assert.equal((await raw.until((frame) => frame['id'] === 2)).at(-1)!['code'], 'INVALID_EVENT');
    assert.deepEqual((await readAll(h.server.store, 'moved')).map((event) => event.seq), [3, 7]);
    const [next] = await producer.appendMany([{ name: 'after' }]);
    assert.equal(next!.seq, 8);
  });
});

await withRedis('moving a journal between stores', 'test/export-import.test.ts', () => {
  const prefix = `wsjournal-test:export-import:${randomUUID()}:`;
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
  admin.on('error', () => {});
  after(async () => {
    await deleteKeys(admin, prefix);
    await admin.quit();
  });

  async function serve(t: TestContext, store: LmdbStore | RedisStore): Promise<JournalServer> {
    const server = new JournalServer({ port: 0, store });
    await server.listen();
    await server.registerSchema(JOB_SCHEMA);
    t.after(async () => {
      await server.close();
      await store.close();
    });
    return server;
  }

  describe('moving a journal between stores', () => {
    it('moves a journal LMDB → Redis → LMDB with export and import --preserve: identical seq, timestamp, name and context', async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'wsjournal-move-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const lmdb = await serve(t, new LmdbStore({ path: join(dir, 'first') }));
      const redis = await serve(t, new RedisStore({ url: REDIS_URL, prefix }));
      const back = await serve(t, new LmdbStore({ path: join(dir, 'back') }));
      await populate(lmdb, 'moving', 1234);

      const fromLmdb = await cli(['export', 'moving', '--url', lmdb.url]);
      assert.equal(fromLmdb.code, 0, fromLmdb.stderr);
      const intoRedis = await cli(['import', 'moving', '--preserve', '--url', redis.url], fromLmdb.stdout);
      assert.equal(intoRedis.code, 0, intoRedis.stderr);
      assert.match(intoRedis.stderr, /imported 1234 events into moving \(seq 1-1234\)/);
      const fromRedis = await cli(['export', 'moving', '--url', redis.url]);
      const intoLmdb = await cli(['import', 'moving', '--preserve', '--url', back.url], fromRedis.stdout);
      assert.equal(intoLmdb.code, 0, intoLmdb.stderr);
      const roundTrip = await cli(['export', 'moving', '--url', back.url]);

      const original = parse(fromLmdb.stdout);
      assert.equal(original.length, 1234);
      assert.ok(Object.hasOwn(original[6]!.context, '__proto__'), 'a context key named __proto__ is among them');
      assert.deepEqual((original[2] as Entry & { schema?: unknown }).schema, JOB_REF, 'events that name a schema are among them');
      assert.deepEqual(parse(fromRedis.stdout), original);
      assert.deepEqual(parse(roundTrip.stdout), original);
      assert.equal(roundTrip.stdout, fromLmdb.stdout, 'byte for byte');
      assert.deepEqual(await back.store.head('moving'), await lmdb.store.head('moving'));
      // The moved journal goes on where it was.
      const [next] = await back.store.append('moving', [{ name: 'after-the-move', context: {} }]);
      assert.equal(next!.seq, 1235);
      assert.ok(next!.timestamp > original.at(-1)!.timestamp);
      const [onRedis] = await redis.store.append('moving', [{ name: 'after-the-move', context: {} }]);
      assert.equal(onRedis!.seq, 1235);
    });

    it('moves the tail of a journal (as after retention) with its seqs, so the moved journal starts past 1', async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'wsjournal-move-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const lmdb = await serve(t, new LmdbStore({ path: join(dir, 'first') }));
      const redis = await serve(t, new RedisStore({ url: REDIS_URL, prefix: `${prefix}tail:` }));
      await populate(lmdb, 'tail', 300);
      const cut = (await readAll(lmdb.store, 'tail'))[199]!.timestamp;
      const exported = await cli(['export', 'tail', '--since', String(cut), '--url', lmdb.url]);
      for (const server of [redis, lmdb]) {
        const target = server === lmdb ? 'tail-copy' : 'tail';
        const imported = await cli(['import', target, '--preserve', '--url', server.url], exported.stdout);
        assert.equal(imported.code, 0, imported.stderr);
        const moved = await cli(['export', target, '--url', server.url]);
        assert.equal(moved.stdout, exported.stdout);
        assert.equal(parse(moved.stdout)[0]!.seq, 201);
      }
    });
  });
});
