/** Archives: events moved into gzip'd files under the data directory, listed, queried with archived=true, purged; retention with archive: true. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode } from '../src/errors.js';
import { JournalServer } from '../server/journal-server.js';
import { LmdbStore } from '../server/lmdb-store.js';
import { Archives, MAX_CURSORS } from '../server/retention/archives.js';
import { ScanSlicer } from '../server/budget/scan-slicer.js';
import { CountingSlicer } from './helpers.js';

const LIMIT = { timeout: 60_000 };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function setup(t: { after(fn: () => unknown): void }, journals = {}, options: Partial<ConstructorParameters<typeof JournalServer>[0]> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'wsjournal-archive-'));
  const store = new LmdbStore({ path: join(dir, 'data') });
  const server = new JournalServer({ port: 0, store, dataDir: dir, journals, logger: false, ...options });
  await server.listen();
  t.after(async () => {
    await server.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, store, server, base: server.url.replace('ws://', 'http://') };
}

describe('archives', () => {
  it('archive → query with archived=true → purge', LIMIT, async (t) => {
    const { dir, store, server, base } = await setup(t);
    const stored = await store.append('j', Array.from({ length: 250 }, (_, i) => ({ name: i % 2 ? 'odd' : 'even', context: { i } })));
    assert.deepEqual(await server.archive('j', { before: stored[100]!.timestamp }), { archived: 100 });
    assert.deepEqual((await store.readFromSeq('j', 1, 1000)).map((e) => e.seq), range(101, 250));
    assert.deepEqual(await server.archive('j', { beforeSeq: 101 }), { archived: 0 }, 'nothing archived twice');
    const [file, ...more] = await server.listArchives();
    assert.equal(more.length, 0);
    assert.equal(file!.journal, 'j');
    assert.equal(file!.firstSeq, 1);
    assert.equal(file!.lastSeq, 100);
    assert.equal(file!.lastTimestamp, stored[99]!.timestamp);
    assert.deepEqual(await readdir(join(dir, 'archives', 'j')), [file!.file], 'no temporary file left');

    const get = async (query: string) => (await (await fetch(`${base}/v1/journals/j/events?${query}`)).json()) as { events: { seq: number; name: string }[]; next: string | null; truncated?: boolean };
    const first = await get('archived=true&limit=60');
    assert.deepEqual(first.events.map((e) => e.seq), range(1, 60));
    assert.deepEqual(first.events[0], JSON.parse(stored[0]!.json));
    const second = await get(first.next!);
    assert.deepEqual(second.events.map((e) => e.seq), range(61, 100));
    assert.equal(second.next, null);
    assert.deepEqual((await get('archived=true&names=odd&after=90')).events.map((e) => e.seq), [92, 94, 96, 98, 100]);
    assert.equal((await get('limit=1')).truncated, true, 'the live query says its start was removed');

    const admin = async (path: string, body: unknown) => {
      const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    assert.deepEqual(await admin('/v1/admin/journals/j/archive', { beforeSeq: 151 }), { status: 200, body: { archived: 50 } });
    assert.deepEqual(((await (await fetch(`${base}/v1/admin/archives`)).json()) as { archives: { lastSeq: number }[]; next: unknown }).archives.map((f) => f.lastSeq), [100, 150]);
    assert.deepEqual(await admin('/v1/admin/archives/purge', { olderThan: 1e9 }), { status: 200, body: { purged: 0 } });
    assert.equal((await admin('/v1/admin/archives/purge', {})).status, 400);
    assert.deepEqual(await server.purgeArchives({ olderThan: 0 }), { purged: 2 });
    assert.deepEqual(await server.listArchives(), []);
    await assert.rejects(server.archive('j', {}), { code: ErrorCode.BAD_REQUEST });
  });

  it('retention with archive: true archives what it would remove; a temporary file of a crash is cleared', LIMIT, async (t) => {
    const { dir, store, server } = await setup(t, { 'logs.*': { retention: { maxEvents: 50, archive: true } } });
    await store.append('logs.a', Array.from({ length: 200 }, (_, i) => ({ name: 'e', context: { i } })));
    await server.enforceRetention();
    assert.deepEqual((await store.readFromSeq('logs.a', 1, 1000)).map((e) => e.seq), range(151, 200));
    const files = await server.listArchives('logs.a');
    assert.deepEqual(files.map((f) => [f.firstSeq, f.lastSeq]), [[1, 150]]);
    await writeFile(join(dir, 'archives', 'logs.a', '.tmp-left-by-a-crash'), 'half');
    await store.append('logs.a', Array.from({ length: 10 }, () => ({ name: 'e' })));
    await server.enforceRetention();
    assert.deepEqual((await server.listArchives('logs.a')).map((f) => [f.firstSeq, f.lastSeq]), [[1, 150], [151, 160]]);
    assert.ok(!(await readdir(join(dir, 'archives', 'logs.a'))).some((name) => name.startsWith('.tmp-')));
  });

  it('an archived page is bounded like a query page: by its time budget, its output budget and until; following next reads each event once', LIMIT, async (t) => {
    // Pages stop after 1 ms of scanning (past `after`) or 4 KiB of event JSON.
    const { store, server, base } = await setup(t, {}, { queryTimeBudget: 0.001, maxSendBuffer: 4096 });
    const stored = await store.append('j', Array.from({ length: 12_000 }, (_, i) => ({ name: i % 400 === 7 ? 'rare' : 'common', context: { i, pad: 'x'.repeat(40) } })));
    await server.archive('j', { beforeSeq: 6_001 });
    await server.archive('j', { beforeSeq: 12_000 });
    assert.deepEqual((await server.listArchives('j')).map((f) => [f.firstSeq, f.lastSeq]), [[1, 6_000], [6_001, 11_999]]);
    const get = async (query: string) => (await (await fetch(`${base}/v1/journals/j/events?${query}`)).json()) as { events: { seq: number; name: string }[]; next: string | null };
    const follow = async (query: string) => {
      const pages: { seq: number }[][] = [];
      for (let next: string | null = query; next !== null; ) {
        const page = await get(next);
        pages.push(page.events);
        next = page.next;
        assert.ok(pages.length < 10_000, 'the pages end');
      }
      return pages;
    };
    // A filter that matches 30 events of 11,999: the time budget ends pages early, with a next that goes on.
    const rare = await follow('archived=true&names=rare&limit=1000');
    assert.ok(rare.length > 2, `the time budget ended pages early (${rare.length} pages)`);
    assert.ok(rare.some((page) => page.length === 0), 'a page may hold no event and still have a next');
    assert.deepEqual(rare.flat().map((e) => e.seq), range(0, 29).map((k) => k * 400 + 8));
    // Every event: pages end at 4 KiB of JSON (about 40 events), well below the limit.
    const all = await follow('archived=true&limit=1000');
    assert.ok(all.every((page) => page.length < 100), 'the output budget ends each page');
    assert.deepEqual(all.flat().map((e) => e.seq), range(1, 11_999));
    // until ends the scan: nothing after it is read, and there is no next page once it is passed.
    const until = stored[99]!.timestamp;
    const first = await follow(`archived=true&limit=1000&until=${until}`);
    assert.deepEqual(first.flat().map((e) => e.seq), range(1, 100));
    // since skips the files before it.
    const since = stored[8_000]!.timestamp;
    assert.deepEqual((await follow(`archived=true&limit=1000&since=${since}`)).flat().map((e) => e.seq), range(8_002, 11_999));
  });

  it('pages of many readers, interleaved, each read every event once (a page goes on where the previous one left its file)', LIMIT, async (t) => {
    const { store, server, base } = await setup(t);
    await store.append('j', Array.from({ length: 2_001 }, (_, i) => ({ name: 'e', context: { i } })));
    await server.archive('j', { beforeSeq: 2_001 });
    // Each reader with its own page size. Four: each takes the place its previous page left. More than the places
    // kept (MAX_CURSORS): each place is closed, oldest first, before its reader comes back, which reads the file again.
    for (const count of [4, MAX_CURSORS + 4]) {
      const readers = Array.from({ length: count }, (_, k) => ({ next: `archived=true&limit=${90 + k}` as string | null, seqs: [] as number[] }));
      while (readers.some((reader) => reader.next !== null)) {
        for (const reader of readers) {
          if (reader.next === null) continue;
          const page = (await (await fetch(`${base}/v1/journals/j/events?${reader.next}`)).json()) as { events: { seq: number }[]; next: string | null };
          reader.seqs.push(...page.events.map((e) => e.seq));
          reader.next = page.next;
        }
      }
      for (const reader of readers) assert.deepEqual(reader.seqs, range(1, 2_000), `${count} readers`);
    }
  });

  it('GET /v1/admin/archives pages through the files of every journal, or of one; a bad after is refused', LIMIT, async (t) => {
    const { store, server, base } = await setup(t);
    for (const journal of ['b', 'a', 'c.x']) {
      await store.append(journal, Array.from({ length: 40 }, (_, i) => ({ name: 'e', context: { i } })));
      for (const beforeSeq of [11, 21, 31]) await server.archive(journal, { beforeSeq });
    }
    type Listing = { archives: { journal: string; firstSeq: number; lastSeq: number; bytes: number }[]; next: string | null };
    const list = async (query: string) => {
      const response = await fetch(`${base}/v1/admin/archives?${query}`);
      return { status: response.status, body: (await response.json()) as Listing };
    };
    const follow = async (query: string) => {
      const pages: Listing['archives'][] = [];
      for (let next: string | null = query; next !== null; ) {
        const { status, body } = await list(next);
        assert.equal(status, 200);
        pages.push(body.archives);
        next = body.next;
      }
      return pages;
    };
    const every = ['a', 'b', 'c.x'].flatMap((journal) => [1, 11, 21].map((firstSeq) => `${journal}/${firstSeq}`));
    const pages = await follow('limit=2');
    assert.deepEqual(pages.map((page) => page.length), [2, 2, 2, 2, 1]);
    assert.deepEqual(pages.flat().map((f) => `${f.journal}/${f.firstSeq}`), every);
    assert.ok(pages.flat().every((f) => f.bytes > 0 && f.lastSeq === f.firstSeq + 9));
    assert.deepEqual((await follow('journal=b&limit=2')).flat().map((f) => `${f.journal}/${f.firstSeq}`), ['b/1', 'b/11', 'b/21']);
    assert.deepEqual((await list('')).body.next, null, 'one page holds them all by default');
    for (const bad of ['after=b', 'after=b/x', 'after=../b/1', 'limit=0', 'journal=../a']) assert.equal((await list(bad)).status, 400, bad);
  });

  it('archiving reads the store a slice at a time, and ends a file at its units of JSON as well as its events', LIMIT, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-archive-'));
    const store = new LmdbStore({ path: join(dir, 'data') });
    t.after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    // 1,000 events of about 100 units each; files of at most 30,000 units: 300 events or fewer a file.
    await store.append('j', Array.from({ length: 1_001 }, (_, i) => ({ name: 'e', context: { i, pad: 'x'.repeat(40) } })));
    const scheduler = new CountingSlicer();
    const archives = new Archives(join(dir, 'archives'), { scheduler, fileUnits: 30_000 });
    assert.deepEqual(await archives.archive(store, 'j', { beforeSeq: 1_001 }), { archived: 1_000 });
    const files = await archives.list('j');
    assert.ok(files.length >= 4, `${files.length} files`);
    assert.deepEqual(files.map((f) => f.firstSeq), [1, ...files.slice(0, -1).map((f) => f.lastSeq + 1)], 'files follow one another');
    assert.equal(files.at(-1)!.lastSeq, 1_000);
    assert.ok(scheduler.slices >= 1_000 / 256, `${scheduler.slices} slices`);
    const page = await archives.read('j', { after: 0, limit: 2_000 }, { maxUnits: Infinity, timeMs: Infinity, scheduler, owner: 'test' });
    assert.deepEqual(page.events.map((line) => (JSON.parse(line) as { seq: number }).seq), range(1, 1_000));
    scheduler.close();
  });

  it('an unreadable archive file answers 500 ARCHIVE_FAILED naming it; the server goes on', LIMIT, async (t) => {
    const { dir, store, server, base } = await setup(t);
    await store.append('j', Array.from({ length: 20 }, (_, i) => ({ name: 'e', context: { i } })));
    await server.archive('j', { beforeSeq: 11 });
    const [file] = await server.listArchives('j');
    await writeFile(join(dir, 'archives', 'j', file!.file), gzipSync('{"name":"e","timestamp":1,"context":{},"seq":1}\nnot json\n'));
    const response = await fetch(`${base}/v1/journals/j/events?archived=true`);
    assert.equal(response.status, 500);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, ErrorCode.ARCHIVE_FAILED);
    assert.match(error.message, new RegExp(`archive j/${file!.file} cannot be read`));
    await writeFile(join(dir, 'archives', 'j', file!.file), 'not gzip at all');
    assert.equal((await fetch(`${base}/v1/journals/j/events?archived=true`)).status, 500);
    assert.deepEqual(((await (await fetch(`${base}/v1/journals/j/events?limit=3`)).json()) as { events: { seq: number }[] }).events.map((e) => e.seq), [11, 12, 13]);
  });

  it('an archived read stops when its signal is aborted', LIMIT, async (t) => {
    const { dir, store, server } = await setup(t);
    await store.append('j', Array.from({ length: 50 }, (_, i) => ({ name: 'e', context: { i } })));
    await server.archive('j', { beforeSeq: 50 });
    const archives = new Archives(join(dir, 'archives'));
    const gone = new AbortController();
    const reason = new Error('the client went away');
    gone.abort(reason);
    const budget = { maxUnits: Infinity, timeMs: Infinity, scheduler: new ScanSlicer(), owner: 'test', signal: gone.signal };
    await assert.rejects(archives.read('j', { after: 0, limit: 10 }, budget), (error) => error === reason);
    const whole = await archives.read('j', { after: 0, limit: 10 }, { ...budget, signal: undefined });
    assert.equal(whole.events.length, 10);
    assert.equal(whole.last, 10);
  });
});
