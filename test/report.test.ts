/**
 * Reports through real HTTP on port 0: events counted per period of a time zone across
 * daylight-saving changes (Europe/Berlin, America/New_York), grouped by name, level and a
 * context field, as JSON and as CSV; ISO weeks and months; `from` and `to` cutting their
 * periods; every bad parameter; the bounds of a report; a report sharing the event loop.
 * Events are placed at chosen instants with the store's clock; expected days are computed
 * here with `Intl`, independently of the server's calendar.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../server/memory-store.js';
import type { JournalServer } from '../server/journal-server.js';
import { ClockedStore } from './clocked-store.js';
import { get, request, type HttpAnswer } from './http-client.js';
import { startServer } from './helpers.js';

const LIMIT = { timeout: 60_000 };

/** The calendar date of `ms` in `zone`, `YYYY-MM-DD`, by Intl alone. */
function localDate(ms: number, zone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
}

/** Counts of `items` by `key`, as `{ key: count }`, skipping undefined keys. */
function tally<T>(items: readonly T[], key: (item: T) => string | undefined): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

function assertError(answer: HttpAnswer, status: number, code: string, path?: string): void {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.json?.error?.code, code, answer.text);
  if (path !== undefined) assert.equal(answer.json.error.details?.[0]?.path, path, answer.text);
}

interface Row {
  start: string;
  end: string;
  group: unknown;
  count: number;
}

const hours = (row: { start: string; end: string }): number => (Date.parse(row.end) - Date.parse(row.start)) / 3_600_000;

/** The lab journal: one event every 30 minutes from 2024-03-30T20:00Z to 2024-04-01T02:00Z, across Berlin's spring change. */
interface LabEvent {
  ms: number;
  name: string;
  level?: string;
  instrument?: string | number;
}

async function labJournal(store: ClockedStore): Promise<LabEvent[]> {
  const events: LabEvent[] = [];
  const levels = ['info', 'warning', 'error'];
  const instruments: (string | number | undefined)[] = ['hplc-1', 'hplc-2', 7, undefined];
  for (let ms = Date.parse('2024-03-30T20:00:00Z'), i = 0; ms <= Date.parse('2024-04-01T02:00:00Z'); ms += 1_800_000, i++) {
    const event: LabEvent = { ms, name: i % 3 === 0 ? 'log' : i % 3 === 1 ? 'measure' : 'calibrate' };
    const context: Record<string, unknown> = {};
    if (event.name === 'log') {
      event.level = levels[i % levels.length]!;
      Object.assign(context, { level: event.level, levelno: { info: 20, warning: 30, error: 40 }[event.level], message: `m${i}` });
    }
    const instrument = instruments[i % instruments.length];
    if (instrument !== undefined) {
      event.instrument = instrument;
      context['instrument'] = instrument;
    }
    await store.at(new Date(ms).toISOString(), 'lab', event.name, context);
    events.push(event);
  }
  return events;
}

/** Berlin's days around the spring change, as the rows must name them. */
const BERLIN_DAYS: Record<string, [string, string]> = {
  '2024-03-30': ['2024-03-30T00:00:00+01:00', '2024-03-31T00:00:00+01:00'],
  '2024-03-31': ['2024-03-31T00:00:00+01:00', '2024-04-01T00:00:00+02:00'],
  '2024-04-01': ['2024-04-01T00:00:00+02:00', '2024-04-02T00:00:00+02:00'],
};

/** The rows expected for per-day counts keyed `day` or `day|group`. */
function expectedRows(counts: Record<string, number>, group: (text: string) => unknown): Row[] {
  return Object.entries(counts).map(([key, count]) => {
    const [day, text] = key.split('|') as [string, string | undefined];
    const [start, end] = BERLIN_DAYS[day]!;
    return { start, end, group: text === undefined ? null : group(text), count };
  });
}

/** Orders rows as the server must: by start, then group (null, numbers, strings). */
function sorted(rows: Row[]): Row[] {
  const rank = (value: unknown) => (value === null ? 0 : typeof value === 'number' ? 2 : 3);
  return [...rows].sort((a, b) => a.start.localeCompare(b.start) || rank(a.group) - rank(b.group) || String(a.group).localeCompare(String(b.group)));
}

