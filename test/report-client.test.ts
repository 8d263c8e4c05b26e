/**
 * `JournalClient.report()` and `.spans()` against a real server on port 0 (rows and CSV,
 * instants as seconds, Dates and ISO text, the server's refusals as JournalErrors with their
 * codes, bad options refused before any request), and `wsjournal report` and `wsjournal
 * spans` run as the built binary.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { JournalServer } from '../server/journal-server.js';
import { JournalError } from '../src/errors.js';
import { JournalClient } from '../src/journal-client.js';
import { ClockedStore } from './clocked-store.js';
import { startServer } from './helpers.js';

const LIMIT = { timeout: 30_000 };
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** Runs `wsjournal ...args` to its end. */
function wsjournal(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, WSJOURNAL_TOKEN: '' }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

/** A journal of two days in Berlin around the autumn change, with two instruments' sessions. */
async function labServer(): Promise<{ server: JournalServer; store: ClockedStore }> {
  const store = new ClockedStore();
  const server = await startServer({ store });
  const at = (iso: string, name: string, context: Record<string, unknown> = {}) => store.at(iso, 'lab', name, context);
  await at('2024-10-26T20:00:00Z', 'session_start', { instrument: 'hplc' });
  await at('2024-10-26T21:00:00Z', 'log', { level: 'warning', levelno: 30 });
  await at('2024-10-26T23:30:00Z', 'session_end', { instrument: 'hplc' });
  await at('2024-10-27T08:00:00Z', 'session_start', { instrument: 'ms' });
  await at('2024-10-27T09:00:00Z', 'log', { level: 'error', levelno: 40 });
  await at('2024-10-27T10:00:00Z', 'session_end', { instrument: 'ms' });
  return { server, store };
}

