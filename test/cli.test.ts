/**
 * The `wsjournal` command line, run as the real built binary in child
 * processes: serve, append and tail against each other, with exit statuses
 * and messages. Every wait has a timeout; nothing sleeps.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventLine } from '../cli/event-line.js';
import { JournalEvent } from '../src/journal-event.js';
import { WebSocket } from 'ws';
import { freePort, within } from './helpers.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const running = new Set<CliProcess>();

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One run of `node dist/cli/main.js ...args`, collecting its output. */
class CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exit: Promise<Exit>;
  stdout = '';
  stderr = '';
  readonly #waiters = new Set<() => void>();
  #exited = false;

  constructor(
    readonly args: string[],
    { input = '', env = {} }: { input?: string | null; env?: Record<string, string> } = {},
  ) {
    this.child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, WSJOURNAL_TOKEN: '', ...env } });
    running.add(this);
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.#notify();
    });
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.#notify();
    });
    this.exit = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.#exited = true;
        running.delete(this);
        resolve({ code, signal });
        this.#notify();
      });
    });
    // EPIPE on our side of stdin if the command exits without reading it is of no interest.
    this.child.stdin.on('error', () => {});
    if (input !== null) this.child.stdin.end(input);
  }

  /** Complete lines written to stdout so far. */
  get lines(): string[] {
    return this.stdout.split('\n').slice(0, -1);
  }

  /** Resolves with the first stdout line matching `pattern`; rejects on timeout or if the process exits first. */
  waitForLine(pattern: RegExp, ms = 10_000): Promise<string> {
    const find = (): string | undefined => this.lines.find((line) => pattern.test(line));
    const found = new Promise<string>((resolve, reject) => {
      const check = (): void => {
        const line = find();
        if (line !== undefined) resolve(line);
        else if (this.#exited) reject(new Error(`exited without printing ${pattern}; stderr: ${this.stderr}`));
        else return;
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
    return within(found, ms, `a line matching ${pattern} from wsjournal ${this.args.join(' ')}; stderr: ${this.stderr}`);
  }

  waitForExit(ms = 30_000): Promise<Exit> {
    return within(this.exit, ms, `wsjournal ${this.args.join(' ')} to exit; stderr: ${this.stderr}`);
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** Runs a command to its end; resolves with its status and output. */
async function wsjournal(args: string[], options?: { input?: string; env?: Record<string, string> }) {
  const proc = new CliProcess(args, options);
  const { code } = await proc.waitForExit();
  return { code, stdout: proc.stdout, stderr: proc.stderr, lines: proc.lines };
}

/** Starts `wsjournal serve --port 0 ...args` and waits for its listening line. */
async function serve(args: string[]): Promise<{ proc: CliProcess; url: string }> {
  const proc = new CliProcess(['serve', '--port', '0', ...args]);
  const line = await proc.waitForLine(/^wsjournal listening on ws:\/\//);
  return { proc, url: /(ws:\/\/\S+)/.exec(line)![1]! };
}


/** Appends one event with the CLI; resolves with the seq and timestamp it printed. */
async function appendOne(url: string, journal: string, name: string, context?: object) {
  const args = ['append', journal, name, '--url', url, ...(context ? ['--context', JSON.stringify(context)] : [])];
  const { code, stdout, stderr } = await wsjournal(args);
  assert.equal(code, 0, stderr);
  const match = /^(\d+) (\d+\.\d{6})\n$/.exec(stdout);
  assert.ok(match, `append printed ${JSON.stringify(stdout)}`);
  return { name, context: context ?? {}, seq: Number(match[1]), timestamp: Number(match[2]) };
}

after(() => {
  for (const proc of running) proc.child.kill('SIGKILL');
});

describe('wsjournal without a server', () => {
  test('--help works for the command and each subcommand', async () => {
    const runs = await Promise.all([
      wsjournal(['--help']),
      wsjournal(['help']),
      wsjournal(['serve', '--help']),
      wsjournal(['tail', '--help']),
      wsjournal(['append', '-h']),
      wsjournal(['help', 'tail']),
    ]);
    for (const { code, stdout } of runs) {
      assert.equal(code, 0);
      assert.match(stdout, /^Usage: wsjournal /);
    }
    assert.match(runs[2]!.stdout, /--port N .*default: 7707/);
    assert.match(runs[3]!.stdout, /--no-follow/);
    assert.match(runs[4]!.stdout, /--context JSON/);
    assert.equal(runs[5]!.stdout, runs[3]!.stdout);
  });

  test('no command or an unknown one prints the usage on stderr and exits 2', async () => {
    const [none, unknown] = await Promise.all([wsjournal([]), wsjournal(['frobnicate'])]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage: wsjournal COMMAND/);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    assert.equal(unknown.stdout, '');
  });

  test('bad arguments exit 2 with one clear line and a hint', async () => {
    const cases: [string[], RegExp][] = [
      [['tail', 'jobs', '--bogus'], /unknown option --bogus/],
      [['tail', 'bad name'], /invalid JOURNAL: .*"bad name"/],
      [['tail'], /missing JOURNAL/],
      [['tail', 'jobs', '--since', 'yesterday'], /--since must be a number/],
      [['append', 'jobs', 'submit', '--context', '{bad'], /--context is not valid JSON/],
      [['append', 'jobs', 'submit', '--context', '[1]'], /--context must be a JSON object/],
      [['append', 'no/slash', 'submit'], /invalid JOURNAL/],
      [['serve', '--port', 'abc'], /--port must be an integer from 0 to 65535, got "abc"/],
      [['serve', '--port', '70000'], /--port must be an integer/],
      [['serve', '--port'], /option --port needs a value/],
      [['serve', '--store', 'redis://127.0.0.1:6379/not-a-db'], /--store redis:/],
      [['serve', '--store', 'ftp://x'], /unknown kind of store/],
      [['serve', '--limit', 'maxBogus=1'], /--limit takes NAME=N with NAME one of maxFrameSize, .*"maxBogus=1"/],
      [['serve', '--limit', 'maxServerBuffer'], /--limit takes NAME=N/],
      [['serve', '--limit', 'maxConnectionsPerAddress=1.5'], /--limit maxConnectionsPerAddress must be an integer >= 0, got "1.5"/],
    ];
    const runs = await Promise.all(cases.map(([args]) => wsjournal(args)));
    for (const [index, { code, stderr }] of runs.entries()) {
      const [args, pattern] = cases[index]!;
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, pattern, args.join(' '));
      assert.match(stderr, /^wsjournal \w+: .*\nTry "wsjournal \w+ --help"\.\n$/, args.join(' '));
    }
  });

  test('an unreachable server is reported and exits non-zero, also in follow mode', async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const runs = await Promise.all([
      wsjournal(['tail', 'jobs', '--no-follow', '--url', url]),
      wsjournal(['tail', 'jobs', '--url', url]),
      wsjournal(['append', 'jobs', 'submit', '--url', url]),
      wsjournal(['append', 'jobs', '--url', url], { input: '{"name":"submit"}\n' }),
    ]);
    for (const { code, stderr } of runs) {
      assert.equal(code, 1, stderr);
      assert.match(stderr, new RegExp(`cannot connect to ${url}`));
    }
  });
});

describe('wsjournal serve, append and tail', () => {
  let dataDir: string;
  let server: { proc: CliProcess; url: string };
  let url: string;
  let written: Awaited<ReturnType<typeof appendOne>>[];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'wsjournal-cli-'));
    server = await serve(['--data', dataDir]);
    url = server.url;
    assert.match(server.proc.lines[0]!, new RegExp(`^wsjournal listening on ws://127\\.0\\.0\\.1:\\d+ \\(store: lmdb ${dataDir}\\)$`));
    written = [];
    written.push(await appendOne(url, 'rt', 'submit', { id: 'f3x', userid: 1000 }));
    written.push(await appendOne(url, 'rt', 'start'));
    written.push(await appendOne(url, 'rt', 'finish', { status: 0, nested: { a: [1, 2] } }));
  });

  after(async () => {
    server.proc.child.kill('SIGKILL');
    await server.proc.exit;
    await rm(dataDir, { recursive: true, force: true });
  });

  test('append prints seq and timestamp; tail --no-follow prints every event as toString(), in order', async () => {
    assert.deepEqual(
      written.map((event) => event.seq),
      [1, 2, 3],
    );
    const { code, lines, stderr } = await wsjournal(['tail', 'rt', '--no-follow', '--url', url]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(
      lines,
      written.map((event) => eventLine(new JournalEvent(event))),
    );
  });

  test('tail --json prints one parseable JSON object per line', async () => {
    const { code, lines } = await wsjournal(['tail', 'rt', '--no-follow', '--json', '--url', url]);
    assert.equal(code, 0);
    assert.deepEqual(
      lines.map((line) => JSON.parse(line)),
      written.map(({ name, timestamp, context, seq }) => ({ name, timestamp, context, seq })),
    );
  });

  test('tail --since prints only later events', async () => {
    const since = String(written[1]!.timestamp);
    const { code, lines } = await wsjournal(['tail', 'rt', '--no-follow', '--since', since, '--url', url]);
    assert.equal(code, 0);
    assert.deepEqual(lines, [eventLine(new JournalEvent(written[2]!))]);
  });

  test('tail --names prints only the named events', async () => {
    const { code, lines } = await wsjournal(['tail', 'rt', '--no-follow', '--names', 'submit,finish', '--url', url]);
    assert.equal(code, 0);
    assert.deepEqual(lines, [written[0]!, written[2]!].map((event) => eventLine(new JournalEvent(event))));
  });

  test('append reads JSON lines from stdin in batches, in order', async () => {
    const count = 2000;
    const input = Array.from({ length: count }, (_, i) => JSON.stringify({ name: `n${i % 3}`, context: { i } })).join('\n');
    const appended = await wsjournal(['append', 'bulk', '-', '--url', url], { input: `${input}\n` });
    assert.equal(appended.code, 0, appended.stderr);
    assert.match(appended.stderr, /appended 2000 events to bulk \(seq 1-2000\)/);
    const { code, lines } = await wsjournal(['tail', 'bulk', '--no-follow', '--json', '--url', url]);
    assert.equal(code, 0);
    const events = lines.map((line) => JSON.parse(line) as { seq: number; context: { i: number } });
    assert.equal(events.length, count);
    assert.deepEqual(
      events.map((event) => event.context.i),
      Array.from({ length: count }, (_, i) => i),
    );
  });

  test('a bad stdin line is reported by number; the lines before it are appended', async () => {
    const input = ['{"name":"a"}', '', '{"name":"b","context":{"x":1}}', '{"name": oops}', '{"name":"c"}'].join('\n');
    const { code, stderr } = await wsjournal(['append', 'badline', '--url', url], { input });
    assert.equal(code, 1);
    assert.match(stderr, /line 4: not valid JSON .*; 2 events were appended/);
    const tail = await wsjournal(['tail', 'badline', '--no-follow', '--url', url]);
    assert.equal(tail.lines.length, 2);
  });

  test('a batch the server refuses mid-stream: the message counts exactly what was appended, in whole batches, and nothing of the refused one', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify({ name: 'n', context: i === 1199 ? { i, blob: 'x'.repeat(70_000) } : { i } }),
    );
    const { code, stderr } = await wsjournal(['append', 'midway', '--url', url], { input: `${lines.join('\n')}\n` });
    assert.equal(code, 1);
    const said = /lines 1001-1500 .*EVENT_TOO_LARGE.*; (\d+) events were appended/.exec(stderr);
    assert.ok(said, stderr);
    const tail = await wsjournal(['tail', 'midway', '--no-follow', '--json', '--url', url]);
    const stored = tail.lines.map((line) => (JSON.parse(line) as { context: { i: number } }).context.i);
    assert.equal(stored.length, Number(said[1]), 'the count in the message is what the journal holds');
    assert.ok(stored.length >= 1000, 'the batches before the refused one were appended');
    assert.deepEqual(new Set(stored.map((i) => Math.floor(i / 500))).size * 500, stored.length, 'whole batches only');
    assert.equal(stored.some((i) => i >= 1000 && i < 1500), false, 'nothing of the refused batch');
  });

  test('an append the server refuses is reported with its error code', async () => {
    const { code, stderr } = await wsjournal(['append', 'big', 'x', '--context', JSON.stringify({ blob: 'x'.repeat(70_000) }), '--url', url]);
    assert.equal(code, 1);
    assert.match(stderr, /EVENT_TOO_LARGE/);
  });

  test('follow mode prints live events, then exits 0 on SIGINT', async () => {
    await appendOne(url, 'live', 'before');
    const tail = new CliProcess(['tail', 'live', '--url', url]);
    await tail.waitForLine(/ before $/);
    const live = await appendOne(url, 'live', 'after', { n: 1 });
    assert.equal(await tail.waitForLine(/ after /), eventLine(new JournalEvent(live)));
    tail.child.kill('SIGINT');
    assert.deepEqual(await tail.waitForExit(), { code: 0, signal: null });
  });

  test('tail exits 0 quietly when the reader of its output goes away', async () => {
    await appendOne(url, 'pipe', 'first');
    const tail = new CliProcess(['tail', 'pipe', '--url', url]);
    await tail.waitForLine(/ first $/);
    tail.child.stdout.destroy();
    await appendOne(url, 'pipe', 'second');
    const { code } = await tail.waitForExit();
    assert.equal(code, 0);
    assert.equal(tail.stderr, 'wsjournal tail: end of history (1 event); following live events\n', 'nothing but where history ended');
  });

  test('text lines carry microsecond timestamps: one given back as --since resumes exactly after its event', async () => {
    const all = await wsjournal(['tail', 'rt', '--no-follow', '--url', url]);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.lines.length, 3);
    const printed = all.lines[1]!.split(' ')[0]!;
    assert.match(printed, /^\d+\.\d{6}$/);
    const resumed = await wsjournal(['tail', 'rt', '--no-follow', '--since', printed, '--url', url]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(resumed.lines, [all.lines[2]]);
    const query = await wsjournal(['query', 'rt', '--since', printed, '--url', url]);
    assert.deepEqual(query.lines, [all.lines[2]], 'query prints the same lines');
  });

  test('a journal never written: --no-follow says so and exits 1; follow mode says so and waits for its first event', async () => {
    const once = await wsjournal(['tail', 'nosuchjournal', '--no-follow', '--url', url]);
    assert.equal(once.code, 1);
    assert.equal(once.stdout, '');
    assert.match(once.stderr, /^wsjournal tail: journal "nosuchjournal" has never been written .*wsjournal journals.*\n$/);
    const follow = new CliProcess(['tail', 'fresh', '--url', url]);
    await within(
      new Promise<void>((resolve) => follow.child.stderr.on('data', () => /end of history \(0 events\)/.test(follow.stderr) && resolve())),
      10_000,
      `the end of history on stderr; stderr: ${follow.stderr}`,
    );
    assert.match(follow.stderr, /journal "fresh" has no events yet; waiting for its first\n/);
    const first = await appendOne(url, 'fresh', 'first');
    assert.equal(await follow.waitForLine(/ first /), eventLine(new JournalEvent(first)));
    follow.child.kill('SIGINT');
    assert.deepEqual(await follow.waitForExit(), { code: 0, signal: null });
  });

  test('follow mode says on stderr where history ends, once, and then prints live events', async () => {
    const tail = new CliProcess(['tail', 'rt', '--url', url]);
    await tail.waitForLine(/ finish /);
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => void (/end of history/.test(tail.stderr) && resolve());
        tail.child.stderr.on('data', check);
        check();
      }),
      10_000,
      'the end-of-history line',
    );
    assert.equal(tail.stderr, 'wsjournal tail: end of history (3 events); following live events\n');
    const live = await appendOne(url, 'rt', 'later');
    written.push(live);
    await tail.waitForLine(/ later /);
    assert.equal(tail.lines.length, 4);
    tail.child.kill('SIGINT');
    assert.deepEqual(await tail.waitForExit(), { code: 0, signal: null });
    assert.equal(tail.stderr.split('\n').length, 2, 'one line on stderr');
  });

  test('tail takes several --url: a server that cannot be reached is passed over', async () => {
    const dead = `ws://127.0.0.1:${await freePort()}`;
    const { code, lines, stderr } = await wsjournal(['tail', 'rt', '--no-follow', '--url', dead, '--url', url]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(lines, written.map((event) => eventLine(new JournalEvent(event))));
    const otherDead = `ws://127.0.0.1:${await freePort()}`;
    const none = await wsjournal(['tail', 'rt', '--no-follow', '--url', dead, '--url', otherDead]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^wsjournal tail: cannot connect to /);
  });

  test('a TLS failure (wss:// to a server without TLS) is reported on one line', async () => {
    const wss = url.replace(/^ws:/, 'wss:');
    const { code, stderr } = await wsjournal(['tail', 'rt', '--no-follow', '--url', wss]);
    assert.equal(code, 1);
    assert.match(stderr, /^wsjournal tail: cannot connect to wss:\/\/.*TLS error: [^\n]+\n$/);
  });

  test('serve --limit sets a server limit: one connection per address, the second refused 429', async () => {
    const limited = await serve(['--store', 'memory:', '--limit', 'maxConnectionsPerAddress=1']);
    try {
      const first = new WebSocket(limited.url);
      await within(new Promise((resolve, reject) => first.once('open', resolve).once('error', reject)), 5000, 'the first connection');
      const second = new WebSocket(limited.url);
      const status = await within(
        new Promise<number>((resolve) => second.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0)).once('error', () => {})),
        5000,
        'the second handshake',
      );
      assert.equal(status, 429);
      first.close();
    } finally {
      limited.proc.child.kill('SIGKILL');
      await limited.proc.exit;
    }
  });

  test('a second serve on the same port fails with a clear message', async () => {
    const port = new URL(url).port;
    const { code, stderr } = await wsjournal(['serve', '--port', port, '--store', 'memory:']);
    assert.equal(code, 1);
    assert.match(stderr, /already in use/);
  });

  test('serve exits 0 on SIGTERM and a restart on the same --data keeps the events', async () => {
    server.proc.child.kill('SIGTERM');
    assert.deepEqual(await server.proc.waitForExit(), { code: 0, signal: null });
    server = await serve(['--data', dataDir]);
    url = server.url;
    const { code, lines } = await wsjournal(['tail', 'rt', '--no-follow', '--url', url]);
    assert.equal(code, 0);
    assert.deepEqual(
      lines,
      written.map((event) => eventLine(new JournalEvent(event))),
    );
  });
});