describe('reports over HTTP', () => {
  let server: JournalServer;
  let store: ClockedStore;
  let lab: LabEvent[];
  const report = (query: string, journal = 'lab') => get(server, `/v1/journals/${journal}/report?${query}`);

  it('serves a journal across a daylight-saving change', LIMIT, async () => {
    store = new ClockedStore();
    server = await startServer({ store });
    lab = await labJournal(store);
    assert.equal(lab.length, 61);
  });

  it('counts per day of Europe/Berlin: the day of the spring change is 23 hours', LIMIT, async () => {
    const answer = await report('period=day&tz=Europe/Berlin');
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
    const expected = expectedRows(
      tally(lab, (event) => localDate(event.ms, 'Europe/Berlin')),
      () => null,
    );
    assert.deepEqual(answer.json, { rows: sorted(expected) });
    assert.deepEqual(answer.json.rows.map(hours), [24, 23, 24]);
    // In UTC the same events fall on other days, each of 24 hours.
    const utc = await report('period=day');
    assert.deepEqual(
      utc.json.rows.map((row: Row) => [row.start, row.count]),
      Object.entries(tally(lab, (event) => localDate(event.ms, 'UTC'))).map(([day, count]) => [`${day}T00:00:00Z`, count]),
    );
  });

  it('groups by name, by level (log events only) and by a context field', LIMIT, async () => {
    const day = (event: LabEvent) => localDate(event.ms, 'Europe/Berlin');
    const byName = await report('period=day&tz=Europe/Berlin&by=name');
    assert.deepEqual(byName.json.rows, sorted(expectedRows(tally(lab, (event) => `${day(event)}|${event.name}`), (text) => text)));

    const byLevel = await report('period=day&tz=Europe/Berlin&by=level');
    const levels = tally(lab, (event) => (event.level === undefined ? undefined : `${day(event)}|${event.level}`));
    assert.deepEqual(byLevel.json.rows, sorted(expectedRows(levels, (text) => text)));
    assert.equal(byLevel.json.rows.reduce((sum: number, row: Row) => sum + row.count, 0), lab.filter((event) => event.name === 'log').length);

    const byInstrument = await report('period=day&tz=Europe/Berlin&by=context.instrument');
    const instruments = tally(lab, (event) => `${day(event)}|${JSON.stringify(event.instrument ?? null)}`);
    assert.deepEqual(byInstrument.json.rows, sorted(expectedRows(instruments, (text) => JSON.parse(text))));
    // The group is the value itself: a number stays a number, a missing field is null.
    assert.ok(byInstrument.json.rows.some((row: Row) => row.group === 7));
    assert.ok(byInstrument.json.rows.some((row: Row) => row.group === null));
  });

  it('answers the same rows as CSV: a header, RFC 4180 quoting, no byte-order mark', LIMIT, async () => {
    const json = await report('period=day&tz=Europe/Berlin&by=context.instrument');
    const csv = await report('period=day&tz=Europe/Berlin&by=context.instrument&format=csv');
    assert.equal(csv.status, 200, csv.text);
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv; charset=utf-8/);
    const response = await fetch(`${server.url.replace('ws:', 'http:')}/v1/journals/lab/report?format=csv`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    assert.deepEqual([...bytes.slice(0, 5)], [...Buffer.from('start')], 'no byte-order mark');
    const cell = (group: unknown) => (group === null ? '' : String(group));
    const lines = ['start,end,group,count', ...json.json.rows.map((row: Row) => `${row.start},${row.end},${cell(row.group)},${row.count}`)];
    assert.equal(csv.text, `${lines.join('\n')}\n`);

    // Values with commas, quotes and line breaks are quoted, not joined.
    await store.at('2024-05-01T10:00:00Z', 'quoting', 'x', { tag: 'a,b' });
    await store.at('2024-05-01T10:00:01Z', 'quoting', 'x', { tag: 'say "hi"' });
    await store.at('2024-05-01T10:00:02Z', 'quoting', 'x', { tag: 'two\nlines' });
    await store.at('2024-05-01T10:00:03Z', 'quoting', 'x', { tag: { nested: true } });
    const quoted = await report('by=context.tag&format=csv', 'quoting');
    assert.equal(
      quoted.text,
      [
        'start,end,group,count',
        '2024-05-01T00:00:00Z,2024-05-02T00:00:00Z,"a,b",1',
        '2024-05-01T00:00:00Z,2024-05-02T00:00:00Z,"say ""hi""",1',
        '2024-05-01T00:00:00Z,2024-05-02T00:00:00Z,"two\nlines",1',
        '2024-05-01T00:00:00Z,2024-05-02T00:00:00Z,"{""nested"":true}",1',
        '',
      ].join('\n'),
    );
  });

  it('counts per hour across both changes of America/New_York: no 02:00 in spring, 01:00 twice in autumn', LIMIT, async () => {
    for (let ms = Date.parse('2024-03-10T05:30:00Z'); ms <= Date.parse('2024-03-10T08:30:00Z'); ms += 1_800_000) await store.at(new Date(ms).toISOString(), 'ny', 'tick');
    for (let ms = Date.parse('2024-11-03T04:20:00Z'); ms <= Date.parse('2024-11-03T07:40:00Z'); ms += 1_200_000) await store.at(new Date(ms).toISOString(), 'ny', 'tock');
    const answer = await report('period=hour&tz=America/New_York', 'ny');
    assert.deepEqual(
      answer.json.rows.map((row: Row) => [row.start, row.end, row.count]),
      [
        ['2024-03-10T00:00:00-05:00', '2024-03-10T01:00:00-05:00', 1],
        ['2024-03-10T01:00:00-05:00', '2024-03-10T03:00:00-04:00', 2],
        ['2024-03-10T03:00:00-04:00', '2024-03-10T04:00:00-04:00', 2],
        ['2024-03-10T04:00:00-04:00', '2024-03-10T05:00:00-04:00', 2],
        ['2024-11-03T00:00:00-04:00', '2024-11-03T01:00:00-04:00', 2],
        ['2024-11-03T01:00:00-04:00', '2024-11-03T01:00:00-05:00', 3],
        ['2024-11-03T01:00:00-05:00', '2024-11-03T02:00:00-05:00', 3],
        ['2024-11-03T02:00:00-05:00', '2024-11-03T03:00:00-05:00', 3],
      ],
    );
    assert.ok(answer.json.rows.every((row: Row) => hours(row) === 1), 'an hour is 3,600 s');
    const days = await report('period=day&tz=America/New_York&by=name', 'ny');
    assert.deepEqual(
      days.json.rows.map((row: Row) => [row.start, hours(row), row.group, row.count]),
      [
        ['2024-03-10T00:00:00-05:00', 23, 'tick', 7],
        ['2024-11-03T00:00:00-04:00', 25, 'tock', 11],
      ],
    );
  });

  it('counts per ISO week (Monday to Monday) and per month; from and to cut the periods they fall inside', LIMIT, async () => {
    // Wed 2024-02-28 to Wed 2024-03-06, one event a day at noon in Berlin.
    const noons = Array.from({ length: 8 }, (_, i) => Date.parse('2024-02-28T11:00:00Z') + i * 86_400_000);
    for (const ms of noons) await store.at(new Date(ms).toISOString(), 'weeks', 'e');
    const weeks = await report('period=week&tz=Europe/Berlin', 'weeks');
    assert.deepEqual(
      weeks.json.rows.map((row: Row) => [row.start, row.end, row.count]),
      [
        ['2024-02-26T00:00:00+01:00', '2024-03-04T00:00:00+01:00', 5],
        ['2024-03-04T00:00:00+01:00', '2024-03-11T00:00:00+01:00', 3],
      ],
    );
    const months = await report('period=month&tz=Europe/Berlin', 'weeks');
    assert.deepEqual(
      months.json.rows.map((row: Row) => [row.start, row.end, row.count]),
      [
        ['2024-02-01T00:00:00+01:00', '2024-03-01T00:00:00+01:00', 2],
        ['2024-03-01T00:00:00+01:00', '2024-04-01T00:00:00+02:00', 6],
      ],
    );
    // A wall time of tz without an offset; the first and last rows are cut, the middle one whole.
    const cut = await report(`period=week&tz=Europe/Berlin&from=2024-02-29T12:00&to=${encodeURIComponent('2024-03-05T12:00:00.5+01:00')}`, 'weeks');
    assert.deepEqual(
      cut.json.rows.map((row: Row) => [row.start, row.end, row.count]),
      [
        ['2024-02-29T12:00:00+01:00', '2024-03-04T00:00:00+01:00', 4],
        ['2024-03-04T00:00:00+01:00', '2024-03-05T12:00:00.5+01:00', 2],
      ],
    );
    // Seconds since the epoch, to the microsecond: from is inclusive, to exclusive.
    const second = noons[1]! / 1000;
    const exact = await report(`period=month&tz=Europe/Berlin&from=${second}&to=${noons[3]! / 1000 + 0.000001}`, 'weeks');
    assert.deepEqual(
      exact.json.rows.map((row: Row) => [row.start, row.end, row.count]),
      [
        ['2024-02-29T12:00:00+01:00', '2024-03-01T00:00:00+01:00', 1],
        ['2024-03-01T00:00:00+01:00', '2024-03-02T12:00:00.000001+01:00', 2],
      ],
    );
    // A range with no events, and a journal never written: no rows.
    assert.deepEqual((await report('from=2030-01-01', 'weeks')).json, { rows: [] });
    assert.deepEqual((await report('period=hour', 'never-written')).json, { rows: [] });
    assert.equal((await report('format=csv', 'never-written')).text, 'start,end,group,count\n');
  });

  it('refuses each bad parameter with a clear code, and stores nothing', LIMIT, async () => {
    const cases: [query: string, code: string, path: string][] = [
      ['tz=Mars/Olympus_Mons', 'INVALID_TIME_ZONE', 'query.tz'],
      ['tz=%2B01:00', 'INVALID_TIME_ZONE', 'query.tz'],
      ['tz=', 'INVALID_TIME_ZONE', 'query.tz'],
      ['period=fortnight', 'INVALID_PERIOD', 'query.period'],
      ['period=Day', 'INVALID_PERIOD', 'query.period'],
      ['from=yesterday', 'INVALID_RANGE', 'query.from'],
      ['to=2024-13-01', 'INVALID_RANGE', 'query.to'],
      ['from=-5', 'INVALID_RANGE', 'query.from'],
      ['from=2024-04-02&to=2024-04-01', 'INVALID_RANGE', 'query.to'],
      ['from=1711843200&to=1711843200', 'INVALID_RANGE', 'query.to'],
      ['by=instrument', 'INVALID_QUERY', 'query.by'],
      ['by=context.', 'INVALID_QUERY', 'query.by'],
      ['by=context.__proto__', 'INVALID_QUERY', 'query.by'],
      ['format=xml', 'INVALID_QUERY', 'query.format'],
      ['limit=5', 'INVALID_QUERY', 'query'],
    ];
    const before = (await store.head('lab')).seq;
    for (const [query, code, path] of cases) {
      const answer = await report(query);
      assertError(answer, 400, code, path);
      assert.match(answer.json.error.message, /^query/);
    }
    assert.equal((await report('by=instrument')).json.error.message, 'query.by: must be name, level or context.KEY (did you mean context.instrument?)');
    assertError(await get(server, '/v1/journals/-bad/report'), 400, 'INVALID_JOURNAL');
    const spans = (query: string) => get(server, `/v1/journals/lab/spans?${query}`);
    assertError(await spans('stop=b'), 400, 'INVALID_QUERY', 'query.start');
    assertError(await spans('start=a'), 400, 'INVALID_QUERY', 'query.stop');
    assertError(await spans('start=a&stop=a'), 400, 'INVALID_QUERY', 'query.stop');
    assertError(await spans('start=&stop=b'), 400, 'INVALID_QUERY', 'query.start');
    assertError(await spans('start=a&stop=b&key=instrument'), 400, 'INVALID_QUERY', 'query.key');
    assertError(await spans('start=a&stop=b&tz=Nowhere'), 400, 'INVALID_TIME_ZONE', 'query.tz');
    assertError(await spans('start=a&stop=b&period=year'), 400, 'INVALID_PERIOD', 'query.period');
    assertError(await spans('start=a&stop=b&from=soon'), 400, 'INVALID_RANGE', 'query.from');
    assertError(await spans('start=a&stop=b&by=name'), 400, 'INVALID_QUERY', 'query');
    assert.equal((await store.head('lab')).seq, before);
  });

  it('closes', LIMIT, async () => {
    await server.close();
  });
});

