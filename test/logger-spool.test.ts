/**
 * JournalLogger with a spool: events survive a SIGKILL of the logger while
 * the server is down and while it sends, are stored exactly once and in
 * order, a batch resent after a crash is stored once, the spool is bounded
 * in bytes, one logger holds a spool, a refused event is dropped alone, and
 * a torn last line is cut off.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import type { JournalServer } from '../server/journal-server.js';
import { MemoryStore } from '../server/memory-store.js';
import { JournalConnection } from '../src/connection.js';
import { ErrorCode, type JournalError } from '../src/errors.js';
import { JournalLogger } from '../src/index.js';
import { freePort, once, Signal, startServer, within } from './helpers.js';

const CHILD = new URL('./fixtures/logger-child.js', import.meta.url).pathname;
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function tempSpool(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsjournal-spool-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<JournalServer> {
  const started = await startServer(options);
  cleanups.push(() => started.close());
  return started;
}

function quickConnection(url: string): JournalConnection {
  const connection = new JournalConnection(url, { reconnectDelay: 0.02, maxReconnectDelay: 0.1 });
  cleanups.push(() => connection.close());
  return connection;
}

/** The logger fixture as a child process: its `logged N` lines and its exit. */
class LoggerChild {
  readonly child: ChildProcess;
  logged = 0;
  readonly #lines = new Signal();
  readonly #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #done = false;
  stderr = '';

  constructor(url: string, journal: string, spool: string, run: string, count: number, slowAfter?: number) {
    const args = [CHILD, url, journal, spool, run, String(count), ...(slowAfter === undefined ? [] : [String(slowAfter)])];
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const match = /^logged (\d+)$/.exec(line);
      if (match) this.logged = Number(match[1]);
      if (line === 'done') this.#done = true;
      this.#lines.notify();
    });
    this.#exit = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    cleanups.push(() => this.child.exitCode === null && this.child.signalCode === null && this.child.kill('SIGKILL'));
  }

  loggedAtLeast(count: number, ms = 10_000): Promise<void> {
    return this.#lines.until(() => this.logged >= count, ms, `the logger child to log ${count} events (stderr: ${this.stderr})`);
  }

  done(ms = 10_000): Promise<void> {
    return this.#lines.until(() => this.#done, ms, `the logger child to finish logging (stderr: ${this.stderr})`);
  }

  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill(signal);
    return within(this.#exit, 10_000, `the logger child to exit on ${signal}`);
  }
}

/** Resolves once `condition` holds of the journal's stored contexts, re-checked on every append. */
async function storedUntil(
  journal: JournalServer,
  name: string,
  condition: (contexts: Record<string, unknown>[]) => boolean,
  what: string,
  ms = 20_000,
): Promise<Record<string, unknown>[]> {
  const signal = new Signal();
  let contexts: Record<string, unknown>[] = [];
  const refresh = async (): Promise<void> => {
    const events = await journal.store.read(name, 0, 1_000_000);
    contexts = events.map((event) => (JSON.parse(event.json) as { context: Record<string, unknown> }).context);
    signal.notify();
  };
  const stop = journal.store.watch(name, () => void refresh());
  try {
    await refresh();
    await signal.until(() => condition(contexts), ms, what);
    return contexts;
  } finally {
    stop();
  }
}

/** Asserts that `contexts` are run `run`'s events n = 0, 1, … in order, each once; returns how many. */
function assertRun(contexts: Record<string, unknown>[], run: string): number {
  const ns = contexts.filter((context) => context['run'] === run).map((context) => context['n']);
  assert.deepEqual(ns, Array.from({ length: ns.length }, (_, n) => n), `run ${run}: every event once, in order`);
  return ns.length;
}