describe('JournalClient reports', () => {
  it('returns rows, or the CSV text, for reports and spans', LIMIT, async (t) => {
    const { server } = await labServer();
    t.after(() => server.close());
    const client = new JournalClient(server.url);
    assert.deepEqual(await client.report('lab', { tz: 'Europe/Berlin', by: 'name' }), [
      { start: '2024-10-26T00:00:00+02:00', end: '2024-10-27T00:00:00+02:00', group: 'log', count: 1 },
      { start: '2024-10-26T00:00:00+02:00', end: '2024-10-27T00:00:00+02:00', group: 'session_start', count: 1 },
      { start: '2024-10-27T00:00:00+02:00', end: '2024-10-28T00:00:00+01:00', group: 'log', count: 1 },
      { start: '2024-10-27T00:00:00+02:00', end: '2024-10-28T00:00:00+01:00', group: 'session_end', count: 2 },
      { start: '2024-10-27T00:00:00+02:00', end: '2024-10-28T00:00:00+01:00', group: 'session_start', count: 1 },
    ]);
    assert.deepEqual(await client.report('lab', { period: 'month', by: 'level' }), [
      { start: '2024-10-01T00:00:00Z', end: '2024-11-01T00:00:00Z', group: 'error', count: 1 },
      { start: '2024-10-01T00:00:00Z', end: '2024-11-01T00:00:00Z', group: 'warning', count: 1 },
    ]);
    // from as a Date, to as seconds: the same instants.
    const cut = await client.report('lab', { period: 'day', from: new Date('2024-10-27T00:00:00Z'), to: Date.parse('2024-10-27T09:30:00Z') / 1000 });
    assert.deepEqual(cut, [{ start: '2024-10-27T00:00:00Z', end: '2024-10-27T09:30:00Z', group: null, count: 2 }]);
    const csv = await client.report('lab', { tz: 'Europe/Berlin', format: 'csv' });
    assert.equal(csv, 'start,end,group,count\n2024-10-26T00:00:00+02:00,2024-10-27T00:00:00+02:00,,2\n2024-10-27T00:00:00+02:00,2024-10-28T00:00:00+01:00,,4\n');

    const spans = await client.spans('lab', { start: 'session_start', stop: 'session_end', key: 'context.instrument', tz: 'Europe/Berlin' });
    assert.deepEqual(spans, [
      { start: '2024-10-26T00:00:00+02:00', end: '2024-10-27T00:00:00+02:00', key: 'hplc', spans: 1, busySeconds: 7200, utilization: 7200 / 86400 },
      { start: '2024-10-27T00:00:00+02:00', end: '2024-10-28T00:00:00+01:00', key: 'hplc', spans: 1, busySeconds: 5400, utilization: 5400 / 90000 },
      { start: '2024-10-27T00:00:00+02:00', end: '2024-10-28T00:00:00+01:00', key: 'ms', spans: 1, busySeconds: 7200, utilization: 7200 / 90000 },
    ]);
    const spansCsv = await client.spans('lab', { start: 'session_start', stop: 'session_end', period: 'week', format: 'csv' });
    assert.equal(spansCsv, `start,end,key,spans,busySeconds,utilization\n2024-10-21T00:00:00Z,2024-10-28T00:00:00Z,,2,19800,${19800 / 604800}\n`);
  });

  it("rejects with the server's codes, and refuses bad options before any request", LIMIT, async (t) => {
    const { server } = await labServer();
    t.after(() => server.close());
    const client = new JournalClient(server.url);
    await assert.rejects(client.report('lab', { tz: 'Moon/Tranquility' }), (error: unknown) => error instanceof JournalError && error.code === 'INVALID_TIME_ZONE');
    await assert.rejects(client.report('lab', { from: '2024-10-28', to: '2024-10-27' }), { code: 'INVALID_RANGE' });
    await assert.rejects(client.report('lab', { by: 'context.' as never }), { code: 'INVALID_QUERY' });
    await assert.rejects(client.spans('lab', { start: 'a', stop: 'a' }), { code: 'INVALID_QUERY' });

    const offline = new JournalClient('http://127.0.0.1:1', { fetch: () => assert.fail('no request may be made') });
    await assert.rejects(offline.report('bad name'), { name: 'TypeError', message: /journal/ });
    await assert.rejects(offline.report('lab', { period: 'year' as never }), { name: 'RangeError', message: /options\.period/ });
    await assert.rejects(offline.report('lab', { from: -1 }), { name: 'RangeError', message: /options\.from/ });
    await assert.rejects(offline.report('lab', { to: new Date('nope') }), { name: 'RangeError', message: /options\.to/ });
    await assert.rejects(offline.report('lab', { tz: '' }), { name: 'TypeError', message: /options\.tz/ });
    await assert.rejects(offline.report('lab', { format: 'xml' as never }), { name: 'RangeError', message: /options\.format/ });
    await assert.rejects(offline.report('lab', { group: 'name' } as never), { name: 'TypeError', message: /options\.group is not a known option/ });
    await assert.rejects(offline.spans('lab', { stop: 'b' } as never), { name: 'TypeError', message: /options\.start/ });
    await assert.rejects(offline.spans('lab', undefined as never), { name: 'TypeError', message: /start and stop/ });
  });
});

