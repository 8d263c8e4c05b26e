/**
 * Per-test fixtures for the client tests: a server on port 0 and the
 * consumers, producers, connections and raw sockets a test opens, all torn
 * down (clients first, then the server) when the test ends, so that no
 * reconnecting client outlives its server.
 */
import { WebSocket, type RawData } from 'ws';
import type { JournalServer, JournalServerOptions } from '../server/journal-server.js';
import { MemoryStore } from '../server/memory-store.js';
import type { AppendListener, AppendOptions, JournalHead, JournalInfo, JournalStore, NewEvent, StoredEvent, StoredSchema, TrimOptions, TrimResult, JournalStart } from '../server/store.js';
import type { SchemaRef } from '../src/protocol.js';
import { JournalConnection, type JournalConnectionOptions } from '../src/connection.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalConsumer, JournalConsumerOptions } from '../src/journal-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import { JournalProducer, type JournalProducerOptions } from '../src/journal-producer.js';
import { startServer, within } from './helpers.js';

/** What `node:test` hands a test: enough to register a teardown. */
export interface TestContextLike {
  after(fn: () => unknown): void;
}

export class Harness {
  readonly server: JournalServer;
  readonly #consumers = new Set<JournalConsumer<any>>();
  readonly #producers = new Set<JournalProducer>();
  readonly #connections = new Set<JournalConnection>();
  readonly #raw = new Set<RawClient>();

  private constructor(server: JournalServer) {
    this.server = server;
  }

  /** A server (MemoryStore, port 0, `options` on top) whose clients are closed after the test. */
  static async start(t: TestContextLike, options: JournalServerOptions = {}): Promise<Harness> {
    const harness = new Harness(await startServer(options));
    t.after(() => harness.close());
    return harness;
  }

  get url(): string {
    return this.server.url;
  }

  /** An EventLogConsumer on its own connection (or `connection`), not yet started. */
  consumer(journal: string, options: JournalConsumerOptions = {}, connection?: JournalConnection): EventLogConsumer {
    return this.track(new EventLogConsumer(connection ?? this.url, journal, options));
  }

  /** Registers any consumer (e.g. a subclass) for teardown. */
  track<C extends JournalConsumer<any>>(consumer: C): C {
    this.#consumers.add(consumer);
    return consumer;
  }

  producer(journal: string, options: JournalProducerOptions = {}, connection?: JournalConnection): JournalProducer {
    const producer = new JournalProducer(connection ?? this.url, journal, options);
    this.#producers.add(producer);
    return producer;
  }

  connection(options: JournalConnectionOptions = {}): JournalConnection {
    const connection = new JournalConnection(this.url, options);
    this.#connections.add(connection);
    return connection;
  }

  async raw(): Promise<RawClient> {
    const client = await RawClient.open(this.url);
    this.#raw.add(client);
    return client;
  }