describe('wsjournal with --token', () => {
  let server: { proc: CliProcess; url: string };

  before(async () => {
    server = await serve(['--store', 'memory:', '--token', 's3cret', '--token', 'other']);
  });

  after(async () => {
    server.proc.child.kill('SIGTERM');
    assert.equal((await server.proc.waitForExit()).code, 0);
  });

  test('without the right token, tail and append fail as unauthorized', async () => {
    const { url } = server;
    const runs = await Promise.all([
      wsjournal(['tail', 'jobs', '--no-follow', '--url', url]),
      wsjournal(['tail', 'jobs', '--url', url, '--token', 'wrong']),
      wsjournal(['append', 'jobs', 'submit', '--url', url]),
      wsjournal(['append', 'jobs', 'submit', '--url', url, '--token', 'wrong']),
    ]);
    for (const { code, stderr } of runs) {
      assert.equal(code, 1);
      assert.match(stderr, /unauthorized/);
    }
  });

  test('with a right token, append and tail work (also from WSJOURNAL_TOKEN)', async () => {
    const { url } = server;
    const appended = await wsjournal(['append', 'jobs', 'submit', '--url', url, '--token', 's3cret']);
    assert.equal(appended.code, 0, appended.stderr);
    const tail = await wsjournal(['tail', 'jobs', '--no-follow', '--url', url], { env: { WSJOURNAL_TOKEN: 'other' } });
    assert.equal(tail.code, 0, tail.stderr);
    assert.equal(tail.lines.length, 1);
    assert.match(tail.lines[0]!, / submit $/);
  });
});