describe('report bounds', () => {
  it('refuses more groups than maxReportGroups, more rows than the output budget, with 413 REPORT_TOO_LARGE', LIMIT, async (t) => {
    const store = new ClockedStore();
    const server = await startServer({ store, maxReportGroups: 5, maxSendBuffer: 4000 });
    t.after(() => server.close());
    for (let i = 0; i < 6; i++) await store.at(`2024-01-01T0${i}:00:00Z`, 'g', i % 2 === 0 ? 'start' : 'stop', { i: Math.floor(i / 2), unique: i });
    const ok = await get(server, '/v1/journals/g/report?by=context.i');
    assert.equal(ok.json.rows.length, 3);
    const groups = await get(server, '/v1/journals/g/report?by=context.unique');
    assertError(groups, 413, 'REPORT_TOO_LARGE', 'query.by');
    assert.match(groups.json.error.message, /more than 5 distinct groups/);
    // 40 hours of events: hourly rows overflow 4,000 units of JSON, daily ones do not.
    for (let h = 0; h < 40; h++) await store.at(new Date(Date.parse('2024-02-01T00:00:00Z') + h * 3_600_000).toISOString(), 'rows', 'e');
    assert.equal((await get(server, '/v1/journals/rows/report?period=day')).json.rows.length, 2);
    const rows = await get(server, '/v1/journals/rows/report?period=hour');
    assertError(rows, 413, 'REPORT_TOO_LARGE', 'query.period');
    const csv = await get(server, '/v1/journals/rows/report?period=hour&format=csv');
    assertError(csv, 413, 'REPORT_TOO_LARGE');
    // Spans: more keys than the cap.
    for (let i = 0; i < 6; i++) await store.at(`2024-03-01T0${i}:00:00Z`, 'keys', 'on', { k: i });
    assertError(await get(server, '/v1/journals/keys/spans?start=on&stop=off&key=context.k&to=2024-03-02'), 413, 'REPORT_TOO_LARGE', 'query.key');
  });

  it('ends a scan past reportTimeBudget with 413 REPORT_TOO_LARGE', LIMIT, async (t) => {
    const store = new GatedReads();
    const server = await startServer({ store, reportTimeBudget: 0.05 });
    t.after(() => server.close());
    await store.append('slow', Array.from({ length: 1000 }, (_, i) => ({ name: 'e', context: { i } })));
    store.hold();
    const answer = get(server, '/v1/journals/slow/report');
    await store.held;
    // The scan waits on its read while its time budget runs out.
    const budgetSpent = performance.now() + 60;
    while (performance.now() < budgetSpent) await new Promise((resolve) => setTimeout(resolve, budgetSpent - performance.now()));
    store.release();
    const refused = await answer;
    assertError(refused, 413, 'REPORT_TOO_LARGE', 'query.from');
    assert.match(refused.json.error.message, /time budget/);
  });

  it('shares the event loop: an append made while a long report scans is answered before it', LIMIT, async (t) => {
    const store = new MemoryStore();
    const server = await startServer({ store });
    t.after(() => server.close());
    for (let i = 0; i < 100; i++) await store.append('big', Array.from({ length: 1000 }, (_, n) => ({ name: 'e', context: { n: (i * 1000 + n) % 13 } })));
    const order: string[] = [];
    const scan = get(server, '/v1/journals/big/report?by=context.n').then((answer) => {
      order.push('report');
      return answer;
    });
    const append = request(server, 'POST', '/v1/journals/other/events', { body: { name: 'bystander' } }).then((answer) => {
      order.push('append');
      return answer;
    });
    const [report, appended] = await Promise.all([scan, append]);
    assert.equal(appended.status, 200, appended.text);
    assert.equal(report.status, 200, report.text);
    assert.equal(report.json.rows.reduce((sum: number, row: Row) => sum + row.count, 0), 100_000);
    assert.deepEqual(order, ['append', 'report']);
  });
});

/** A MemoryStore whose reads, once `hold()` is called, wait until `release()`. */
class GatedReads extends MemoryStore {
  #gate: Promise<void> | undefined;
  #open: () => void = () => {};
  #entered: () => void = () => {};
  held: Promise<void> = Promise.resolve();

  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
    this.held = new Promise((resolve) => (this.#entered = resolve));
  }

  release(): void {
    this.#open();
  }

  override async read(journal: string, after: number, limit: number): ReturnType<MemoryStore['read']> {
    if (this.#gate !== undefined) {
      this.#entered();
      await this.#gate;
    }
    return super.read(journal, after, limit);
  }
}
