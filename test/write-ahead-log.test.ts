/**
 * The embedded store's write-ahead log: what it keeps and recovers, and how
 * LmdbStore delivers from it before the LMDB commit and replays it after
 * `kill -9`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { LmdbStore } from '../server/lmdb-store.js';
import type { StoredEvent } from '../server/store.js';
import { recordBytes, WriteAheadLog, type WalRecord } from '../server/write-ahead-log.js';

const LIMIT = { timeout: 60_000 };

/** A temporary directory; after the test, the stores `open` made are closed, then it is removed. */
async function scratch(t: TestContext): Promise<{ dir: string; open: () => LmdbStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'wsjournal-wal-'));
  const stores: LmdbStore[] = [];
  t.after(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await rm(dir, { recursive: true, force: true });
  });
  const open = (): LmdbStore => {
    const store = new LmdbStore({ path: dir });
    stores.push(store);
    return store;
  };
  return { dir, open };
}

const record = (n: number): WalRecord => ({ journal: 'j', micros: [n * 10, n * 10 + 1], values: [`a${n}`, `b\n${n}`], seq: n * 2 });
/** Stages `record` and writes it at once; returns its committed callback. */
function put(log: WriteAheadLog, record: WalRecord): () => void {
  const committed = log.stage(record);
  log.write();
  return committed;
}
const segments = (dir: string): string[] => readdirSync(dir).filter((name) => name.endsWith('.wal')).sort();

