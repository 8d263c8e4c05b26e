/**
 * The examples really work: each built example runs as a child process
 * against a server on port 0, and its output and exit are checked. Every
 * wait is for an expected line or exit, with a timeout.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { JournalServer } from '../server/journal-server.js';
import { MemoryStore } from '../server/memory-store.js';
import { readAll } from './harness.js';
import { startServer } from './helpers.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples');
const WAIT_MS = 5000;

type Match = string | RegExp;

/** A running example: its stdout lines as they come, and its exit. */
class Example {
  readonly lines: string[] = [];
  stderr = '';
  readonly #child: ChildProcess;
  readonly #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: { match: Match; from: number; resolve: (index: number) => void }[] = [];

  constructor(
    readonly name: string,
    args: string[],
    url: string,
  ) {
    this.#child = spawn(process.execPath, [join(EXAMPLES, `${name}.js`), ...args], {
      env: { ...process.env, WSJOURNAL_URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      this.lines.push(line.trimEnd());
      const index = this.lines.length - 1;
      this.#waiters = this.#waiters.filter((waiter) => {
        if (index < waiter.from || !matches(this.lines[index]!, waiter.match)) return true;
        waiter.resolve(index);
        return false;
      });
    });
    this.#exit = new Promise((resolve) => this.#child.once('exit', (code, signal) => resolve({ code, signal })));
    running.add(this);
  }

  /** Resolves with the index of the first line at or after `from` that matches. */
  line(match: Match, from = 0, ms = WAIT_MS): Promise<number> {
    const found = this.lines.findIndex((line, index) => index >= from && matches(line, match));
    if (found >= 0) return Promise.resolve(found);
    const waiting = new Promise<number>((resolve) => this.#waiters.push({ match, from, resolve }));
    return this.#within(waiting, ms, `to print ${String(match)}`);
  }

  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** Resolves with the exit code; fails if the process has not exited within `ms`. */
  async exited(ms = WAIT_MS): Promise<number | null> {
    const { code, signal } = await this.#within(this.#exit, ms, 'to exit');
    running.delete(this);
    assert.equal(signal, null, `${this.name} was killed by ${signal}`);
    return code;
  }

  /** Ends the process if a failed test left it running. */
  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }

  /** Like `within`, but the message shows the output as it was at the timeout. */
  async #within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const transcript = [...this.lines, this.stderr && `[stderr] ${this.stderr}`].join('\n');
        reject(new Error(`timed out after ${ms} ms waiting for ${this.name} ${what}; it printed:\n${transcript}`));
      }, ms);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

const running = new Set<Example>();

function matches(line: string, match: Match): boolean {
  return typeof match === 'string' ? line.includes(match) : match.test(line);
}

