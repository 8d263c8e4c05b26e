/**
 * Spans through real HTTP on port 0: busy time between paired start and stop events per key
 * and period, to the microsecond; spans split across periods, a second start and a stop
 * without a start ignored, one still open counted up to `to` or up to now, spans opened
 * before `from`, a whole day of a daylight-saving change; JSON and CSV.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JournalServer } from '../server/journal-server.js';
import { ClockedStore } from './clocked-store.js';
import { get } from './http-client.js';
import { startServer } from './helpers.js';

const LIMIT = { timeout: 30_000 };
const DAY = 86_400;

interface SpanRow {
  start: string;
  end: string;
  key: unknown;
  spans: number;
  busySeconds: number;
  utilization: number;
}

/** A row as the server must write it: busy time in whole microseconds, over a period of `length` seconds. */
function row(start: string, end: string, key: unknown, spans: number, busyMicros: number, length = DAY): SpanRow {
  return { start, end, key, spans, busySeconds: busyMicros / 1e6, utilization: busyMicros / (length * 1e6) };
}

const HOUR = 3_600_000_000;
/** B's session: 06:00:00.123456 to 06:30. */
const B = 1_799_876_544;

describe('spans over HTTP', () => {
  let server: JournalServer;
  let store: ClockedStore;
  const spans = (query: string, journal = 'lab') => get(server, `/v1/journals/${journal}/spans?start=session_start&stop=session_end&${query}`);

  it('serves a laboratory journal of sessions per instrument', LIMIT, async () => {
    store = new ClockedStore();
    server = await startServer({ store });
    const at = (iso: string, name: string, context: Record<string, unknown> = {}, micros = 0) => store.at(iso, 'lab', name, context, micros);
    await at('2024-04-01T21:00:00Z', 'log', { level: 'info', message: 'lab opens' });
    await at('2024-04-01T22:00:00Z', 'session_start', { instrument: 'A' });
    await at('2024-04-02T02:00:00Z', 'session_end', { instrument: 'A' });
    await at('2024-04-02T05:00:00Z', 'session_end', { instrument: 'B' }); // no open span: ignored
    await at('2024-04-02T06:00:00Z', 'session_start', { instrument: 'B' }, 123_456);
    await at('2024-04-02T06:10:00Z', 'sample', { instrument: 'B' });
    await at('2024-04-02T06:30:00Z', 'session_end', { instrument: 'B' });
    await at('2024-04-02T10:00:00Z', 'session_start', { instrument: 'A' });
    await at('2024-04-02T11:00:00Z', 'session_start', { instrument: 'A' }); // a second start: ignored
    await at('2024-04-02T12:00:00Z', 'session_end', { instrument: 'A' });
    await at('2024-04-02T20:00:00Z', 'session_start', { instrument: 'C' }); // never ends
  });

  it('measures busy time per key and day, splitting spans across days, to the microsecond', LIMIT, async () => {
    const answer = await spans('key=context.instrument&to=2024-04-04T00:00:00Z');
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.json.rows, [
      row('2024-04-01T00:00:00Z', '2024-04-02T00:00:00Z', 'A', 1, 2 * HOUR),
      row('2024-04-02T00:00:00Z', '2024-04-03T00:00:00Z', 'A', 2, 4 * HOUR),
      row('2024-04-02T00:00:00Z', '2024-04-03T00:00:00Z', 'B', 1, B),
      row('2024-04-02T00:00:00Z', '2024-04-03T00:00:00Z', 'C', 1, 4 * HOUR),
      row('2024-04-03T00:00:00Z', '2024-04-04T00:00:00Z', 'C', 1, 24 * HOUR),
    ]);
    // The exact decimal travels in the JSON text, not a rounded float.
    assert.match(answer.text, /"busySeconds":1799\.876544,/);
  });

  it('counts spans opened before from from from, and cuts the rows at from and to', LIMIT, async () => {
    const answer = await spans('key=context.instrument&from=2024-04-02T01:00:00Z&to=2024-04-03T00:00:00Z');
    const cut = 23 * 3600;
    assert.deepEqual(answer.json.rows, [
      row('2024-04-02T01:00:00Z', '2024-04-03T00:00:00Z', 'A', 2, 3 * HOUR, cut),
      row('2024-04-02T01:00:00Z', '2024-04-03T00:00:00Z', 'B', 1, B, cut),
      row('2024-04-02T01:00:00Z', '2024-04-03T00:00:00Z', 'C', 1, 4 * HOUR, cut),
    ]);
    // From inside C's open span, with no event after it: C is busy the whole range.
    const late = await spans('key=context.instrument&from=2024-04-05T06:00:00Z&to=2024-04-05T18:00:00Z');
    assert.deepEqual(late.json.rows, [row('2024-04-05T06:00:00Z', '2024-04-05T18:00:00Z', 'C', 1, 12 * HOUR, 12 * 3600)]);
  });

  it('pairs every start with the next stop without a key, and per hour in a time zone', LIMIT, async () => {
    const all = await spans('to=2024-04-03T00:00:00Z');
    // Without a key: A 22:00–02:00, B 06:00:00.123456–06:30, A 10:00–12:00 (C's start comes after), C 20:00–24:00.
    assert.deepEqual(all.json.rows, [
      row('2024-04-01T00:00:00Z', '2024-04-02T00:00:00Z', null, 1, 2 * HOUR),
      row('2024-04-02T00:00:00Z', '2024-04-03T00:00:00Z', null, 4, 2 * HOUR + B + 2 * HOUR + 4 * HOUR),
    ]);
    const hourly = await spans('key=context.instrument&period=hour&tz=Asia/Kolkata&from=2024-04-02T05:00:00Z&to=2024-04-02T07:00:00Z');
    // Kolkata is UTC+05:30: its hours start at half past in UTC; B's session lies in 11:00–12:00 there.
    assert.deepEqual(hourly.json.rows, [
      row('2024-04-02T11:00:00+05:30', '2024-04-02T12:00:00+05:30', 'B', 1, B, 3600),
    ]);
  });

  it('answers CSV with the header start,end,key,spans,busySeconds,utilization', LIMIT, async () => {
    const json = await spans('key=context.instrument&to=2024-04-04T00:00:00Z');
    const csv = await spans('key=context.instrument&to=2024-04-04T00:00:00Z&format=csv');
    assert.equal(csv.status, 200, csv.text);
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    const lines = json.json.rows.map((r: SpanRow) => [r.start, r.end, r.key, r.spans, r.busySeconds, r.utilization].join(','));
    assert.equal(csv.text, ['start,end,key,spans,busySeconds,utilization', ...lines, ''].join('\n'));
    assert.ok(csv.text.includes(',B,1,1799.876544,'));
  });

  it('spans a whole day of a daylight-saving change: 23 busy hours, utilization 1', LIMIT, async () => {
    await store.at('2024-03-30T23:00:00Z', 'dst', 'session_start', { instrument: 'X' }); // 00:00 in Berlin
    await store.at('2024-03-31T22:00:00Z', 'dst', 'session_end', { instrument: 'X' }); // 00:00 the next day
    const answer = await spans('key=context.instrument&tz=Europe/Berlin', 'dst');
    assert.deepEqual(answer.json.rows, [row('2024-03-31T00:00:00+01:00', '2024-04-01T00:00:00+02:00', 'X', 1, 23 * HOUR, 23 * 3600)]);
  });

  it('counts a span still open up to now when there is no to', LIMIT, async () => {
    const nowSeconds = () => (performance.timeOrigin + performance.now()) / 1000;
    const opened = Math.floor(nowSeconds()) - 3 * 3600;
    await store.at(new Date(opened * 1000).toISOString(), 'live', 'session_start', { instrument: 'Z' });
    const before = nowSeconds();
    const answer = await spans('key=context.instrument&period=hour', 'live');
    const after = nowSeconds();
    const rows: SpanRow[] = answer.json.rows;
    assert.ok(rows.length >= 4 && rows.length <= 5, answer.text);
    assert.ok(rows.every((r) => r.key === 'Z' && r.spans === 1));
    // Every hour but the last is busy whole; the last up to now.
    assert.ok(rows.slice(1, -1).every((r) => r.busySeconds === 3600 && r.utilization === 1), answer.text);
    const busy = rows.reduce((sum, r) => sum + r.busySeconds, 0);
    assert.ok(busy >= before - opened - 1e-6 && busy <= after - opened + 1e-6, `busy ${busy} s, expected ${before - opened}..${after - opened}`);
  });

  it('closes', LIMIT, async () => {
    await server.close();
  });
});