describe('JournalLogger spool', () => {
  it('loses nothing it accepted when killed while the server is down, and stores it once, in order', async () => {
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}`;
    const spool = tempSpool();
    const first = new LoggerChild(url, 'spooled', spool, 'first', 10_000, 5000);
    await first.loggedAtLeast(5000);
    assert.equal((await first.stop('SIGKILL')).signal, 'SIGKILL');
    const accepted = first.logged;
    assert.ok(accepted < 10_000, `killed half-way, after ${accepted} events`);

    const second = new LoggerChild(url, 'spooled', spool, 'second', 100);
    await second.done();
    // One logger per spool: this process is refused while the child holds it.
    assert.throws(() => new JournalLogger(url, 'spooled', { spool }), (error: JournalError) => error.code === ErrorCode.SPOOL_LOCKED);

    const journal = await server({ port, store: new MemoryStore() });
    const contexts = await storedUntil(
      journal,
      'spooled',
      (stored) => stored.at(-1)?.['run'] === 'second' && stored.at(-1)?.['n'] === 99,
      'the second run\'s last event',
    );
    assert.equal((await second.stop('SIGTERM')).code, 0);
    const firstCount = assertRun(contexts, 'first');
    assert.ok(firstCount >= accepted, `${firstCount} of the first run stored, ${accepted} accepted`);
    assert.equal(assertRun(contexts, 'second'), 100);
    assert.equal(contexts.length, firstCount + 100);
    assert.equal(contexts.findIndex((context) => context['run'] === 'second'), firstCount, 'the first run\'s events come first');
  });

  it('stores each event once when killed while sending', async () => {
    const journal = await server();
    const spool = tempSpool();
    const first = new LoggerChild(journal.url, 'sending', spool, 'first', 10_000, 2000);
    await first.loggedAtLeast(5000);
    await first.stop('SIGKILL');
    const accepted = first.logged;
    const second = new LoggerChild(journal.url, 'sending', spool, 'second', 100);
    const contexts = await storedUntil(
      journal,
      'sending',
      (stored) => stored.at(-1)?.['run'] === 'second' && stored.at(-1)?.['n'] === 99,
      'the second run\'s last event',
    );
    await second.stop('SIGTERM');
    assert.ok(assertRun(contexts, 'first') >= accepted);
    assert.equal(assertRun(contexts, 'second'), 100);
  });

  it('resends a batch recorded as sent with the same key, so the server stores it once', async () => {
    const journal = await server();
    const spool = tempSpool();
    const logger = new JournalLogger(journal.url, 'resent', { spool });
    for (let n = 0; n < 10; n++) logger.info('step', { n });
    await within(logger.flush(), 5000, 'flush');
    await logger.close();
    assert.equal((await journal.store.head('resent')).seq, 10);
    // As if the logger had died after the server stored the batch and before it heard the ack.
    writeFileSync(join(spool, 'progress.jsonl'), '{"acked":0}\n{"sent":[0,10]}\n');
    const again = new JournalLogger(journal.url, 'resent', { spool });
    again.info('after', { n: 10 });
    await within(again.flush(), 5000, 'flush');
    await again.close();
    const events = await journal.store.read('resent', 0, 100);
    assert.deepEqual(
      events.map((event) => (JSON.parse(event.json) as { context: { n: number } }).context.n),
      Array.from({ length: 11 }, (_, n) => n),
    );
  });

  it('keeps the spool under spoolMaxBytes, drops the oldest, and says how many once the server is back', async () => {
    const port = await freePort();
    const spool = tempSpool();
    const connection = quickConnection(`ws://127.0.0.1:${port}`);
    const logger = new JournalLogger(connection, 'capped', { spool, spoolMaxBytes: 1024 * 1024 });
    const pad = 'x'.repeat(1000);
    for (let n = 0; n < 3000; n++) logger.info('step', { n, pad });
    const bytes = readdirSync(spool)
      .filter((name) => name.endsWith('.jsonl') && name !== 'progress.jsonl')
      .reduce((sum, name) => sum + statSync(join(spool, name)).size, 0);
    assert.ok(bytes <= 1024 * 1024, `${bytes} bytes in the spool`);
    const dropped = logger.dropped;
    assert.ok(dropped > 1000 && dropped < 3000, `${dropped} dropped`);

    const journal = await server({ port, store: new MemoryStore() });
    const contexts = await storedUntil(journal, 'capped', (stored) => stored.at(-1)?.['level'] === 'warning', 'the warning');
    await logger.close();
    const steps = contexts.slice(0, -1).map((context) => context['n']);
    assert.equal(steps.length + dropped, 3000);
    assert.deepEqual(steps, Array.from({ length: steps.length }, (_, i) => dropped + i));
    assert.equal(contexts.at(-1)!['dropped'], dropped);
    assert.equal(contexts.at(-1)!['message'], `${dropped} log events were dropped`);
  });

  it('sends the events of a refused batch one by one, dropping only the refused one', async () => {
    const journal = await server({ maxEventSize: 300 });
    const spool = tempSpool();
    const logger = new JournalLogger(journal.url, 'split', { spool });
    const refused = once<[JournalError]>(logger, 'error');
    for (let n = 0; n < 5; n++) logger.info('step', { n, ...(n === 2 ? { pad: 'x'.repeat(500) } : {}) });
    await within(logger.flush(), 5000, 'flush');
    const [error] = await refused;
    assert.equal(error.code, ErrorCode.EVENT_TOO_LARGE);
    await logger.close();
    assert.equal(logger.dropped, 1);
    // close() waited for the warning too, which said what was lost.
    const events = await journal.store.read('split', 0, 100);
    const contexts = events.map((event) => (JSON.parse(event.json) as { context: Record<string, unknown> }).context);
    assert.deepEqual(contexts.map((context) => context['n'] ?? context['message']), [0, 1, 3, 4, '1 log event was dropped']);
  });

  it('cuts off a torn last line left by a crash', async () => {
    const port = await freePort();
    const spool = tempSpool();
    const offline = new JournalLogger(`ws://127.0.0.1:${port}`, 'torn', { spool, closeTimeout: 0.1 });
    for (let n = 0; n < 3; n++) offline.info('step', { n });
    await offline.close();
    const [segment] = readdirSync(spool).filter((name) => /^\d{16}\.jsonl$/.test(name));
    appendFileSync(join(spool, segment!), '{"name":"log","context":{"lev');

    const journal = await server({ port, store: new MemoryStore() });
    const logger = new JournalLogger(journal.url, 'torn', { spool });
    logger.info('step', { n: 3 });
    await within(logger.flush(), 5000, 'flush');
    await logger.close();
    const events = await journal.store.read('torn', 0, 100);
    assert.deepEqual(
      events.map((event) => (JSON.parse(event.json) as { context: { n: number } }).context.n),
      [0, 1, 2, 3],
    );
  });
});