/** What a log would recover from a copy of the segment at `path` (its own log holds the directory). */
async function recoveredCopy(path: string): Promise<WalRecord[]> {
  const dir = await mkdtemp(join(tmpdir(), 'wsjournal-wal-copy-'));
  try {
    copyFileSync(path, join(dir, '1.wal'));
    return await recoveredFrom(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What a log opened on `dir` recovers; it is closed again, and what it recovered stays on disk. */
async function recoveredFrom(dir: string): Promise<WalRecord[]> {
  const log = new WriteAheadLog(dir);
  const records = [...log.recovered()];
  await log.close();
  return records;
}

describe('WriteAheadLog', () => {
  it('gives back, in order, what a log left uncommitted, then deletes it', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const crashed = new WriteAheadLog(dir);
    for (let n = 1; n <= 3; n++) put(crashed, record(n));
    await crashed.close();
    const reopened = new WriteAheadLog(dir);
    assert.deepEqual([...reopened.recovered()], [record(1), record(2), record(3)]);
    reopened.discardRecovered();
    assert.deepEqual(segments(dir), ['2.wal'], 'only the new log segment is left');
    assert.deepEqual([...reopened.recovered()], []);
    await reopened.close();
  });

  it('ends recovery at a torn last line', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const crashed = new WriteAheadLog(dir);
    put(crashed, record(1));
    put(crashed, record(2));
    await crashed.close();
    // The torn record lies where the next record would have gone: over the zeros ahead of them.
    const path = join(dir, '1.wal');
    const fd = openSync(path, 'r+');
    writeSync(fd, '["j",6,[30,31]]\t2:a31:', readFileSync(path).indexOf(0));
    closeSync(fd);
    assert.deepEqual(await recoveredFrom(dir), [record(1), record(2)]);
  });

  it('ends recovery at a record one of whose pages never reached the disk', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const large: WalRecord = { journal: 'j', micros: [20], values: ['x'.repeat(3 * 4096)], seq: 3 };
    const crashed = new WriteAheadLog(dir);
    put(crashed, record(1));
    put(crashed, large);
    put(crashed, record(3));
    await crashed.close();
    // A power loss: the record's middle page never reached the disk and reads as zeros; its
    // first page (the lengths) and its last (the newline) did.
    const path = join(dir, '1.wal');
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(4096), 0, 4096, 4096);
    closeSync(fd);
    assert.deepEqual(await recoveredFrom(dir), [record(1)]);
  });

  it('writes values as they are, whatever characters they hold, and reads them back', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const odd = ['tab\there', 'line\nbreak\r\n', '3:colons:', '"quoted" \\ back', 'é 😀 ✓', ''];
    const records = odd.map((value, n): WalRecord => ({ journal: `j ${value}`, seq: n + 1, micros: [n], values: [value] }));
    const log = new WriteAheadLog(dir);
    for (const one of records) put(log, one);
    await log.close();
    assert.deepEqual(await recoveredFrom(dir), records);
  });

  it('writes each record as its JSON header, a tab, each value as <length>:<value>, and a newline', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const text = fc.string({ unit: 'binary', maxLength: 20 }).filter((value) => !value.includes('\0'));
    const records = fc.sample(
      fc.record({
        journal: fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }),
        seq: fc.maxSafeNat(),
        events: fc.array(fc.tuple(fc.maxSafeNat(), text), { minLength: 1, maxLength: 5 }),
      }),
      { numRuns: 300, seed: 7 },
    );
    const log = new WriteAheadLog(dir);
    const expected: string[] = [];
    const written: WalRecord[] = [];
    for (const { journal, seq, events } of records) {
      const one: WalRecord = { journal, seq, micros: events.map(([micros]) => micros), values: events.map(([, value]) => value) };
      written.push(one);
      expected.push(`${JSON.stringify([journal, seq, one.micros])}\t${one.values.map((value) => `${value.length}:${value}`).join('')}\n`);
      put(log, one);
    }
    const bytes = readFileSync(join(dir, '1.wal'));
    assert.equal(bytes.toString('utf8', 0, bytes.indexOf(0)), expected.join(''));
    await log.close();
    assert.deepEqual(await recoveredFrom(dir), written);
  });

  it('sizes each record exactly, and stages the records of a turn whatever they hold, across segments', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    // Values of every width of UTF-8 (a surrogate pair is 4 bytes), long enough that a turn's records outgrow the staging buffer many times.
    const value = fc
      .array(fc.constantFrom('a', 'é', '✓', '😀', '"', '\n', ':', '{}'), { maxLength: 400, size: 'max' })
      .map((units) => units.join(''));
    const records = fc.sample(
      fc.record({
        journal: fc.oneof(fc.constant('jobs'), fc.string({ unit: 'binary', minLength: 1, maxLength: 10 })),
        seq: fc.maxSafeNat(),
        prev: fc.option(fc.maxSafeNat(), { nil: undefined }),
        events: fc.array(fc.tuple(fc.maxSafeNat(), value), { minLength: 1, maxLength: 8 }),
      }),
      { numRuns: 600, seed: 11 },
    ).map(({ journal, seq, prev, events }): WalRecord => {
      const one = { journal, seq, micros: events.map(([micros]) => micros), values: events.map(([, text]) => text) };
      return prev === undefined ? one : { ...one, prev };
    });
    for (const one of records) {
      const journalJson = JSON.stringify(one.journal);
      const expected = Buffer.byteLength(`${JSON.stringify([one.journal, one.seq, one.micros, ...(one.prev === undefined ? [] : [one.prev])])}\t${one.values.map((text) => `${text.length}:${text}`).join('')}\n`);
      assert.equal(recordBytes(one, journalJson, undefined), expected);
    }
    // All staged in one turn, in segments of 256 KiB: each switch is decided on a record's exact size.
    const segmentBytes = 256 * 1024;
    const log = new WriteAheadLog(dir, { segmentBytes });
    for (const one of records) log.stage(one);
    log.write();
    const files = segments(dir);
    assert.ok(files.length > 2, `${files.length} segments`);
    const recovered: WalRecord[] = [];
    for (const name of files) {
      const bytes = readFileSync(join(dir, name));
      const used = bytes.indexOf(0) === -1 ? bytes.length : bytes.indexOf(0);
      const own = await recoveredCopy(join(dir, name));
      // A segment holds at most its size, unless one record alone is larger.
      assert.ok(used <= segmentBytes || own.length === 1, `${name}: ${used} bytes in ${own.length} records`);
      recovered.push(...own);
    }
    assert.deepEqual(recovered, records);
    await log.close();
  });

  it('writes a record whose value holds a NUL so that it, and the records after it, recover', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const withNul: WalRecord = { journal: 'j', seq: 1, micros: [1], values: ['1:4:a\0b\0{"name":"a\\u0000b\\u0000"}'] };
    const log = new WriteAheadLog(dir);
    put(log, withNul);
    put(log, record(1));
    await log.close();
    assert.deepEqual(await recoveredFrom(dir), [withNul, record(1)]);
  });

  it('writes the head before a batch whose seqs skip ahead as a fourth header field, in both formats, and reads it back', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const skipping: WalRecord = { journal: 'j', seq: 12, micros: [100, 101], values: ['a', 'b'], prev: 3 };
    const skippingWithNul: WalRecord = { journal: 'j', seq: 20, micros: [102], values: ['c\0'], prev: 12 };
    const log = new WriteAheadLog(dir);
    put(log, skipping);
    put(log, skippingWithNul);
    put(log, record(30));
    const bytes = readFileSync(join(dir, '1.wal'));
    const lines = bytes.toString('utf8', 0, bytes.indexOf(0)).split('\n');
    assert.equal(lines[0], '["j",12,[100,101],3]\t1:a1:b');
    assert.equal(lines[1], JSON.stringify(['j', 20, [102], ['c\0'], 12]));
    await log.close();
    assert.deepEqual(await recoveredFrom(dir), [skipping, skippingWithNul, record(30)]);
  });

  it('recovers a segment an earlier version wrote as JSON lines, then goes on in its own format', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const old = [record(1), record(2)];
    writeFileSync(join(dir, '1.wal'), old.map((one) => `${JSON.stringify([one.journal, one.seq, one.micros, one.values])}\n`).join(''));
    const log = new WriteAheadLog(dir);
    assert.deepEqual([...log.recovered()], old);
    put(log, record(3));
    await log.close();
    assert.deepEqual(await recoveredFrom(dir), [...old, record(3)]);
  });

  it('zero-fills a segment ahead of its records, 256 KiB at a time, and recovers every record before the zeros', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const log = new WriteAheadLog(dir);
    const big = (n: number): WalRecord => ({ ...record(n), values: [`a${n}`, 'x'.repeat(100_000)] });
    const step = 256 * 1024;
    put(log, big(1));
    const path = join(dir, '1.wal');
    assert.equal(statSync(path).size, step, 'the first record\'s write zero-filled the first 256 KiB');
    for (let n = 2; n <= 12; n++) put(log, big(n));
    const records = readFileSync(path).indexOf(0);
    assert.ok(records > 11 * 100_000, `the records end at ${records}`);
    assert.equal(statSync(path).size, Math.ceil(records / step) * step, 'each record past the zeros zero-filled the next 256 KiB');
    await log.close();
    assert.deepEqual(await recoveredFrom(dir), Array.from({ length: 12 }, (_, i) => big(i + 1)));
  });

  it('writes nothing when staging; write() writes every record staged since, and close() what is left', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const log = new WriteAheadLog(dir);
    const path = join(dir, '1.wal');
    log.stage(record(1));
    log.stage(record(2));
    assert.equal(statSync(path).size, 0, 'staged records are not in the file');
    log.write();
    assert.deepEqual(await recoveredCopy(path), [record(1), record(2)], 'both records are in the file');
    log.stage(record(3));
    await log.close();
    assert.deepEqual(await recoveredFrom(dir), [record(1), record(2), record(3)]);
  });

  it('starts a new segment past the size limit and deletes an old one once its records are committed', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    // Every record past a segment's first starts a new segment.
    const log = new WriteAheadLog(dir, { segmentBytes: 1 });
    const first = put(log, record(1));
    const second = put(log, record(2));
    assert.deepEqual(segments(dir), ['1.wal', '2.wal']);
    first();
    await log.deleted();
    assert.deepEqual(segments(dir), ['2.wal'], 'segment 1 went once its record was committed');
    put(log, record(3));
    assert.deepEqual(segments(dir), ['2.wal', '3.wal'], 'segment 2 still holds an uncommitted record');
    second();
    await log.deleted();
    assert.deepEqual(segments(dir), ['3.wal']);
    await log.close();
  });

  it('refuses every write after one that failed, so no record follows a torn one', LIMIT, async (t) => {
    if (!existsSync('/dev/full')) {
      t.skip('no /dev/full here to make a write fail with ENOSPC');
      return;
    }
    const { dir } = await scratch(t);
    const log = new WriteAheadLog(dir, { segmentBytes: 1 });
    put(log, record(1));
    // The next segment is a full disk.
    symlinkSync('/dev/full', join(dir, '2.wal'));
    assert.throws(() => put(log, record(2)), { code: 'ENOSPC' });
    assert.throws(() => put(log, record(3)), /an earlier write to the write-ahead log failed/);
    await assert.rejects(log.sync(), /an earlier write to the write-ahead log failed/);
    await log.close();
    assert.deepEqual(await recoveredFrom(dir), [record(1)]);
  });

  it('deletes its files at close only when every record is committed', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const clean = new WriteAheadLog(dir);
    put(clean, record(1))();
    await clean.close();
    assert.deepEqual(segments(dir), []);
    const unclean = new WriteAheadLog(dir);
    put(unclean, record(2));
    await unclean.close();
    assert.deepEqual(await recoveredFrom(dir), [record(2)]);
  });

  it('fsyncs for every sync() caller, writing what is staged first: callers in one turn share an fsync, and callers during it share the next', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const log = new WriteAheadLog(dir);
    log.stage(record(1));
    const first = log.sync();
    log.stage(record(2));
    assert.equal(log.sync(), first, 'the callers of one turn share the fsync that starts after it');
    // The fsync starts after this turn's I/O; a record staged once it runs needs another.
    await new Promise((resolve) => setImmediate(resolve));
    log.stage(record(3));
    const second = log.sync();
    log.stage(record(4));
    const third = log.sync();
    assert.notEqual(first, second, 'a record staged during an fsync needs one of its own');
    assert.equal(second, third, 'one fsync covers every caller that waited behind the first');
    await Promise.all([first, second, third]);
    assert.notEqual(log.sync(), second, 'a caller after the fsync gets a new one');
    await log.close();
    assert.deepEqual(await recoveredFrom(dir), [record(1), record(2), record(3), record(4)]);
  });

  it('takes one lock per directory: a second log, here or in another live process, is refused', LIMIT, async (t) => {
    const { dir } = await scratch(t);
    const log = new WriteAheadLog(dir);
    assert.throws(() => new WriteAheadLog(dir), { code: 'ELOCKED', message: /in use by this process/ });
    await log.close();
    // Another process holds it until it exits; then its lock is stale and taken over.
    const child = spawn(process.execPath, ['--input-type=module', '-e', HOLD_THE_LOG], {
      env: { ...process.env, LOG_MODULE: new URL('../server/write-ahead-log.js', import.meta.url).href, LOG_DIR: dir },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`the child exited with ${code} before it held the log`)));
    });
    assert.throws(() => new WriteAheadLog(dir), { code: 'ELOCKED', message: new RegExp(`in use by process ${child.pid}`) });
    child.kill('SIGKILL');
    await exited;
    const taken = new WriteAheadLog(dir);
    await taken.close();
  });

  it('takes over a lock whose pid now names another process, from another boot or started later', LIMIT, async (t) => {
    if (!existsSync('/proc/self/stat') || !existsSync('/proc/sys/kernel/random/boot_id')) {
      t.skip('no /proc here to tell a reused pid from its owner');
      return;
    }
    const { dir } = await scratch(t);
    const lockFile = join(dir, 'LOCK');
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
    const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
    // The parent process is alive: only what else the file says can show the lock is stale.
    writeFileSync(lockFile, `${process.ppid}`);
    assert.throws(() => new WriteAheadLog(dir), { code: 'ELOCKED' }, 'a pid alone is taken at its word');
    writeFileSync(lockFile, `${process.ppid} ${boot} ${started}`);
    assert.throws(() => new WriteAheadLog(dir), { code: 'ELOCKED', message: new RegExp(`in use by process ${process.ppid}`) }, 'its owner, alive');
    for (const stale of [`${process.ppid} another-boot ${started}`, `${process.ppid} ${boot} ${Number(started) + 1}`]) {
      writeFileSync(lockFile, stale);
      const log = new WriteAheadLog(dir);
      assert.match(readFileSync(lockFile, 'utf8'), new RegExp(`^${process.pid} ${boot} \\d+$`), `taken over from "${stale}"`);
      await log.close();
    }
  });

});

