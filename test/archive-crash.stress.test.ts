/** kill -9 in the middle of an archive: every archive file is whole, and archiving again gives every event once, in the archives or the store. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LmdbStore } from '../server/lmdb-store.js';
import { Archives } from '../server/retention/archives.js';
import { ScanSlicer } from '../server/budget/scan-slicer.js';
import { within } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/archive-child.js', import.meta.url));
const FILL = 230_000;
const BEFORE = 220_001;
/** The kills, as fractions of the time an archive takes when left alone (measured first). */
const POINTS = [0.1, 0.45, 0.55, 0.9, 0.98];

/** Every archived seq of `journal`, file by file, each file read whole. */
async function archivedSeqs(archives: Archives): Promise<number[]> {
  const seqs: number[] = [];
  let after = 0;
  // Pages end at their limit only.
  const budget = { maxUnits: Infinity, timeMs: Infinity, scheduler: new ScanSlicer(), owner: 'test' };
  for (;;) {
    const page = await archives.read('j', { after, limit: 50_000 }, budget);
    seqs.push(...page.events.map((line) => (JSON.parse(line) as { seq: number }).seq));
    if (page.last === undefined) return seqs;
    after = page.last;
  }
}

describe('kill -9 during an archive', () => {
  it(`leaves whole files only; archiving again keeps every event exactly once (kills at ${POINTS.join(', ')} of an archive's time)`, { timeout: 300_000 }, async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'wsjournal-archive-crash-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    // One archive left alone, to know how long one takes.
    const measureDir = join(root, 'measure');
    const measure = spawn(process.execPath, [CHILD, measureDir, String(FILL), String(BEFORE)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const measureLines = createInterface({ input: measure.stdout! });
    let startedAt = 0;
    const fullMs = await within(new Promise<number>((resolve) => measureLines.on('line', (line) => {
      if (line === 'archiving') startedAt = performance.now();
      else if (line.startsWith('archived')) resolve(performance.now() - startedAt);
    })), 120_000, 'a whole archive');
    await new Promise((resolve) => measure.once('exit', resolve));
    const states: string[] = [];
    for (const [round, point] of POINTS.entries()) {
      const delayMs = fullMs * point;
      const dir = join(root, String(round));
      const child = spawn(process.execPath, [CHILD, dir, String(FILL), String(BEFORE)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const lines = createInterface({ input: child.stdout! });
      await within(new Promise<void>((resolve) => lines.on('line', (line) => line === 'archiving' && resolve())), 120_000, 'the archive to start');
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      child.kill('SIGKILL');
      await exited;
      const store = new LmdbStore({ path: join(dir, 'data') });
      const archives = new Archives(join(dir, 'archives'));
      try {
        // What the kill left: whole files, contiguous from 1, and the store contiguous from its first.
        const before = await archivedSeqs(archives);
        before.forEach((seq, i) => assert.equal(seq, i + 1, `round ${round}: archived seq ${i + 1}`));
        const { first } = await store.start('j');
        assert.ok(first.seq <= before.length + 1, `round ${round}: a gap between the archives (to ${before.length}) and the store (from ${first.seq})`);
        await archives.archive(store, 'j', { beforeSeq: BEFORE });
        const after = await archivedSeqs(archives);
        assert.equal(after.length, BEFORE - 1, `round ${round}: archived once each`);
        after.forEach((seq, i) => assert.equal(seq, i + 1));
        assert.equal((await store.start('j')).first.seq, BEFORE);
        assert.ok(!(await readdir(join(dir, 'archives', 'j'))).some((name) => name.startsWith('.tmp-')));
        states.push(`${Math.round(delayMs)} ms: ${before.length} archived, store from ${first.seq}`);
      } finally {
        await store.close();
      }
    }
    console.log(`# a whole archive took ${Math.round(fullMs)} ms; at each kill: ${states.join('; ')}`);
    assert.ok(states.some((state) => !state.includes(': 0 archived')), 'at least one kill came after a file was written');
  });
});
