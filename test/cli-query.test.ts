/**
 * `wsjournal query` and `wsjournal journals` over the HTTP API, and the logs of `wsjournal
 * serve` (--log-format, --log-level), run as the built binary in child processes.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import type { JournalServer } from '../server/journal-server.js';
import { MemoryStore } from '../server/memory-store.js';
import { eventLine } from '../cli/event-line.js';
import { JournalEvent } from '../src/journal-event.js';
import { freePort, startServer, within } from './helpers.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const LIMIT = { timeout: 30_000 };

/** Runs `wsjournal ...args` to its end. */
function wsjournal(args: string[]): Promise<{ code: number; stdout: string; stderr: string; lines: string[] }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, WSJOURNAL_TOKEN: '' }, timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr, lines: stdout.split('\n').slice(0, -1) });
    });
  });
}

async function journalServer(): Promise<{ server: JournalServer; store: MemoryStore }> {
  const store = new MemoryStore();
  const server = await startServer({ store });
  await store.append('jobs', Array.from({ length: 12 }, (_, i) => ({ name: i % 4 === 0 ? 'log' : 'job', context: { i, levelno: i * 5 } })));
  await store.append('other', [{ name: 'x', context: {} }]);
  return { server, store };
}

describe('wsjournal query and journals', () => {
  it('journals lists the journals and their heads, as text and as JSON', LIMIT, async (t) => {
    const { server, store } = await journalServer();
    t.after(() => server.close());
    const heads = await store.listJournals(undefined, 10);
    const text = await wsjournal(['journals', '--url', server.url]);
    assert.equal(text.code, 0, text.stderr);
    assert.deepEqual(text.lines, heads.map((journal) => `${journal.name} ${journal.head.seq} ${journal.head.timestamp}`));
    const json = await wsjournal(['journals', '--url', server.url.replace('ws:', 'http:'), '--json']);
    assert.deepEqual(json.lines.map((line) => JSON.parse(line)), heads);
  });

  it('query prints the matching events like tail, or as JSON lines, with every filter', LIMIT, async (t) => {
    const { server, store } = await journalServer();
    t.after(() => server.close());
    const events = (await store.read('jobs', 0, 100)).map((event) => new JournalEvent(JSON.parse(event.json)));
    const query = (...args: string[]) => wsjournal(['query', 'jobs', '--url', server.url, ...args]);
    const all = await query();
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(all.lines, events.map((event) => eventLine(event)));
    const json = await query('--json', '--desc', '--limit', '2');
    assert.deepEqual(json.lines.map((line) => JSON.parse(line)), [events[11]!.toJSON(), events[10]!.toJSON()]);
    const where = await query('--where', '{"context.i":{"$in":[3,5,7]}}', '--names', 'job');
    assert.deepEqual(where.lines, [events[3]!, events[5]!, events[7]!].map((event) => eventLine(event)));
    const level = await query('--level', 'warning');
    assert.deepEqual(level.lines, [eventLine(events[8]!)], 'log events at 30 and above');
    const window = await query('--since', String(events[1]!.timestamp), '--until', String(events[3]!.timestamp));
    assert.deepEqual(window.lines, [events[2]!, events[3]!].map((event) => eventLine(event)));
    const after = await query('--after', '10', '--limit', '0');
    assert.deepEqual(after.lines, [events[10]!, events[11]!].map((event) => eventLine(event)));
    const none = await query('--where', '{"context.i":99}');
    assert.equal(none.code, 0);
    assert.equal(none.stdout, '');
  });

  it('query fails in one line: a journal never written, a bad selector, an unreachable server, bad arguments', LIMIT, async (t) => {
    const { server } = await journalServer();
    t.after(() => server.close());
    const never = await wsjournal(['query', 'nope', '--url', server.url]);
    assert.equal(never.code, 1);
    assert.equal(never.stderr, 'wsjournal query: journal nope has never been written (see "wsjournal journals")\n');
    const bad = await wsjournal(['query', 'jobs', '--url', server.url, '--where', '{"$where":"1"}']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^wsjournal query: INVALID_SELECTOR: .*unknown operator \$where/);
    const port = await freePort();
    const away = await wsjournal(['query', 'jobs', '--url', `ws://127.0.0.1:${port}`]);
    assert.equal(away.code, 1);
    assert.match(away.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+\/ .*is a wsjournal server running there\?/);
    const journals = await wsjournal(['journals', '--url', `ws://127.0.0.1:${port}`]);
    assert.equal(journals.code, 1);
    for (const args of [['--limit', 'x'], ['--level', 'loud'], ['--where', '[1]'], ['--since', '-1']]) {
      const usage = await wsjournal(['query', 'jobs', ...args]);
      assert.equal(usage.code, 2, `${args.join(' ')}: ${usage.stderr}`);
      assert.match(usage.stderr, /Try "wsjournal query --help"/);
    }
  });
});

describe('wsjournal serve logs', () => {
  it('--log-format json writes JSON records on stderr: startup, a refused handshake, the signal, shutdown', LIMIT, async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--store', 'memory:', '--token', 't', '--log-format', 'json', '--log-level', 'info']);
    const records: { level: number; msg: string; [key: string]: unknown }[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => records.push(JSON.parse(line) as (typeof records)[number]));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const url = await within(
      new Promise<string>((resolve) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          const match = /^wsjournal listening on (ws:\/\/\S+)/.exec(line);
          if (match) resolve(match[1]!);
        });
      }),
      10_000,
      'the listening line',
    );
    const refused = new WebSocket(url);
    refused.on('error', () => {});
    await within(new Promise((resolve) => refused.once('unexpected-response', resolve)), 5000, 'the refusal');
    child.kill('SIGTERM');
    assert.equal(await within(exited, 10_000, 'serve to exit'), 0);
    const messages = records.map((record) => record.msg);
    assert.ok(messages.some((msg) => msg === `listening on ${url}`), messages.join(' | '));
    const refusal = records.find((record) => record.msg.startsWith('handshake refused'));
    assert.equal(refusal?.['status'], 401);
    assert.equal(refusal?.level, 40);
    assert.ok(messages.includes('SIGTERM received: closing'));
    assert.equal(messages.at(-1), 'shut down');
  });

  it('refuses an unknown --log-level or --log-format', LIMIT, async () => {
    const level = await wsjournal(['serve', '--log-level', 'loud']);
    assert.equal(level.code, 2);
    assert.match(level.stderr, /--log-level must be one of trace, debug, info, warn, error, fatal, silent/);
    const format = await wsjournal(['serve', '--log-format', 'xml']);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--log-format must be one of json, pretty/);
  });
});