describe('LmdbStore and its write-ahead log', () => {
  it('emits a batch, and serves it to head() and read(), before its commit', LIMIT, async (t) => {
    const { open } = await scratch(t);
    const store = open();
    await store.append('j', [{ name: 'first', context: {} }]);
    const emitted: StoredEvent[] = [];
    store.watch('j', (events) => emitted.push(...events));
    let committed = false;
    const appended = store.append('j', [{ name: 'second', context: { n: 2 } }, { name: 'third', context: { n: 3 } }]);
    void appended.then(() => (committed = true));
    // Nothing below yields before the reads are made, so the commit cannot have resolved.
    const head = store.head('j');
    const page = store.read('j', 0, 10);
    assert.equal(committed, false);
    assert.deepEqual(emitted.map((event) => event.seq), [2, 3]);
    assert.deepEqual(await head, { seq: 3, timestamp: emitted[1]!.timestamp });
    assert.deepEqual((await page).map((event) => event.name), ['first', 'second', 'third']);
    assert.deepEqual((await store.read('j', emitted[0]!.timestamp, 10)).map((event) => event.seq), [3]);
    assert.deepEqual(await appended, emitted);
    assert.deepEqual(await store.read('j', 0, 10), [(await store.read('j', 0, 1))[0]!, ...emitted], 'the same events once committed');
  });

  it('writes the appends of one turn to the log together, and only then tells the watchers', LIMIT, async (t) => {
    const { dir, open } = await scratch(t);
    const store = open();
    const emitted: number[][] = [];
    let inLog = -1;
    const log = join(dir, 'wal', '1.wal');
    const seen = new Promise<void>((resolve) => {
      store.watch('j', (events) => {
        // What the log holds when the first batch is told: every batch of the turn.
        if (emitted.length === 0) inLog = readFileSync(log).toString('utf8', 0, readFileSync(log).indexOf(0)).split('\n').length - 1;
        emitted.push(events.map((event) => event.seq));
        if (emitted.length === 3) resolve();
      });
    });
    const appends = [1, 2, 3].map((n) => store.append('j', [{ name: `e${n}`, context: {} }]));
    assert.deepEqual(emitted, [], 'no watcher hears of a batch in the turn that appends it');
    assert.equal(statSync(log).size, 0, 'nor is it written yet');
    await seen;
    assert.deepEqual(emitted, [[1], [2], [3]]);
    assert.equal(inLog, 3, 'the three batches were written before the first was told');
    assert.deepEqual((await Promise.all(appends)).map((events) => events[0]!.seq), [1, 2, 3]);
  });

  it('replays after kill -9 the batches it emitted and never committed, keys and all', LIMIT, async (t) => {
    const { dir: path, open } = await scratch(t);
    const child = spawn(process.execPath, ['--input-type=module', '-e', EMIT_THEN_DIE], {
      env: { ...process.env, STORE_MODULE: new URL('../server/lmdb-store.js', import.meta.url).href, STORE_PATH: path },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, exitSignal) => resolve(exitSignal)));
    assert.equal(signal, 'SIGKILL', `the child exited otherwise: ${output}`);
    const emitted = JSON.parse(output) as StoredEvent[];
    assert.deepEqual(emitted.map((event) => event.seq), [3, 4, 5]);
    assert.ok(segments(join(path, 'wal')).length > 0, 'the log outlived the process');

    const store = open();
    assert.deepEqual(segments(join(path, 'wal')), ['2.wal'], 'the replayed segment is gone');
    const stored = await store.read('j', 0, 10);
    assert.deepEqual(stored.map((event) => event.name), ['committed', 'committed', 'lost-1', 'lost-2', 'lost-3']);
    assert.deepEqual(stored.slice(2), emitted, 'stored exactly as they were emitted');
    assert.deepEqual(await store.head('j'), { seq: 5, timestamp: emitted[2]!.timestamp });
    // The keyed batch is known: a resend gets it back instead of storing it again.
    assert.deepEqual(await store.append('j', [{ name: 'lost-1', context: {} }], { key: 'batch-1' }), emitted);
    const [next] = await store.append('j', [{ name: 'next', context: {} }]);
    assert.equal(next!.seq, 6);
    assert.ok(next!.timestamp > emitted[2]!.timestamp);
  });

  it('replays only the batches that follow the stored head, and nothing of a journal after a gap', LIMIT, async (t) => {
    const { dir, open } = await scratch(t);
    const first = open();
    const [stored] = await first.append('j', [{ name: 'stored', context: {} }]);
    await first.close();
    const micros = Math.round(stored!.timestamp * 1e6);
    /** A record as the store writes it, of one event named `name`. */
    const one = (journal: string, seq: number, at: number, name: string): WalRecord => ({
      journal,
      seq,
      micros: [at],
      values: [`${seq}:${name.length}:${name}{"name":"${name}","timestamp":${at / 1e6},"context":{},"seq":${seq}}`],
    });
    const log = new WriteAheadLog(join(dir, 'wal'));
    put(log, one('j', 1, micros, 'stored'));
    put(log, one('j', 3, micros + 2, 'after-a-gap'));
    put(log, one('j', 2, micros + 3, 'fits-but-after-the-gap'));
    put(log, one('k', 1, micros + 4, 'other-journal'));
    await log.close();
    const reopened = open();
    assert.deepEqual((await reopened.read('j', 0, 10)).map((event) => event.name), ['stored']);
    assert.deepEqual((await reopened.read('k', 0, 10)).map((event) => [event.seq, event.name, event.timestamp]), [[1, 'other-journal', (micros + 4) / 1e6]]);
    assert.deepEqual(segments(join(dir, 'wal')), ['2.wal']);
  });

  it('replays a preserving batch whose seqs skip ahead, and what follows it, but not a batch that skips without saying so', LIMIT, async (t) => {
    const { dir, open } = await scratch(t);
    const first = open();
    const [stored] = await first.append('j', [{ name: 'stored', context: {} }]);
    await first.close();
    const micros = Math.round(stored!.timestamp * 1e6);
    const value = (seq: number, at: number, name: string) =>
      `${seq}:${name.length}:${name}{"name":"${name}","timestamp":${at / 1e6},"context":{},"seq":${seq}}`;
    const log = new WriteAheadLog(join(dir, 'wal'));
    put(log, { journal: 'j', seq: 12, micros: [micros + 1, micros + 2], values: [value(10, micros + 1, 'moved'), value(12, micros + 2, 'moved')], prev: 1 });
    put(log, { journal: 'j', seq: 13, micros: [micros + 3], values: [value(13, micros + 3, 'next')] });
    put(log, { journal: 'k', seq: 9, micros: [micros + 4], values: [value(9, micros + 4, 'unsaid-gap')] });
    await log.close();
    const reopened = open();
    assert.deepEqual((await reopened.read('j', 0, 10)).map((event) => [event.seq, event.name]), [[1, 'stored'], [10, 'moved'], [12, 'moved'], [13, 'next']]);
    assert.deepEqual(await reopened.head('j'), { seq: 13, timestamp: (micros + 3) / 1e6 });
    assert.deepEqual(await reopened.read('k', 0, 10), []);
  });

  it('refuses a second store on its directory while the first is open, and the first goes on', LIMIT, async (t) => {
    const { dir, open } = await scratch(t);
    const store = open();
    await store.append('j', [{ name: 'first', context: {} }]);
    assert.throws(() => new LmdbStore({ path: dir }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'STORE_UNAVAILABLE');
      assert.equal((error.cause as { code?: string }).code, 'ELOCKED');
      return true;
    });
    await store.append('j', [{ name: 'second', context: {} }]);
    await store.close();
    const reopened = open();
    assert.deepEqual((await reopened.read('j', 0, 10)).map((event) => [event.seq, event.name]), [[1, 'first'], [2, 'second']]);
  });
});

/** Commits two events, then appends a keyed batch of three, prints what was emitted and kills itself before its commit. */
const EMIT_THEN_DIE = `
import { writeSync } from 'node:fs';
const { LmdbStore } = await import(process.env.STORE_MODULE);
const store = new LmdbStore({ path: process.env.STORE_PATH });
await store.append('j', [{ name: 'committed', context: {} }]);
await store.append('j', [{ name: 'committed', context: { n: 2 } }]);
// Watchers are called inside append(), in the turn that queued the commit: it never starts.
store.watch('j', (events) => {
  writeSync(1, JSON.stringify(events));
  process.kill(process.pid, 'SIGKILL');
});
void store.append('j', [{ name: 'lost-1', context: { n: 3 } }, { name: 'lost-2', context: {} }, { name: 'lost-3', context: { s: 'é\\n' } }], { key: 'batch-1' });
`;

/** Holds the log in LOG_DIR until killed; says so on stdout. */
const HOLD_THE_LOG = `
const { WriteAheadLog } = await import(process.env.LOG_MODULE);
new WriteAheadLog(process.env.LOG_DIR);
process.stdout.write('holding\\n');
setInterval(() => {}, 1000);
`;