describe('wsjournal report and spans', () => {
  it('print a table, JSON lines or CSV', LIMIT, async (t) => {
    const { server } = await labServer();
    t.after(() => server.close());
    const report = await wsjournal(['report', 'lab', '--url', server.url, '--tz', 'Europe/Berlin', '--by', 'name']);
    assert.equal(report.code, 0, report.stderr);
    assert.equal(
      report.stdout,
      [
        'start                      end                        name           count',
        '2024-10-26T00:00:00+02:00  2024-10-27T00:00:00+02:00  log            1',
        '2024-10-26T00:00:00+02:00  2024-10-27T00:00:00+02:00  session_start  1',
        '2024-10-27T00:00:00+02:00  2024-10-28T00:00:00+01:00  log            1',
        '2024-10-27T00:00:00+02:00  2024-10-28T00:00:00+01:00  session_end    2',
        '2024-10-27T00:00:00+02:00  2024-10-28T00:00:00+01:00  session_start  1',
        '',
      ].join('\n'),
    );
    const csv = await wsjournal(['report', 'lab', '--url', server.url, '--period', 'week', '--csv']);
    assert.equal(csv.stdout, 'start,end,group,count\n2024-10-21T00:00:00Z,2024-10-28T00:00:00Z,,6\n');
    const json = await wsjournal(['report', 'lab', '--url', server.url, '--period', 'hour', '--from', '2024-10-27T08:00Z', '--json']);
    assert.deepEqual(
      json.stdout.trim().split('\n').map((line) => JSON.parse(line)),
      [
        { start: '2024-10-27T08:00:00Z', end: '2024-10-27T09:00:00Z', group: null, count: 1 },
        { start: '2024-10-27T09:00:00Z', end: '2024-10-27T10:00:00Z', group: null, count: 1 },
        { start: '2024-10-27T10:00:00Z', end: '2024-10-27T11:00:00Z', group: null, count: 1 },
      ],
    );
    const spans = await wsjournal(['spans', 'lab', '--url', server.url, '--start', 'session_start', '--stop', 'session_end', '--key', 'context.instrument']);
    assert.equal(spans.code, 0, spans.stderr);
    assert.equal(
      spans.stdout,
      [
        'start                 end                   context.instrument  spans  busySeconds  utilization',
        '2024-10-26T00:00:00Z  2024-10-27T00:00:00Z  hplc                1      12600        14.6%',
        '2024-10-27T00:00:00Z  2024-10-28T00:00:00Z  ms                  1      7200         8.3%',
        '',
      ].join('\n'),
    );
    const spansCsv = await wsjournal(['spans', 'lab', '--url', server.url, '--start', 'session_start', '--stop', 'session_end', '--csv', '--period', 'month']);
    assert.equal(spansCsv.stdout, `start,end,key,spans,busySeconds,utilization\n2024-10-01T00:00:00Z,2024-11-01T00:00:00Z,,2,19800,${19800 / (31 * 86400)}\n`);
  });

  it('fail in one line: a journal never written, a refused parameter, bad arguments', LIMIT, async (t) => {
    const { server } = await labServer();
    t.after(() => server.close());
    const never = await wsjournal(['report', 'nope', '--url', server.url]);
    assert.equal(never.code, 1);
    assert.equal(never.stderr, 'wsjournal report: journal nope has never been written (see "wsjournal journals")\n');
    const zone = await wsjournal(['report', 'lab', '--url', server.url, '--tz', 'Europe/Atlantis']);
    assert.equal(zone.code, 1);
    assert.match(zone.stderr, /^wsjournal report: INVALID_TIME_ZONE: .*query\.tz: must be an IANA time zone/);
    const range = await wsjournal(['spans', 'lab', '--url', server.url, '--start', 'a', '--stop', 'b', '--from', 'tomorrow']);
    assert.equal(range.code, 1);
    assert.match(range.stderr, /^wsjournal spans: INVALID_RANGE: /);
    for (const args of [
      ['report'],
      ['report', 'lab', '--period', 'year'],
      ['report', 'lab', '--by', 'instrument'],
      ['report', 'lab', '--csv', '--json'],
      ['spans', 'lab', '--stop', 'b'],
      ['spans', 'lab', '--start', 'a'],
      ['spans', 'lab', '--start', 'a', '--stop', 'b', '--key', 'instrument'],
    ]) {
      const usage = await wsjournal([...args, '--url', server.url]);
      assert.equal(usage.code, 2, `${args.join(' ')}: ${usage.stderr}`);
      assert.match(usage.stderr, new RegExp(`Try "wsjournal ${args[0]} --help"`));
    }
  });
});
