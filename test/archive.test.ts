/** Archives: events moved into gzip'd files under the data directory, listed, queried with archived=true, purged; retention with archive: true. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode } from '../src/errors.js';
import { JournalServer } from '../server/journal-server.js';
import { LmdbStore } from '../server/lmdb-store.js';

const LIMIT = { timeout: 60_000 };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function setup(t: { after(fn: () => unknown): void }, journals = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'wsjournal-archive-'));
  const store = new LmdbStore({ path: join(dir, 'data') });
  const server = new JournalServer({ port: 0, store, dataDir: dir, journals, logger: false });
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
    assert.equal(((await (await fetch(`${base}/v1/admin/archives`)).json()) as { archives: unknown[] }).archives.length, 2);
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
});
