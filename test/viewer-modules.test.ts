/**
 * The viewer's small pure modules: what the search box means, times and
 * context lines, the address fragment, the tab's token, rates from heads,
 * and report and spans rows shaped for charts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { niceCeiling, OTHER, periodLabel, reportChart, spansChart } from '../viewer/chart-data.js';
import { contextLine, formatAgo, formatIsoMicros, formatRate, formatTime, parseJump } from '../viewer/format.js';
import { RateTracker } from '../viewer/rate-tracker.js';
import { formatRoute, journalHref, parseRoute } from '../viewer/route.js';
import { TokenStore } from '../viewer/token.js';

/** A Storage in memory, as the browser's sessionStorage behaves. */
class MemoryStorage {
  readonly #items = new Map<string, string>();
  get length(): number {
    return this.#items.size;
  }
  clear(): void {
    this.#items.clear();
  }
  getItem(key: string): string | null {
    return this.#items.get(key) ?? null;
  }
  key(index: number): string | null {
    return [...this.#items.keys()][index] ?? null;
  }
  removeItem(key: string): void {
    this.#items.delete(key);
  }
  setItem(key: string, value: string): void {
    this.#items.set(key, value);
  }
}

describe('the search box', () => {
  it('reads digits as a seq, a decimal as a timestamp, and anything else as a date', () => {
    assert.deepEqual(parseJump('1234'), { seq: 1234 });
    assert.deepEqual(parseJump(' #42 '), { seq: 42 });
    assert.deepEqual(parseJump('1700000000.5'), { time: 1700000000.5 });
    assert.deepEqual(parseJump('2025-06-01T12:00:00Z'), { time: Date.UTC(2025, 5, 1, 12) / 1000 });
    const local = parseJump('2025-06-01 12:00');
    assert.deepEqual(local, { time: new Date(2025, 5, 1, 12, 0).getTime() / 1000 }, 'a date without a zone is local time');
    assert.equal(parseJump('0'), undefined, 'seqs start at 1');
    assert.equal(parseJump('yesterday-ish'), undefined);
    assert.equal(parseJump('   '), undefined);
  });
});

describe('formatting', () => {
  it('shows times to the millisecond in a zone, and to the microsecond in UTC', () => {
    const t = Date.UTC(2025, 0, 2, 3, 4, 5, 678) / 1000 + 0.000009;
    assert.equal(formatTime(t, 'UTC'), '2025-01-02 03:04:05.678');
    assert.equal(formatTime(t, 'Asia/Tokyo'), '2025-01-02 12:04:05.678');
    assert.equal(formatIsoMicros(1_700_000_000.000001), '2023-11-14T22:13:20.000001Z');
    assert.equal(formatIsoMicros(1_700_000_000.5), '2023-11-14T22:13:20.500000Z');
  });

  it('says how long ago and how fast', () => {
    assert.equal(formatAgo(100, 100.5), 'just now');
    assert.equal(formatAgo(100, 142), '42 s ago');
    assert.equal(formatAgo(0, 7200), '2 h ago');
    assert.equal(formatRate(0), '0/s');
    assert.equal(formatRate(0.25), '0.25/s');
    assert.equal(formatRate(12.34), '12.3/s');
    assert.equal(formatRate(12345.6), '12,346/s');
  });

  it('puts a context on one line, keys sorted, and cuts it', () => {
    assert.equal(contextLine({ b: 2, a: 'x', c: { d: [1] } }), 'a=x b=2 c={"d":[1]}');
    const long = contextLine({ text: 'y'.repeat(500) }, 20);
    assert.equal(long.length, 20);
    assert.ok(long.endsWith('…'));
  });
});

describe('the address fragment', () => {
  it('round-trips each view with its parameters', () => {
    assert.deepEqual(parseRoute(''), { view: 'journals' });
    assert.deepEqual(parseRoute('#/'), { view: 'journals' });
    const journal = parseRoute('#/journal/jobs.eu-1?names=a%2Cb&where=%7B%7D');
    assert.equal(journal.view, 'journal');
    assert.equal(journal.view === 'journal' && journal.journal, 'jobs.eu-1');
    assert.equal(journal.view === 'journal' && journal.params.get('names'), 'a,b');
    assert.equal(formatRoute(journal), '#/journal/jobs.eu-1?names=a%2Cb&where=%7B%7D');
    const charts = parseRoute(journalHref('charts', 'jobs', { period: 'day', tz: 'Europe/Paris', by: '' }));
    assert.equal(charts.view, 'charts');
    assert.equal(charts.view === 'charts' && charts.params.toString(), 'period=day&tz=Europe%2FParis');
    assert.deepEqual(parseRoute('#/elsewhere'), { view: 'journals' });
  });
});

describe('the tab token', () => {
  it('takes ?token= from the address, keeps it for the tab, and gives back the address without it', () => {
    const storage = new MemoryStorage();
    const tokens = new TokenStore(storage);
    assert.equal(tokens.get(), undefined);
    const cleaned = tokens.adoptFromUrl('http://127.0.0.1:7707/?token=s3cret&x=1#/journal/jobs');
    assert.equal(cleaned, 'http://127.0.0.1:7707/?x=1#/journal/jobs');
    assert.equal(tokens.get(), 's3cret');
    assert.equal(new TokenStore(storage).get(), 's3cret', 'a reload of the tab finds it');
    assert.equal(tokens.adoptFromUrl('http://127.0.0.1:7707/#/'), undefined, 'no token in the address: nothing to clean');
    tokens.clear();
    assert.equal(new TokenStore(storage).get(), undefined);
  });

  it('works in memory when storage is refused', () => {
    const refusing = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('denied');
      },
      removeItem: () => {
        throw new Error('denied');
      },
    } as unknown as Storage;
    const tokens = new TokenStore(refusing);
    tokens.set('t');
    assert.equal(tokens.get(), 't');
    tokens.clear();
    assert.equal(tokens.get(), undefined);
  });
});

