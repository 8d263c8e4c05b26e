/**
 * LmdbStore on a disk that stops taking writes: a child process runs the store
 * under `ulimit -f`, so a write past the limit fails with EFBIG (Node ignores
 * SIGXFSZ), whichever file reaches it first, the log segment or LMDB's data
 * file. The store must refuse appends from then on and close; reopened without
 * the limit, it must hold every event a watcher saw or an append acknowledged.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { ErrorCode } from '../src/errors.js';
import { LmdbStore } from '../server/lmdb-store.js';

const LIMIT = { timeout: 60_000 };
/** The child's file size limit, in the 1 KiB blocks of `ulimit -f`. */
const FILE_LIMIT_BLOCKS = 256;
/** Past this the child is killed and the test fails: a store that hangs on a full disk is a bug. */
const CHILD_LIMIT_MS = 20_000;
const NO_BASH = spawnSync('bash', ['-c', 'true']).error !== undefined;

/** An event the child's watcher saw: seq, timestamp and a digest of its wire JSON. */
type Seen = [seq: number, timestamp: number, digest: string];

type Outcome = { settled: 'resolved' } | { settled: 'rejected'; code: unknown; message: string; cause: string };

/** What the child reported, line by line, and how it ended. */
interface ChildRun {
  /** Each batch the watcher was given, in order. */
  readonly watched: Seen[][];
  /** The seqs of each append that resolved, in order. */
  readonly acked: number[][];
  /** The first append that rejected. */
  rejected: Outcome | undefined;
  /** An append made after that one. */
  again: Outcome | undefined;
  flush: Outcome | undefined;
  closed: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  killed: boolean;
  stderr: string;
}

const digest = (json: string): string => createHash('sha256').update(json).digest('hex').slice(0, 16);
const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** Runs FILL_THE_DISK on a new store at `path` under the file size limit. */
async function fillTheDisk(path: string, pad: string): Promise<ChildRun> {
  const child = spawn('bash', ['-c', `ulimit -f ${FILE_LIMIT_BLOCKS} && exec "$0" --input-type=module -e "$1"`, process.execPath, FILL_THE_DISK], {
    env: { ...process.env, STORE_MODULE: new URL('../server/lmdb-store.js', import.meta.url).href, STORE_PATH: path, PAD: pad },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: ChildRun = { watched: [], acked: [], rejected: undefined, again: undefined, flush: undefined, closed: false, code: null, signal: null, killed: false, stderr: '' };
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
  const timer = setTimeout(() => {
    run.killed = true;
    child.kill('SIGKILL');
  }, CHILD_LIMIT_MS);
  try {
    // 'close' comes after the child's output is all read.
    [run.code, run.signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve([code, signal]));
    });
  } finally {
    clearTimeout(timer);
  }
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const report = JSON.parse(line) as { watched?: Seen[]; acked?: number[]; rejected?: Outcome; again?: Outcome; flush?: Outcome; closed?: true };
    if (report.watched) run.watched.push(report.watched);
    if (report.acked) run.acked.push(report.acked);
    if (report.rejected) run.rejected = report.rejected;
    if (report.again) run.again = report.again;
    if (report.flush) run.flush = report.flush;
    if (report.closed) run.closed = true;
  }
  return run;
}

/** The child's stderr, for failure messages: lmdb-js logs there, and an uncaught error ends up there. */
const stderrOf = (run: ChildRun): string => (run.stderr.trim() === '' ? '(no stderr)' : `stderr:\n${run.stderr.slice(0, 3000)}`);

