/** Online backups: LmdbStore's copy under an append load opens as a store holding every event acknowledged before it began; other stores refuse. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode } from '../src/errors.js';
import { JournalServer } from '../server/journal-server.js';
import { LmdbStore } from '../server/lmdb-store.js';
import { MemoryStore } from '../server/memory-store.js';
import type { StoredEvent } from '../server/store.js';

const LIMIT = { timeout: 120_000 };

async function readAll(store: LmdbStore, journal: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await store.read(journal, after, 5000);
    if (page.length === 0) return all;
    all.push(...page);
    after = page.at(-1)!.timestamp;
  }
}

describe('backups', () => {
  it('a backup taken under 10,000 appends/s opens as a store with every event acknowledged before it began', LIMIT, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-backup-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const store = new LmdbStore({ path: join(dir, 'data') });
    const server = new JournalServer({ store, logger: false });
    t.after(async () => {
      await server.close();
      await store.close();
    });
    for (let i = 0; i < 20; i++) await store.append('j', Array.from({ length: 1000 }, (_, n) => ({ name: 'e', context: { n, pad: 'x'.repeat(100) } })));
    let acknowledged = 0;
    let running = true;
    // 100 events every 10 ms: 10,000/s.
    const load = (async () => {
      while (running) {
        const tick = new Promise((resolve) => setTimeout(resolve, 10));
        void store.append('j', Array.from({ length: 100 }, (_, n) => ({ name: 'load', context: { n } }))).then((stored) => {
          acknowledged = Math.max(acknowledged, stored.at(-1)!.seq);
        });
        await tick;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = acknowledged;
    assert.ok(before > 20_000, 'appends were acknowledged under load');
    const copy = join(dir, 'copy');
    const status = await server.backup(copy);
    assert.equal(status.state, 'done');
    assert.ok(status.bytes! > 0);
    assert.deepEqual(server.backupStatus(), status);
    await new Promise((resolve) => setTimeout(resolve, 100));
    running = false;
    await load;
    await store.flush();
    const restored = new LmdbStore({ path: copy });
    try {
      const events = await readAll(restored, 'j');
      assert.ok(events.length >= before, `the copy holds ${events.length} events, ${before} were acknowledged before`);
      events.forEach((event, i) => assert.equal(event.seq, i + 1, 'no hole'));
      const original = await store.readFromSeq('j', 1, before);
      assert.deepEqual(events.slice(0, before), original);
      // The copy is a store of its own: appends go on from its head.
      const [next] = await restored.append('j', [{ name: 'after' }]);
      assert.equal(next!.seq, events.length + 1);
    } finally {
      await restored.close();
    }
  });

  it('refuses a target that is not empty, a store without backups, and says so in the status', LIMIT, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-backup-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const store = new LmdbStore({ path: join(dir, 'data') });
    const server = new JournalServer({ store, logger: false });
    t.after(async () => {
      await server.close();
      await store.close();
    });
    await store.append('j', [{ name: 'e' }]);
    await mkdir(join(dir, 'full'));
    await writeFile(join(dir, 'full', 'x'), 'x');
    await assert.rejects(server.backup(join(dir, 'full')), { code: ErrorCode.BACKUP_REFUSED });
    assert.equal(server.backupStatus().state, 'failed');
    assert.equal(server.backupStatus().error?.code, ErrorCode.BACKUP_REFUSED);
    const memory = new JournalServer({ store: new MemoryStore(), logger: false });
    await assert.rejects(memory.backup(join(dir, 'm')), { code: ErrorCode.BACKUP_UNSUPPORTED });
    await memory.close();
  });
});