  async close(): Promise<void> {
    for (const consumer of this.#consumers) consumer.stop();
    await Promise.allSettled([...this.#producers].map((producer) => producer.close()));
    await Promise.allSettled([...this.#connections].map((connection) => connection.close()));
    await Promise.allSettled([...this.#raw].map((client) => client.close()));
    await this.server.close();
  }
}

/** Every event of `journal` as the store holds it, read in pages. */
export async function readAll(store: JournalStore, journal: string, after = 0): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (;;) {
    const page = await store.read(journal, after, 1000);
    if (page.length === 0) return all;
    all.push(...page);
    after = page.at(-1)!.timestamp;
  }
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** Polls until `predicate` holds for an event (returned), failing clearly if the consumer ends or stalls. */
export async function pollUntil<E extends JournalEvent>(
  consumer: JournalConsumer<E>,
  predicate: (event: E) => boolean,
  timeout = 5,
): Promise<E[]> {
  const seen: E[] = [];
  for (;;) {
    const event = await consumer.poll(timeout);
    if (event === null) throw new Error(`consumer ended after ${seen.length} events without the one awaited`);
    seen.push(event);
    if (predicate(event)) return seen;
  }
}

/** Resolves once every pending callback, timer-free: lets already-queued I/O and microtasks run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A frame as the server sent it. */
export type Frame = Record<string, unknown> & { type: string };

/**
 * A raw `ws` client that records the server's frames, for sending what the
 * client library never would.
 */
export class RawClient {
  readonly ws: WebSocket;
  /** The server's hello, its first frame. */
  hello: Frame | undefined;
  readonly #frames: Frame[] = [];
  #wake: (() => void) | undefined;
  /** Resolves with the close code and reason once the socket closes. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      this.#frames.push(JSON.parse(isBinary ? Buffer.from(data as Buffer).toString() : data.toString()) as Frame);
      this.#wake?.();
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString() });
        this.#wake?.();
      });
    });
  }

  static async open(url: string): Promise<RawClient> {
    const ws = new WebSocket(url);
    const client = new RawClient(ws);
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      5000,
      'a raw socket to open',
    );
    // The server's first frame is its hello (protocol version and limits).
    const hello = await client.next();
    if (hello.type !== 'hello') throw new Error(`the server's first frame is not its hello: ${JSON.stringify(hello)}`);
    client.hello = hello;
    return client;
  }

  /** Sends a string as a text frame, anything else JSON-encoded. */
  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame the server sent (in arrival order), waiting up to `ms`. */
  async next(ms = 5000): Promise<Frame> {
    if (this.#wake !== undefined) throw new Error('next() is already waiting: await one call before the next');
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    try {
      for (;;) {
        const frame = this.#frames.shift();
        if (frame !== undefined) return frame;
        if (timedOut) throw new Error(`timed out after ${ms} ms waiting for a frame from the server`);
        if (this.ws.readyState === WebSocket.CLOSED) throw new Error('the socket closed before the frame came');
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          timer ??= setTimeout(() => {
            timedOut = true;
            this.#wake?.();
          }, ms);
        });
        this.#wake = undefined;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Frames up to and including the first one matching `predicate`. */
  async until(predicate: (frame: Frame) => boolean, ms = 5000): Promise<Frame[]> {
    const frames: Frame[] = [];
    for (;;) {
      const frame = await this.next(ms);
      frames.push(frame);
      if (predicate(frame)) return frames;
    }
  }

  /** Appends one valid event and resolves with its ack frame. */
  async append(id: number, journal: string, name: string, context: object = {}): Promise<Frame> {
    this.send({ type: 'append', id, journal, events: [{ name, context }] });
    const frames = await this.until((frame) => frame['id'] === id);
    const ack = frames.at(-1)!;
    if (ack.type !== 'ack') throw new Error(`append ${id} got ${JSON.stringify(ack)}`);
    return ack;
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await within(this.closed, 2000, 'a raw socket to close').catch(() => this.ws.terminate());
  }
}

/**
 * A MemoryStore whose history reads can be held at a gate: `hold()` makes
 * every read after the first `pass` ones wait until `release()`. `readStarted(n)`
 * resolves once the n-th read has begun, which tells the test that the pages
 * before it were already sent.
 */
export class GatedStore implements JournalStore {
  readonly #inner = new MemoryStore();
  #reads = 0;
  #pass = Infinity;
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => {};
  readonly #readWaiters: { n: number; resolve: () => void }[] = [];

  hold(pass: number): void {
    this.#pass = this.#reads + pass;
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  release(): void {
    this.#pass = Infinity;
    this.#open();
  }

  readStarted(n: number, ms = 5000): Promise<void> {
    if (this.#reads >= n) return Promise.resolve();
    return within(new Promise<void>((resolve) => this.#readWaiters.push({ n, resolve })), ms, `read #${n} of the store`);
  }

  append(journal: string, events: readonly NewEvent[], options?: AppendOptions): Promise<StoredEvent[]> {
    return this.#inner.append(journal, events, options);
  }

  async read(journal: string, after: number, limit: number): Promise<StoredEvent[]> {
    const n = ++this.#reads;
    for (const waiter of this.#readWaiters.filter((w) => w.n <= n)) waiter.resolve();
    if (n > this.#pass) await this.#gate;
    return this.#inner.read(journal, after, limit);
  }

  head(journal: string): Promise<JournalHead> {
    return this.#inner.head(journal);
  }

  watch(journal: string, listener: AppendListener): () => void {
    return this.#inner.watch(journal, listener);
  }

  putSchema(schema: StoredSchema): Promise<{ schema: StoredSchema; created: boolean }> {
    return this.#inner.putSchema(schema);
  }

  getSchema(id: string, version: number): Promise<StoredSchema | undefined> {
    return this.#inner.getSchema(id, version);
  }

  listSchemas(after: SchemaRef | undefined, limit: number): Promise<StoredSchema[]> {
    return this.#inner.listSchemas(after, limit);
  }

  readBefore(journal: string, before: number, limit: number): Promise<StoredEvent[]> {
    return this.#inner.readBefore(journal, before, limit);
  }

  readFromSeq(journal: string, from: number, limit: number): Promise<StoredEvent[]> {
    return this.#inner.readFromSeq(journal, from, limit);
  }

  listJournals(after: string | undefined, limit: number): Promise<JournalInfo[]> {
    return this.#inner.listJournals(after, limit);
  }

  trim(journal: string, options: TrimOptions): Promise<TrimResult> {
    return this.#inner.trim(journal, options);
  }

  start(journal: string): Promise<JournalStart> {
    return this.#inner.start(journal);
  }

  check(): Promise<void> {
    return this.#inner.check();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/**
 * A MemoryStore whose reads and head lookups yield to the event loop before
 * and after they look, as a store on disk or across the network does, so
 * that appends from other connections land while a subscription replays
 * history and between a head lookup and its answer. (MemoryStore alone
 * answers within the same turn, which hides every race at the switch.)
 */
export class YieldingStore implements JournalStore {
  readonly #inner = new MemoryStore();

  append(journal: string, events: readonly NewEvent[], options?: AppendOptions): Promise<StoredEvent[]> {
    return this.#inner.append(journal, events, options);
  }

  async read(journal: string, after: number, limit: number): Promise<StoredEvent[]> {
    await turn();
    const page = await this.#inner.read(journal, after, limit);
    await turn();
    return page;
  }

  async head(journal: string): Promise<JournalHead> {
    await turn();
    const head = await this.#inner.head(journal);
    await turn();
    return head;
  }

  watch(journal: string, listener: AppendListener): () => void {
    return this.#inner.watch(journal, listener);
  }

  putSchema(schema: StoredSchema): Promise<{ schema: StoredSchema; created: boolean }> {
    return this.#inner.putSchema(schema);
  }

  getSchema(id: string, version: number): Promise<StoredSchema | undefined> {
    return this.#inner.getSchema(id, version);
  }

  listSchemas(after: SchemaRef | undefined, limit: number): Promise<StoredSchema[]> {
    return this.#inner.listSchemas(after, limit);
  }

  readBefore(journal: string, before: number, limit: number): Promise<StoredEvent[]> {
    return this.#inner.readBefore(journal, before, limit);
  }

  readFromSeq(journal: string, from: number, limit: number): Promise<StoredEvent[]> {
    return this.#inner.readFromSeq(journal, from, limit);
  }

  listJournals(after: string | undefined, limit: number): Promise<JournalInfo[]> {
    return this.#inner.listJournals(after, limit);
  }

  trim(journal: string, options: TrimOptions): Promise<TrimResult> {
    return this.#inner.trim(journal, options);
  }

  start(journal: string): Promise<JournalStart> {
    return this.#inner.start(journal);
  }

  check(): Promise<void> {
    return this.#inner.check();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
