/** Shared test helpers: servers on port 0 or in a child process, latches with timeouts, collecting events. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { MemoryStore } from '../server/memory-store.js';
import { JournalServer, type JournalServerOptions } from '../server/journal-server.js';
import type { JournalEvent } from '../src/journal-event.js';
import type { JournalConsumer } from '../src/journal-consumer.js';
import { hashKey } from '../server/key-index.js';
import { ScanSlicer } from '../server/budget/scan-slicer.js';

/** Rejects if `promise` has not settled within `ms`, naming what was awaited. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the first emission of `event` on `emitter`, or rejects after `ms`. */
export function once<T extends unknown[] = unknown[]>(
  emitter: { once(event: string, listener: (...args: any[]) => void): unknown },
  event: string,
  ms = 5000,
): Promise<T> {
  return within(new Promise<T>((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as T))), ms, `'${event}'`);
}

/** A server on 127.0.0.1, port 0, on a fresh MemoryStore unless told otherwise. */
export async function startServer(options: JournalServerOptions = {}): Promise<JournalServer> {
  const server = new JournalServer({ port: 0, store: new MemoryStore(), ...options });
  await server.listen();
  return server;
}

/** Polls `count` events (with a per-poll timeout), failing clearly if they do not come. */
export async function pollMany<E extends JournalEvent>(consumer: JournalConsumer<E>, count: number, timeout = 5): Promise<E[]> {
  const events: E[] = [];
  while (events.length < count) {
    const event = await consumer.poll(timeout);
    if (event === null) throw new Error(`consumer ended after ${events.length} of ${count} events`);
    events.push(event);
  }
  return events;
}

/** A latch: `wait()` resolves once `count` arrivals have been counted. */
export class Latch {
  #remaining: number;
  #resolve!: () => void;
  readonly #done: Promise<void>;

  constructor(count: number) {
    this.#remaining = count;
    this.#done = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    if (count <= 0) this.#resolve();
  }

  countDown(): void {
    if (--this.#remaining === 0) this.#resolve();
  }

  wait(ms = 5000, what = 'the latch'): Promise<void> {
    return within(this.#done, ms, what);
  }
}

/** How a child process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A journal server running in a child process (`test/fixtures/server-process.ts`). */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** `ws://127.0.0.1:<port>` */
  readonly url: string;
  /** Settles when the process has exited. */
  readonly exited: Promise<ExitStatus>;
  /** Everything the process wrote to stderr so far. */
  readonly stderr: () => string;
  /**
   * Sends `signal` (SIGKILL: a crash; SIGTERM: a clean shutdown) and resolves
   * once the process has exited, rejecting after `ms`. Harmless if it already exited.
   */
  kill(signal?: 'SIGKILL' | 'SIGTERM', ms?: number): Promise<ExitStatus>;
}

export interface SpawnServerOptions {
  /** The LmdbStore directory; reuse it to restart on the same data. */
  dataDir: string;
  /** @default 0 (a free port) */
  port?: number;
  /** Server heartbeat, seconds. @default 5 */
  heartbeatInterval?: number;
  /** How long to wait for `listening <port>`, ms. @default 10000 */
  timeout?: number;
}

const SERVER_PROCESS = new URL('./fixtures/server-process.js', import.meta.url);

/** Starts the server fixture as a child process and resolves once it prints `listening <port>`. */
export async function spawnServer(options: SpawnServerOptions): Promise<ServerProcess> {
  const { dataDir, port = 0, heartbeatInterval = 5, timeout = 10_000 } = options;
  const child = spawn(
    process.execPath,
    [SERVER_PROCESS.pathname, '--data', dataDir, '--port', String(port), '--heartbeat', String(heartbeatInterval)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const lines = createInterface({ input: child.stdout! });
  const listening = new Promise<number>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = /^listening (\d+)$/.exec(line);
      if (match) resolve(Number(match[1]));
    });
    child.once('error', reject);
    void exited.then((status) =>
      reject(new Error(`the server process exited (${status.code ?? status.signal}) before listening: ${stderr.trim()}`)),
    );
  });
  let actual: number;
  try {
    actual = await within(listening, timeout, `the server process on ${dataDir} to listen`);
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    throw error;
  }
  return {
    child,
    port: actual,
    url: `ws://127.0.0.1:${actual}`,
    exited,
    stderr: () => stderr,
    kill(signal = 'SIGKILL', ms = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return within(exited, ms, `the server process ${child.pid} to exit on ${signal}`);
    },
  };
}

/** A TCP port that was free a moment ago (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Wakes whoever waits for a condition each time something it depends on changes: no polling, no sleeping. */
export class Signal {
  readonly #checks = new Set<() => void>();

  notify(): void {
    for (const check of [...this.#checks]) check();
  }

  /** Resolves once `condition()` holds after a `notify()`, or rejects after `ms`. */
  until(condition: () => boolean, ms: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    let check!: () => void;
    const done = new Promise<void>((resolve) => {
      check = () => {
        if (condition()) resolve();
      };
      this.#checks.add(check);
    });
    return within(done, ms, what).finally(() => this.#checks.delete(check));
  }
}

/** Two different keys with the same hash, found by a birthday search over `c0`, `c1`, … */
export function collidingKeys(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const key = `c${i}`;
    const other = seen.get(hashKey(key));
    if (other !== undefined) return [other, key];
    seen.set(hashKey(key), key);
  }
}

/** A ScanSlicer that counts the slices it runs. */
export class CountingSlicer extends ScanSlicer {
  slices = 0;

  override run<T>(owner: unknown, work: () => T | PromiseLike<T>, signal?: AbortSignal): Promise<T> {
    this.slices++;
    return super.run(owner, work, signal);
  }
}