describe('examples', () => {
  let server: JournalServer;
  let dir: string;
  const run = (name: string, ...args: string[]) => new Example(name, args, server.url);
  /** Appends `count` events `name` with contexts `{ n: first }`, `{ n: first + 1 }`, … */
  const appendNumbered = async (journal: string, name: string, first: number, count: number) => {
    for (let n = first; n < first + count; n++) await server.append(journal, name, { n });
  };

  before(async () => {
    server = await startServer();
    dir = await mkdtemp(join(tmpdir(), 'wsjournal-examples-'));
  });

  after(async () => {
    for (const example of running) example.kill();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('producer appends submit, start and finish for every job', async () => {
    const producer = run('producer', 'ex-producer', '--jobs', '4', '--rate', '0', '--batch', '3');
    assert.equal(await producer.exited(), 0);
    assert.equal(producer.lines.filter((line) => line.startsWith('appended ')).length, 12);

    const stored = await server.store.read('ex-producer', 0, 100);
    assert.equal(stored.length, 12);
    const byJob = new Map<unknown, string[]>();
    for (const event of stored) {
      const { name, context } = JSON.parse(event.json) as { name: string; context: { jobid: unknown } };
      byJob.set(context.jobid, [...(byJob.get(context.jobid) ?? []), name]);
    }
    assert.equal(byJob.size, 4);
    for (const names of byJob.values()) assert.deepEqual(names, ['submit', 'start', 'finish']);
  });

  it('monitor prints history, the end of history, live events, and stops on SIGINT', async () => {
    await appendNumbered('ex-monitor', 'old', 0, 3);
    const monitor = run('monitor', 'ex-monitor');
    const sentinel = await monitor.line('End of historical data stream');
    for (let n = 0; n < 3; n++) assert.match(monitor.lines[n]!, new RegExp(`^\\d+\\.\\d{5} old n=${n}$`));
    assert.equal(sentinel, 3);

    await server.append('ex-monitor', 'new', { n: 3 });
    assert.equal(await monitor.line(/^\d+\.\d{5} new n=3$/), 4);

    monitor.signal('SIGINT');
    assert.equal(await monitor.line('monitor stopped'), 5);
    assert.equal(await monitor.exited(), 0);
  });

  it('async-iteration prints --max events across history and live, then exits', async () => {
    await appendNumbered('ex-iterate', 'old', 0, 3);
    const iterate = run('async-iteration', 'ex-iterate', '--max', '5');
    await iterate.line('-- end of history');
    await appendNumbered('ex-iterate', 'new', 3, 2);
    assert.equal(await iterate.exited(), 0);
    const numbered = iterate.lines.filter((line) => /^\d+: /.test(line));
    assert.deepEqual(
      numbered.map((line) => line.replace(/ \d+\.\d{5} /, ' ')),
      ['1: old n=0', '2: old n=1', '3: old n=2', '4: new n=3', '5: new n=4'],
    );
    assert.equal(iterate.lines.at(-1), 'async-iteration: done after 5 events');
  });

  it('async-iteration ends its loop on SIGINT', async () => {
    await appendNumbered('ex-iterate-int', 'old', 0, 2);
    const iterate = run('async-iteration', 'ex-iterate-int');
    await iterate.line('-- end of history');
    iterate.signal('SIGINT');
    assert.equal(await iterate.exited(), 0);
    assert.equal(iterate.lines.at(-1), 'async-iteration: done after 2 events');
  });

  it('resume processes every event exactly once across restarts', async () => {
    const state = join(dir, 'resume-state.json');
    const processed: number[] = [];
    const collect = (example: Example) => {
      for (const line of example.lines) {
        const found = /^processed \d+ \w+ n=(\d+)$/.exec(line);
        if (found) processed.push(Number(found[1]));
      }
    };
    await appendNumbered('ex-resume', 'e', 0, 10);

    // First run: part of the history, then exit.
    const first = run('resume', 'ex-resume', '--max', '4', '--state', state);
    assert.equal(await first.exited(), 0);
    collect(first);
    assert.deepEqual(processed, [0, 1, 2, 3]);
    const saved = JSON.parse(await readFile(state, 'utf8')) as { lastTimestamp: number };
    assert.equal(typeof saved.lastTimestamp, 'number');

    // Second run: the rest of the history, then live events, stopped by SIGINT.
    const second = run('resume', 'ex-resume', '--state', state);
    await second.line('-- caught up');
    await appendNumbered('ex-resume', 'e', 10, 2);
    await second.line('processed 12 e n=11');
    second.signal('SIGINT');
    assert.equal(await second.exited(), 0);
    collect(second);

    // Third run: only what was appended while nothing ran.
    await appendNumbered('ex-resume', 'e', 12, 1);
    const third = run('resume', 'ex-resume', '--max', '1', '--state', state);
    assert.equal(await third.exited(), 0);
    collect(third);

    assert.deepEqual(processed, Array.from({ length: 13 }, (_, n) => n));
  });

  it('experiment appends runs that run-summary routes by run, one summary per run, a failed one included', async () => {
    // Started first: the runs reach it as live events (or as history, if it subscribes late).
    const summary = run('run-summary', 'ex-scans', '--max', '3');
    const experiment = run('experiment', 'ex-scans', '--runs', '3', '--points', '4', '--fail', '2');
    assert.equal(await experiment.exited(), 0);
    assert.deepEqual(experiment.lines.map((line) => line.replace(/: [0-9a-f-]{36}$/, ': <id>')), [
      'run 1 (Fe) started: <id>',
      'run 1 (Fe) stopped: success',
      'run 2 (Cu) started: <id>',
      'run 2 (Cu) stopped: fail (detector stopped answering)',
      'run 3 (Au) started: <id>',
      'run 3 (Au) stopped: success',
      'experiment: 3 runs, 1 failed',
    ]);
    assert.equal(await summary.exited(), 0);
    assert.deepEqual(summary.lines, [
      'summary Fe success: primary: 4 readings, peak 1010 at 1',
      'summary Cu fail (detector stopped answering): primary: 2 readings, peak 799 at 0.5',
      'summary Au success: primary: 4 readings, peak 1030 at 1',
      'run-summary: 3 runs summarized, 0 orphan events, 0 runs still open',
    ]);
    // From history, a second time: the same summaries.
    const again = run('run-summary', 'ex-scans', '--max', '3');
    assert.equal(await again.exited(), 0);
    assert.deepEqual(again.lines, summary.lines);
  });

  it('webhook-forward posts a journal to its receiver in order, retrying 503s, and goes on from its checkpoint', async () => {
    await appendNumbered('ex-forward', 'job', 1, 6);
    const checkpoint = join(dir, 'forward.checkpoint.json');
    const first = run('webhook-forward', 'ex-forward', '--no-follow', '--checkpoint', checkpoint);
    assert.equal(await first.exited(), 0, first.stderr);
    const received = (example: Example) => example.lines.filter((line) => line.startsWith('received '));
    assert.deepEqual(received(first), [1, 2, 3, 4, 5, 6].map((n) => `received ex-forward:${n} job {"n":${n}}`));
    assert.match(first.stderr, /HTTP 503.*retrying/);
    assert.equal(first.lines.at(-1), `webhook-forward: stopped after ex-forward:6, checkpoint in ${checkpoint}`);
    await appendNumbered('ex-forward', 'job', 7, 3);
    const second = run('webhook-forward', 'ex-forward', '--no-follow', '--checkpoint', checkpoint);
    assert.equal(await second.exited(), 0, second.stderr);
    assert.match(second.lines[0]!, /from after seq 6$/);
    assert.deepEqual(received(second), [7, 8, 9].map((n) => `received ex-forward:${n} job {"n":${n}}`));
  });

  it('lab-logger logs a workflow with bound context, and loses nothing across a server restart', async () => {
    const store = new MemoryStore();
    let lab = await startServer({ store });
    const port = Number(new URL(lab.url).port);
    const logger = new Example('lab-logger', ['ex-lab', '--steps', '12', '--interval', '0.05', '--spool', join(dir, 'lab-spool')], lab.url);
    try {
      await logger.line('step 3 done');
      await lab.close();
      await logger.line('step 8 done');
      lab = await startServer({ store, port });
      assert.equal(await logger.exited(20_000), 0);
    } finally {
      await lab.close();
    }
    assert.equal(logger.lines.at(-1), 'lab-logger: done, 0 events dropped');
    const stored = (await store.read('ex-lab', 0, 1000)).map((event) => JSON.parse(event.json) as { name: string; context: Record<string, unknown> });
    assert.ok(stored.every((event) => event.name === 'log' && event.context['source'] === 'liquid-handler' && event.context['node'] === 'ot2-deck-1'));
    const summary = stored.map(({ context }) => `${String(context['step'] ?? '-')} ${String(context['level'])} ${String(context['message'])}`);
    const expected = ['- info workflow started'];
    for (let step = 1; step <= 12; step++) {
      expected.push(`${step} info step started`);
      if (step === 3) expected.push('3 warning tip rack low');
      if (step === 4) expected.push('4 error plate move failed, retrying');
      expected.push(`${step} debug step finished`);
    }
    expected.push('- info workflow finished');
    assert.deepEqual(summary, expected);
    const failed = stored.find(({ context }) => context['level'] === 'error')!.context['exception'] as Record<string, any>;
    assert.equal(failed['message'], 'cannot move plate to deck 2');
    assert.equal(failed['cause']['code'], 'E_GRIP');
  });

  it('job-consumer lifts jobid out of the context', async () => {
    await server.append('ex-jobs', 'submit', { jobid: 'a1', userid: 5 });
    await server.append('ex-jobs', 'start', { jobid: 'a1' });
    await server.append('ex-jobs', 'submit', { jobid: 42, ntasks: 2 });
    const jobs = run('job-consumer', 'ex-jobs', '--idle', '0.3');
    assert.equal(await jobs.exited(), 0);
    assert.deepEqual(jobs.lines, [
      'a1 submit userid=5',
      'a1 start',
      '42 submit ntasks=2',
      '-- end of history --',
      '-- no event for 0.3 s, stopping --',
      'job-consumer: done after 3 events',
    ]);

    const limited = run('job-consumer', 'ex-jobs', '--max', '2');
    assert.equal(await limited.exited(), 0);
    assert.deepEqual(limited.lines, ['a1 submit userid=5', 'a1 start', 'job-consumer: done after 2 events']);
  });

  it("job-consumer prints the README quick start's events with their jobid, and '-' for an event that carries none", async () => {
    await server.append('ex-quick', 'submit', { jobid: 'f3x', userid: 1000 });
    await server.append('ex-quick', 'note', { text: 'not a job event' });
    const jobs = run('job-consumer', 'ex-quick', '--max', '2');
    assert.equal(await jobs.exited(), 0);
    assert.deepEqual(jobs.lines, ['f3x submit userid=1000', '- note text=not a job event', 'job-consumer: done after 2 events']);
  });

  it('utilization-report seeds sessions, writes the daily utilization CSV and prints a summary', async () => {
    const out = join(dir, 'utilization.csv');
    const started = Date.now() / 1000;
    const report = run('utilization-report', 'ex-lab', '--seed', '--out', out);
    assert.equal(await report.exited(10_000), 0, report.stderr);
    const ended = Date.now() / 1000;
    assert.equal(report.lines[0], 'seeded 4 sessions on 3 instruments');
    const csv = await readFile(out, 'utf8');
    const [header, ...rows] = csv.trimEnd().split('\n');
    assert.equal(header, 'start,end,key,spans,busySeconds,utilization');
    const busy = new Map<string, number>();
    for (const line of rows) {
      const [start, end, key, spans, seconds, utilization] = line.split(',') as [string, string, string, string, string, string];
      assert.match(start, /^\d{4}-\d{2}-\d{2}T00:00:00Z$/);
      assert.equal(Date.parse(end) - Date.parse(start), 86_400_000);
      assert.ok(Number(spans) >= 1);
      assert.ok(Math.abs(Number(utilization) - Number(seconds) / 86_400) < 1e-15, line);
      busy.set(key, (busy.get(key) ?? 0) + Number(seconds));
    }
    // The closed sessions' busy time is exactly what the stored events say; the open one runs until the report.
    const stored = (await readAll(server.store, 'ex-lab')).map((event) => ({ ...(JSON.parse(event.json) as { name: string; context: { instrument: string } }), micros: Math.round(event.timestamp * 1e6) }));
    const expected = new Map<string, number>();
    const open = new Map<string, number>();
    for (const event of stored) {
      const { instrument } = event.context;
      if (event.name === 'session_start') open.set(instrument, event.micros);
      if (event.name === 'session_end') {
        expected.set(instrument, (expected.get(instrument) ?? 0) + event.micros - open.get(instrument)!);
        open.delete(instrument);
      }
    }
    assert.deepEqual([...busy.keys()].sort(), ['hplc-1', 'ms-1', 'nmr-1']);
    for (const [instrument, micros] of expected) assert.ok(Math.abs(busy.get(instrument)! - micros / 1e6) < 1e-6, `${instrument}: ${busy.get(instrument)} s`);
    const nmr = busy.get('nmr-1')!;
    assert.ok(nmr > 0 && nmr <= ended - started, `nmr-1: ${nmr} s`);
    assert.equal(report.lines.at(-1), `wrote ${rows.length} rows to ${out}`);
    assert.equal(report.lines.filter((line) => / session\(s\), busy /.test(line)).length, rows.length);
  });

  it('typed-events registers two schemas, appends typed events, refuses a bad one before sending, and narrows them on reading', async () => {
    const first = run('typed-events', 'ex-typed');
    assert.equal(await first.exited(), 0, first.stderr);
    assert.deepEqual(first.lines, [
      'registered urn:example:job.submitted 1',
      'registered urn:example:job.finished 1',
      'appended submit seq=1, finish seq=2',
      'refused before sending: INVALID_EVENT /jobid',
      'job f3x submitted by user 1000 at urgency 16',
      'job f3x finished with status 0 after 2.5 s',
      'typed-events: done after 2 events',
    ]);
    // The server holds each event with its schema, and checks what the example did not.
    const stored = await readAll(server.store, 'ex-typed');
    assert.deepEqual(stored.map((event) => (JSON.parse(event.json) as { schema: unknown }).schema), [
      { id: 'urn:example:job.submitted', version: 1 },
      { id: 'urn:example:job.finished', version: 1 },
    ]);
    await assert.rejects(server.append('ex-typed', 'finish', { jobid: 'f3x' }, { schema: { id: 'urn:example:job.finished', version: 1 } }), {
      code: 'SCHEMA_VIOLATION',
    });

    const second = run('typed-events', 'ex-typed');
    assert.equal(await second.exited(), 0, second.stderr);
    assert.deepEqual(second.lines.slice(0, 3), [
      'already registered urn:example:job.submitted 1',
      'already registered urn:example:job.finished 1',
      'appended submit seq=3, finish seq=4',
    ]);
    assert.equal(second.lines.at(-1), 'typed-events: done after 4 events');
  });
});
