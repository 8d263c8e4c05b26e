/**
 * The same reports and spans on every store: MemoryStore, LmdbStore (its events partly in
 * LMDB, partly only in the write-ahead log) and RedisStore (skipped with the reason when
 * Redis is not reachable), each filled with the same events at the same instants through the
 * store's clock, each answer through real HTTP. The counts per day are checked against a
 * count made here with `Intl`; every other answer must be the same text on every store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JournalServer } from '../server/journal-server.js';
import type { JournalStore } from '../server/store.js';
import { readAll } from './harness.js';
import { get } from './http-client.js';
import { startServer } from './helpers.js';
import { onEveryStore, type OpenStore } from './fixtures/stores.js';
import type { StoreFixture } from './store-conformance.js';

const LIMIT = { timeout: 60_000 };
const INSTRUMENTS = ['hplc-1', 'hplc-2', 'ms-1'];
const LEVELS: [string, number][] = [
  ['info', 20],
  ['warning', 30],
  ['error', 40],
];

/** The queries each store answers; the first is also counted here. */
const QUERIES = [
  'report?period=day&tz=Europe/Berlin&by=name',
  'report?period=hour&tz=America/New_York&by=level',
  'report?period=week&tz=Asia/Tokyo&by=context.instrument&format=csv',
  'report?period=month&from=2024-10-26T12:00:00Z&to=2024-10-28T06:00:00Z',
  'spans?start=run_start&stop=run_end&key=context.instrument&period=day&tz=Europe/Berlin&to=2024-10-30',
  'spans?start=run_start&stop=run_end&key=context.instrument&period=hour&tz=Europe/Berlin&from=2024-10-27T00:00&to=2024-10-27T04:00&format=csv',
];

/** A clock the test moves: microseconds since the epoch. */
class Clock {
  micros = 0;
  readonly read = (): number => this.micros;
}

/** Answers of the first store, by query, for the others to match. */
const reference = new Map<string, string>();

/**
 * 2,000 events in batches of 20, one batch every 40 minutes from 2024-10-25T22:00Z, across
 * Berlin's autumn change (2024-10-27, 25 hours): log events at three levels, measurements on
 * three instruments, and runs (`run_start`, `run_end`) on each instrument.
 */
async function fill(store: JournalStore, clock: Clock): Promise<void> {
  const first = Date.parse('2024-10-25T22:00:00Z');
  for (let batch = 0; batch < 100; batch++) {
    clock.micros = (first + batch * 40 * 60_000) * 1000;
    const events = Array.from({ length: 20 }, (_, n) => {
      const i = batch * 20 + n;
      const instrument = INSTRUMENTS[i % INSTRUMENTS.length]!;
      if (n === 0) return { name: batch % 2 === 0 ? 'run_start' : 'run_end', context: { instrument: INSTRUMENTS[Math.floor(batch / 2) % 3] } };
      if (i % 5 === 0) {
        const [level, levelno] = LEVELS[i % LEVELS.length]!;
        return { name: 'log', context: { level, levelno, message: `event ${i}` } };
      }
      return { name: 'measure', context: { instrument, value: i } };
    });
    await store.append('lab', events);
  }
}

function reportConformance(name: string, open: OpenStore): void {
  describe(`reports on ${name}`, () => {
    let fixture: StoreFixture;
    let server: JournalServer;
    const clock = new Clock();

    it('serves a journal of 2,000 events across a daylight-saving change', LIMIT, async () => {
      fixture = await open(clock.read);
      server = await startServer({ store: fixture.store });
      await fill(fixture.store, clock);
      assert.equal((await fixture.store.head('lab')).seq, 2000);
    });

    it('counts per day of Europe/Berlin and name as a count of the stored events does', LIMIT, async () => {
      const counts = new Map<string, number>();
      const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin', year: 'numeric', month: '2-digit', day: '2-digit' });
      for (const event of await readAll(fixture.store, 'lab')) {
        const key = `${day.format(event.timestamp * 1000)} ${event.name}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const answer = await get(server, `/v1/journals/lab/${QUERIES[0]}`);
      assert.equal(answer.status, 200, answer.text);
      const rows: { start: string; group: string; count: number }[] = answer.json.rows;
      assert.deepEqual(new Map(rows.map((row) => [`${row.start.slice(0, 10)} ${row.group}`, row.count])), counts);
      assert.deepEqual([...new Set(rows.map((row) => row.start))], ['2024-10-26T00:00:00+02:00', '2024-10-27T00:00:00+02:00', '2024-10-28T00:00:00+01:00']);
    });

    it('answers every report and spans query with the same text as the other stores', LIMIT, async () => {
      for (const query of QUERIES) {
        const answer = await get(server, `/v1/journals/lab/${query}`);
        assert.equal(answer.status, 200, `${query}: ${answer.text}`);
        assert.ok(answer.text.length > 30, `${query}: ${answer.text}`);
        const known = reference.get(query);
        if (known === undefined) reference.set(query, answer.text);
        else assert.equal(answer.text, known, query);
      }
    });

    it('closes', LIMIT, async () => {
      await server.close();
      await fixture.cleanup();
    });
  });
}

await onEveryStore({ title: 'reports', file: 'test/report-stores.test.ts', tag: 'report' }, reportConformance);
