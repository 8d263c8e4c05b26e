/**
 * The client in a browser: a page bundled with esbuild (as an application
 * would bundle the client) runs in headless Chromium with the browser's own
 * WebSocket. It appends with a JournalProducer and follows the journal with
 * an EventLogConsumer through `for await`: history written from Node and from
 * the page, in order, the sentinel once, then a live event, with the bearer
 * token passed as `?token=` (browsers cannot set headers on a WebSocket).
 * Skips with the reason when no Chromium is installed, unless
 * WSJOURNAL_REQUIRE_SERVICES=1 (Debian: `apt-get install chromium`).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { build } from 'esbuild';
import { once, startServer } from './helpers.js';

const J = 'browser';
const TOKEN = 'browser-token';
const CHROMIUM = [process.env['WSJOURNAL_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(
  (path) => path !== undefined && existsSync(path),
);

/** Serves the page and its bundle, and turns the page's reports (`POST /name`) into events. */
class PageServer extends EventEmitter {
  readonly #server: Server;

  private constructor(server: Server) {
    super();
    this.#server = server;
  }

  static async start(bundle: string): Promise<PageServer> {
    let page!: PageServer;
    const server = createServer((req, res) => {
      if (req.method === 'GET' && req.url?.startsWith('/?')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><meta charset="utf-8"><title>wsjournal</title><script type="module" src="/page.js"></script>');
      } else if (req.method === 'GET' && req.url === '/page.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
        res.end(bundle);
      } else if (req.method === 'POST') {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          res.writeHead(204).end();
          page.emit(req.url!.slice(1), JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
        });
      } else {
        res.writeHead(404).end();
      }
    });
    page = new PageServer(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return page;
  }

  get origin(): string {
    const address = this.#server.address() as { port: number };
    return `http://127.0.0.1:${address.port}`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** Headless Chromium on `url`, in a fresh profile; `close()` ends it and its helpers. */
function launch(chromium: string, url: string): { child: ChildProcess; output: () => string; close: () => Promise<void> } {
  const profile = mkdtempSync(join(tmpdir(), 'wsjournal-chromium-'));
  const child = spawn(
    chromium,
    ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check', `--user-data-dir=${profile}`, url],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => output,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(-child.pid!, 'SIGTERM');
        const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

interface PageResult {
  ok: boolean;
  error?: string;
  result?: {
    acks: { seq: number; timestamp: number }[];
    events: { name: string; seq: number; timestamp: number; context: Record<string, unknown> }[];
    sentinels: number;
    lastTimestamp: number;
    nativeWebSocket: boolean;
  };
}

if (CHROMIUM === undefined && process.env['WSJOURNAL_REQUIRE_SERVICES'] !== '1') {
  const reason = 'no Chromium found (set WSJOURNAL_CHROMIUM, or apt-get install chromium)';
  console.log(`# skipping browser.test: ${reason}`);
  describe('the client in headless Chromium', { skip: reason }, () => {
    it('runs with the browser WebSocket', () => {});
  });
} else {
  describe('the client in headless Chromium', () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    it('appends with a producer, then follows history, the sentinel and a live event with for await, using the browser WebSocket and ?token=', async () => {
      assert.ok(CHROMIUM !== undefined, 'Chromium is required (WSJOURNAL_REQUIRE_SERVICES=1): apt-get install chromium');
      const bundled = await build({
        entryPoints: [fileURLToPath(new URL('./fixtures/browser-page.js', import.meta.url))],
        bundle: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        // Loaded only under Node (src/connection.ts); a browser uses its global WebSocket.
        external: ['ws'],
        write: false,
        logLevel: 'silent',
      });
      const server = await startServer({ tokens: [TOKEN] });
      cleanups.push(() => server.close());
      const fromNode: number[] = [];
      for (let n = 1; n <= 3; n++) fromNode.push((await server.append(J, 'from-node', { n })).seq);
      const page = await PageServer.start(bundled.outputFiles[0]!.text);
      cleanups.push(() => page.close());
      const historyDone = once(page, 'history-done', 60_000);
      const reported = once<[PageResult]>(page, 'result', 60_000);
      const query = new URLSearchParams({ server: server.url, journal: J, token: TOKEN });
      const browser = launch(CHROMIUM, `${page.origin}/?${query}`);
      cleanups.push(browser.close);
      // Whichever comes first: history done, or a failure the page reports.
      const first = await Promise.race([historyDone.then(() => undefined), reported.then(([result]) => result)]).catch((error: Error) => {
        throw new Error(`${error.message}; Chromium said:\n${browser.output().slice(-2000)}`);
      });
      assert.equal(first?.error, undefined, `the page failed: ${first?.error}`);
      const live = await server.append(J, 'live', { n: 99 });
      const [report] = await reported;
      assert.ok(report.ok, `the page failed: ${report.error}`);
      const { acks, events, sentinels, lastTimestamp, nativeWebSocket } = report.result!;
      assert.equal(nativeWebSocket, true);
      assert.deepEqual(fromNode, [1, 2, 3]);
      assert.deepEqual(acks.map((ack) => ack.seq), [4, 5], 'the page producer was acknowledged with the next seqs');
      assert.deepEqual(
        events.map((event) => [event.seq, event.name, event.context['n']]),
        [
          [1, 'from-node', 1],
          [2, 'from-node', 2],
          [3, 'from-node', 3],
          [4, 'from-page', 1],
          [5, 'from-page', 2],
          [6, 'live', 99],
        ],
      );
      assert.equal(events[4]!.context['text'], 'é✓', 'non-ASCII text survives the round trip');
      assert.deepEqual(events.slice(3, 5).map((event) => event.timestamp), acks.map((ack) => ack.timestamp));
      for (let i = 1; i < events.length; i++) assert.ok(events[i]!.timestamp > events[i - 1]!.timestamp, 'timestamps increase');
      assert.equal(sentinels, 1, 'exactly one sentinel, between history and the live event');
      assert.equal(events[5]!.timestamp, live.timestamp);
      assert.equal(lastTimestamp, live.timestamp);
    });
  });
}