async function checkFullDisk(t: TestContext, pad: string): Promise<void> {
  if (NO_BASH) {
    t.skip('no bash here to run the store under ulimit -f');
    return;
  }
  const path = await mkdtemp(join(tmpdir(), 'wsjournal-disk-full-'));
  t.after(() => rm(path, { recursive: true, force: true }));
  const run = await fillTheDisk(path, pad);
  const first = run.rejected?.settled === 'rejected' ? `${run.rejected.message} (cause: ${run.rejected.cause})` : 'none';
  t.diagnostic(`${run.acked.length} appends acknowledged, ${run.watched.length} batches watched; first rejection: ${first}`);

  await t.test('the store refuses appends from the first failed write on, and closes', () => {
    assert.equal(run.killed, false, `the child was killed after ${CHILD_LIMIT_MS} ms (closed: ${run.closed}); ${stderrOf(run)}`);
    assert.deepEqual({ code: run.code, signal: run.signal }, { code: 0, signal: null }, `the child did not exit cleanly; ${stderrOf(run)}`);
    assert.ok(run.rejected, `no append rejected before the child stopped appending; ${stderrOf(run)}`);
    assert.equal(run.rejected.settled, 'rejected');
    assert.equal(run.rejected.code, ErrorCode.STORE_UNAVAILABLE, `the first rejection: ${first}`);
    assert.equal(run.again?.settled, 'rejected', 'an append after the failure was taken');
    assert.equal(run.again.code, ErrorCode.STORE_UNAVAILABLE);
    assert.match(run.again.message, /takes no more appends until it is reopened/);
    assert.equal(run.flush?.settled, 'rejected', 'flush() resolved after the failure');
    assert.equal(run.flush.code, ErrorCode.STORE_UNAVAILABLE);
    assert.equal(run.closed, true, 'close() did not resolve');
  });

  await t.test('reopened, it holds every event a watcher saw or an append acknowledged, and goes on after them', async () => {
    // Checked even if the child died: its watcher and its appends reported as they went.
    const seen = run.watched.flat();
    assert.ok(run.acked.length > 0, `no append was acknowledged before the disk filled; ${stderrOf(run)}`);
    assert.deepEqual(seen.map(([seq]) => seq), range(1, seen.length), 'the watcher saw seqs 1..n in order');
    const watchedBatches = run.watched.map((batch) => JSON.stringify(batch.map(([seq]) => seq)));
    for (const batch of run.acked) {
      assert.ok(watchedBatches.includes(JSON.stringify(batch)), `acknowledged batch ${JSON.stringify(batch)} was not given to the watcher whole`);
    }

    const store = new LmdbStore({ path });
    try {
      const events = await store.read('j', 0, 1_000_000);
      const n = events.length;
      assert.deepEqual(events.map((event) => event.seq), range(1, n), 'seqs are contiguous from 1');
      // Every batch the log took was given to the watcher, so nothing else may come back either.
      assert.equal(n, seen.length, `the watcher saw ${seen.length} events, the reopened store holds ${n}`);
      for (const [seq, timestamp, hash] of seen) {
        const event = events[seq - 1];
        assert.ok(event, `event ${seq}, which the watcher saw, is gone`);
        assert.deepEqual([event.seq, event.timestamp, digest(event.json)], [seq, timestamp, hash], `event ${seq} is not the one the watcher saw`);
      }
      for (const seq of run.acked.flat()) assert.ok(seq <= n, `acknowledged event ${seq} is gone`);
      const [next] = await store.append('j', [{ name: 'after', context: {} }]);
      assert.equal(next?.seq, n + 1);
      assert.ok(next.timestamp > (events.at(-1)?.timestamp ?? 0), 'timestamps go on increasing after the replay');
    } finally {
      await store.close();
    }
  });
}

describe('LmdbStore on a full disk', () => {
  // Which file fills first is not asserted; these shapes make each one likely. LMDB puts a
  // ~2 KB value on overflow pages of its own, so plain events grow its data file faster.
  it('with plain events of ~2 KB', LIMIT, (t) => checkFullDisk(t, 'x'.repeat(2000)));
  // The log escapes a context's quotes a second time, so it grows faster with these.
  it('with events full of quotes, which the log writes at twice their size', LIMIT, (t) => checkFullDisk(t, '"'.repeat(2000)));
});

/**
 * Watches journal `j` and appends batches of ten events padded with PAD, one after another,
 * until one rejects; then tries once more, flushes and closes. Reports each step as a JSON
 * line with write(2) as it happens, so the parent learns what the watcher saw even if the
 * process dies. It catches nothing else: an unhandled rejection ends it, as it would a server.
 */
const FILL_THE_DISK = `
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
const { LmdbStore } = await import(process.env.STORE_MODULE);
const report = (line) => writeSync(1, JSON.stringify(line) + '\\n');
const digest = (json) => createHash('sha256').update(json).digest('hex').slice(0, 16);
const outcome = (promise) => promise.then(
  () => ({ settled: 'resolved' }),
  (error) => ({ settled: 'rejected', code: error.code, message: error.message, cause: String(error.cause?.message ?? error.cause) }),
);
const store = new LmdbStore({ path: process.env.STORE_PATH });
store.watch('j', (events) => report({ watched: events.map((event) => [event.seq, event.timestamp, digest(event.json)]) }));
const pad = process.env.PAD;
// 200 batches are megabytes, far past the limit: running out of them is a failure the parent reports.
for (let batch = 0; batch < 200; batch++) {
  const result = await outcome(store.append('j', Array.from({ length: 10 }, (_, n) => ({ name: 'filler', context: { batch, n, pad } }))).then((stored) => {
    report({ acked: stored.map((event) => event.seq) });
  }));
  if (result.settled === 'rejected') {
    report({ rejected: result });
    break;
  }
}
report({ again: await outcome(store.append('j', [{ name: 'again', context: {} }])) });
report({ flush: await outcome(store.flush()) });
await store.close();
report({ closed: true });
`;
