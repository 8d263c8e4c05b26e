/** Shared test helpers: servers on port 0, latches with timeouts, collecting events. */
import { MemoryStore } from '../server/memory-store.js';
import { JournalServer, type JournalServerOptions } from '../server/journal-server.js';
import type { JournalEvent } from '../src/journal-event.js';
import type { JournalConsumer } from '../src/journal-consumer.js';

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