describe('RateTracker', () => {
  it('measures each journal’s events per second between refreshes, bounded, forgetting journals that went away', () => {
    const tracker = new RateTracker(3);
    tracker.record([{ name: 'a', head: { seq: 0, timestamp: 0 } }], 0);
    assert.deepEqual(tracker.rates('a'), []);
    for (let i = 1; i <= 5; i++) tracker.record([{ name: 'a', head: { seq: i * 20, timestamp: i } }], i * 2);
    assert.deepEqual(tracker.rates('a'), [10, 10, 10], 'the last 3 samples: 20 events each 2 s');
    tracker.record([{ name: 'b', head: { seq: 5, timestamp: 1 } }], 12);
    assert.deepEqual(tracker.rates('a'), []);
  });
});

describe('chart data', () => {
  const hour = (h: number) => new Date(Date.UTC(2025, 0, 1, h)).toISOString();
  it('stacks report rows by period, in order, and folds the smallest groups into "other"', () => {
    const rows = [
      { start: hour(1), end: hour(2), group: 'b', count: 3 },
      { start: hour(0), end: hour(1), group: 'a', count: 10 },
      { start: hour(0), end: hour(1), group: 'b', count: 2 },
      { start: hour(1), end: hour(2), group: 'c', count: 1 },
      { start: hour(1), end: hour(2), group: 'd', count: 1 },
    ];
    const all = reportChart(rows, 'hour', 'UTC');
    assert.deepEqual(all.groups, ['a', 'b', 'c', 'd']);
    assert.deepEqual(all.periods.map((p) => p.label), ['01-01 00:00', '01-01 01:00']);
    const folded = reportChart(rows, 'hour', 'UTC', 3);
    assert.deepEqual(folded.groups, ['a', 'b', OTHER]);
    assert.equal(folded.periods[1]!.values.get(OTHER), 2);
    assert.equal(folded.periods[1]!.values.get('b'), 3);
  });

  it('draws the keys with the most busy time and counts the rest', () => {
    const rows = [
      { start: hour(0), end: hour(1), key: 'r1', spans: 1, busySeconds: 1800, utilization: 0.5 },
      { start: hour(0), end: hour(1), key: 'r2', spans: 1, busySeconds: 360, utilization: 0.1 },
      { start: hour(0), end: hour(1), key: 7, spans: 2, busySeconds: 3600, utilization: 1 },
    ];
    const chart = spansChart(rows, 'hour', 'UTC', 2);
    assert.deepEqual(chart.groups, ['7', 'r1']);
    assert.equal(chart.hidden, 1);
    assert.equal(chart.periods[0]!.values.get('r1'), 0.5);
  });

  it('tops the axis at a round value', () => {
    assert.deepEqual([0, 0.3, 1, 7, 176, 201, 2400, 9001].map(niceCeiling), [1, 0.5, 1, 10, 200, 250, 2500, 10000]);
  });

  it('labels periods in the chosen zone', () => {
    const ms = Date.UTC(2025, 2, 30, 22);
    assert.equal(periodLabel(ms, 'day', 'UTC'), '2025-03-30');
    assert.equal(periodLabel(ms, 'day', 'Europe/Paris'), '2025-03-31');
    assert.equal(periodLabel(ms, 'month', 'UTC'), '2025-03');
    assert.equal(periodLabel(ms, 'hour', 'Asia/Kolkata'), '03-31 03:30');
  });
});
