/** kill -9 in the middle of a trim of LmdbStore: the journal reopens without a hole, only a shorter prefix gone. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LmdbStore } from '../server/lmdb-store.js';
import type { StoredEvent } from '../server/store.js';
import { within } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/trim-child.js', import.meta.url));
const FILL = 60_000;
const BEFORE = 50_001;
/** The kill comes this many ms after the trim started, one round each. */
const DELAYS = [0, 3, 8, 15, 30, 60];

async function readAll(store: LmdbStore): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await store.read('j', after, 5000);
    if (page.length === 0) return all;
    all.push(...page);
    after = page.at(-1)!.timestamp;
  }
}

describe('kill -9 during a trim', () => {
  it(`leaves no hole: after a kill at ${DELAYS.join(', ')} ms into a trim, the journal is contiguous from its first kept event`, { timeout: 180_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-trim-crash-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const firsts: number[] = [];
    for (const [round, delayMs] of DELAYS.entries()) {
      const path = join(dir, String(round));
      const child = spawn(process.execPath, [CHILD, path, String(FILL), String(BEFORE)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const lines = createInterface({ input: child.stdout! });
      await within(new Promise<void>((resolve) => lines.on('line', (line) => line === 'trimming' && resolve())), 60_000, 'the trim to start');
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      child.kill('SIGKILL');
      await exited;
      const store = new LmdbStore({ path });
      try {
        const events = await readAll(store);
        const first = events[0]!.seq;
        assert.ok(first >= 1 && first <= BEFORE, `round ${round}: first kept ${first}`);
        assert.ok(events.length >= FILL - first + 1, `round ${round}: ${events.length} events from ${first}`);
        events.forEach((event, i) => assert.equal(event.seq, first + i, `round ${round}: a hole at ${first + i}`));
        const { removed } = await store.start('j');
        assert.equal(removed.seq, first - 1, `round ${round}: the removed position matches the first kept`);
        // The trim finishes when asked again.
        await store.trim('j', { beforeSeq: BEFORE });
        assert.equal((await store.start('j')).first.seq, BEFORE);
        firsts.push(first);
      } finally {
        await store.close();
      }
    }
    console.log(`# first kept after each kill: ${firsts.join(', ')}`);
    assert.ok(firsts.some((first) => first > 1 && first < BEFORE), 'at least one kill landed in the middle of a trim');
  });
});
