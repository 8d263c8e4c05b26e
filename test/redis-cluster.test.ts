/**
 * Several servers on Redis Streams: three real `wsjournal serve --store redis://…` processes
 * on one Redis serve one journal. Producers on every server append concurrently; consumers
 * on every server, started before and during the appends, all see the same gap-free,
 * duplicate-free sequence with one sentinel; a server killed mid-stream loses its clients
 * to the others without loss or duplicate; and a server whose Redis is away stays up and
 * answers with STORE_UNAVAILABLE. Skips with the reason when Redis is not reachable,
 * unless WSJOURNAL_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { EventLogConsumer, JournalConnection, JournalError, JournalProducer, type JournalEvent } from '../src/index.js';
import { TcpProxy } from './fixtures/tcp-proxy.js';
import { freePort, once, Signal, within } from './helpers.js';
import { stressCount } from './stress-level.js';
import { REDIS_URL, withRedis } from './redis-available.js';

/** The key prefix `wsjournal serve` uses: RedisStore's default. */
const PREFIX = 'wsjournal:';
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** Every test fails rather than hangs, and so does every teardown step after it. */
const LIMIT = { timeout: 30_000 };
const TEARDOWN = { timeout: 15_000 };
/** Appends each producer makes; each append carries one to three events. */
const APPENDS_PER_PRODUCER = stressCount(300, 2000);
/** Appends each producer keeps in flight at once. */
const IN_FLIGHT = 4;

await withRedis('several servers on Redis Streams', 'test/redis-cluster.test.ts', registerTests);

function registerTests(): void {
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
  admin.on('error', () => {});

  after(async () => {
    for (const server of ServeProcess.running) await server.kill('SIGKILL');
    await admin.quit();
  }, TEARDOWN);

  /** A fresh journal, whose keys are deleted after the test. */
  const journalFor = (t: { after(fn: () => Promise<void>, options: typeof TEARDOWN): void }): string => {
    const journal = `cluster-${randomBytes(6).toString('hex')}`;
    t.after(() => deleteJournal(admin, journal), TEARDOWN);
    return journal;
  };

  describe('several servers on Redis Streams', () => {
    it('gives consumers on three servers, started before and during concurrent appends on all three, one identical sequence', LIMIT, async (t) => {
      const journal = journalFor(t);
      const clients = new Clients();
      t.after(() => clients.close(), TEARDOWN);
      const servers = await startServers(3);
      t.after(() => stopServers(servers), TEARDOWN);
      const signal = new Signal();

      // Started before any append: their history is empty, so the sentinel comes first.
      const early = servers.map((server, i) => clients.consume(server.url, journal, `early@${i}`, signal));
      await Promise.all(early.map((recorded) => recorded.subscribed));

      const producers = servers.map((server) => clients.produce(server.url, journal));
      const acked = new Acks();
      const total = servers.length * APPENDS_PER_PRODUCER;
      const producing = Promise.all(producers.map((producer, i) => appendMany(producer, `p${i}`, acked, signal)));

      // Started during the appends: history replays while the others append, on every server.
      await signal.until(() => acked.appends >= total / 3, 15_000, `a third of ${total} appends`);
      const middle = servers.map((server, i) => clients.consume(server.url, journal, `middle@${i}`, signal));
      await Promise.all(middle.map((recorded) => recorded.subscribed));
      await signal.until(() => acked.appends >= (2 * total) / 3, 15_000, `two thirds of ${total} appends`);
      const late = servers.map((server, i) =>
        clients.consume(server.url, journal, `late@${i}`, signal, { bufferHistory: false }),
      );
      await within(producing, 20_000, 'every append to be acknowledged');

      const consumers = [...early, ...middle, ...late];
      const marker = await producers[0]!.append('marker', { id: 'marker' });
      await signal.until(() => consumers.every((recorded) => recorded.sawId('marker')), 10_000, 'every consumer to see the marker');
      const full = await readAll(servers[1]!.url, journal);

      await checkJournal(admin, journal, full, acked, marker.seq);
      for (const recorded of consumers) checkConsumer(recorded, full);
      for (const recorded of early) assert.equal(recorded.order[0], EventLogConsumer.SENTINEL_EVENT, `${recorded.label}: history was empty`);
      for (const recorded of consumers) assert.equal(recorded.reconnects, 0, `${recorded.label} did not reconnect`);
      // Each producer stored its share, through its own server.
      for (let i = 0; i < servers.length; i++) assert.ok(acked.byTag(`p${i}`) > 0, `p${i} appended`);
      t.diagnostic(`${full.length} events, ${servers.length} servers, ${consumers.length} consumers`);

      await clients.close();
      for (const status of await stopServers(servers)) assert.deepEqual(status, { code: 0, signal: null }, 'a clean shutdown');
    });

    it('moves the consumers and producer of a SIGKILLed server to the others, losing and repeating nothing', LIMIT, async (t) => {
      const journal = journalFor(t);
      const clients = new Clients();
      t.after(() => clients.close(), TEARDOWN);
      const servers = await startServers(3);
      t.after(() => stopServers(servers), TEARDOWN);
      const [victim, ...survivors] = servers as [ServeProcess, ...ServeProcess[]];
      // The victim's producer reaches it through a proxy that can hold back its replies, so
      // that appends the victim stored are certainly unacknowledged when it dies.
      const proxy = await TcpProxy.start(Number(new URL(victim.url).port));
      t.after(() => proxy.close(), TEARDOWN);
      /** Every server's URL, `servers[i]` first. */
      const urlsFrom = (i: number): string[] => servers.map((_, k) => servers[(i + k) % servers.length]!.url);
      const signal = new Signal();

      // The victim's clients, each given every URL with the victim's first: a consumer, and a
      // producer sharing a connection (through the proxy) with a second consumer that starts mid-stream.
      const shared = clients.connection([proxy.url, ...urlsFrom(1)]);
      const victimConsumer = clients.consume(urlsFrom(0), journal, 'victim', signal);
      const others = survivors.map((_, k) => clients.consume(urlsFrom(k + 1), journal, `survivor@${k + 1}`, signal));
      await Promise.all([victimConsumer, ...others].map((recorded) => recorded.subscribed));
      const producers = [
        clients.produce(shared, journal),
        ...survivors.map((_, k) => clients.produce(urlsFrom(k + 1), journal)),
      ];
      const acked = new Acks();
      const total = servers.length * APPENDS_PER_PRODUCER;
      const producing = Promise.all(producers.map((producer, i) => appendMany(producer, `p${i}`, acked, signal)));

      await signal.until(() => acked.appends >= total / 4, 15_000, `a quarter of ${total} appends`);
      const sharedConsumer = clients.consume(shared, journal, 'victim-shared', signal);
      await sharedConsumer.subscribed;
      await signal.until(
        () => acked.byTag('p0') >= APPENDS_PER_PRODUCER / 3 && sharedConsumer.sentinels === 1 && victimConsumer.order.length > 10,
        15_000,
        "a third of the victim producer's appends, and the victim's consumers live",
      );

      // Listening from before the kill; the time limit runs from the kill.
      const reconnects = [
        [reconnected(victimConsumer.consumer), "the victim's consumer"],
        [reconnected(sharedConsumer.consumer), 'the consumer on the shared connection'],
        [reconnected(shared), 'the shared connection'],
      ] as const;
      proxy.hold();
      const unacked = (): string[] => others[0]!.ids().filter((id) => id.startsWith('p0-') && !acked.events.has(id));
      await signal.until(() => unacked().length > 0, 10_000, "an append of the victim's producer stored and not acknowledged");
      const victimAckedBefore = acked.byTag('p0');
      const storedUnacked = unacked().length;
      assert.deepEqual(await victim.kill('SIGKILL'), { code: null, signal: 'SIGKILL' });
      await Promise.all(reconnects.map(([done, what]) => within(done, 10_000, `'reconnect' from ${what}`)));
      assert.ok(survivors.some((server) => server.url === shared.url), 'the shared connection moved to a surviving server');
      await within(producing, 20_000, 'every append to be acknowledged, the victim producer through another server');
      assert.ok(acked.byTag('p0') > victimAckedBefore, 'the victim producer appended after the kill');

      const consumers = [victimConsumer, sharedConsumer, ...others];
      const marker = await producers[1]!.append('marker', { id: 'marker' });
      await signal.until(() => consumers.every((recorded) => recorded.sawId('marker')), 10_000, 'every consumer to see the marker');
      const full = await readAll(survivors[1]!.url, journal);

      await checkJournal(admin, journal, full, acked, marker.seq);
      for (const recorded of consumers) checkConsumer(recorded, full);
      assert.ok(victimConsumer.reconnects >= 1 && sharedConsumer.reconnects >= 1, "the victim's consumers reconnected");
      for (const recorded of others) assert.equal(recorded.reconnects, 0, `${recorded.label} did not reconnect`);
      t.diagnostic(
        `${full.length} events, ${servers.length} servers (one killed with ${storedUnacked} events stored and unacknowledged), ${consumers.length} consumers`,
      );

      await clients.close();
      for (const status of await stopServers(survivors)) assert.deepEqual(status, { code: 0, signal: null }, 'a clean shutdown');
    });

    it('stays up when nothing listens at its Redis URL: appends reject with STORE_UNAVAILABLE, consumers get an error', LIMIT, async (t) => {
      const journal = journalFor(t);
      const clients = new Clients();
      t.after(() => clients.close(), TEARDOWN);
      const server = await ServeProcess.start(`redis://127.0.0.1:${await freePort()}`);
      t.after(() => server.kill('SIGKILL').then(() => {}), TEARDOWN);

      const producer = clients.produce(server.url, journal);
      const storeUnavailable = (error: unknown): boolean => {
        assert.ok(error instanceof JournalError, String(error));
        assert.equal(error.code, 'STORE_UNAVAILABLE', String(error));
        return true;
      };
      /** `call` rejects with STORE_UNAVAILABLE within 3 s, and the server does not exit meanwhile. */
      const refused = (call: () => Promise<unknown>, what: string): Promise<void> =>
        within(server.whileAlive(assert.rejects(call(), storeUnavailable)), 3000, what);
      await refused(() => producer.append('lost', { id: 'a' }), 'the append to fail');
      await refused(() => producer.appendMany([{ name: 'lost' }, { name: 'lost' }]), 'a batch to fail');

      const consumer = new EventLogConsumer(server.url, journal, { includeSentinel: true });
      clients.consumers.add(consumer);
      const errored = once<[Error]>(consumer, 'error', 5000);
      const delivered: JournalEvent[] = [];
      consumer.setCallback((event) => void (event && delivered.push(event)));
      consumer.start();
      const [error] = await server.whileAlive(errored);
      storeUnavailable(error);
      assert.deepEqual(delivered, [], 'nothing, not even a sentinel, without a store');

      // Still up, and still answering: on the old connection and on a new one.
      assert.ok(server.alive, `the server is alive; stderr: ${server.stderr}`);
      await refused(() => producer.append('lost'), 'a second append to fail');
      const fresh = clients.produce(server.url, journal);
      await refused(() => fresh.append('lost'), 'an append on a new connection to fail');
      assert.ok(server.alive, `the server is alive; stderr: ${server.stderr}`);

      await clients.close();
      assert.deepEqual(await server.kill('SIGTERM'), { code: 0, signal: null }, `a clean shutdown; stderr: ${server.stderr}`);
      // Its log (JSON lines on stderr) records the store failures; nothing else is written there.
      const lines = server.stderr.split('\n').filter((line) => line !== '');
      const records = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string });
      assert.ok(records.some((record) => record.msg === 'store append failed'), 'the log records the failures');
      const other = lines.filter((line) => !line.startsWith('{')).join('\n');
      assert.doesNotMatch(other, /Error|at \S+:\d+:\d+/, 'no error or stack trace on stderr beside the log');
      assert.doesNotMatch(server.stderr, /at \S+:\d+:\d+/, 'no stack trace in the log either');
    });
  });
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** `node dist/cli/main.js serve --port 0 --store URL`, once it printed its listening line. */
class ServeProcess {
  static readonly running = new Set<ServeProcess>();
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #exit: Promise<Exit>;
  #stdout = '';
  #stderr = '';
  url = '';

  private constructor(readonly storeUrl: string) {
    this.#child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--store', storeUrl], {
      env: { ...process.env, WSJOURNAL_TOKEN: '' },
    });
    ServeProcess.running.add(this);
    this.#child.stdin.end();
    this.#child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.#stdout += chunk));
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.#stderr += chunk));
    this.#exit = new Promise((resolve) => {
      this.#child.once('close', (code, signal) => {
        ServeProcess.running.delete(this);
        resolve({ code, signal });
      });
    });
  }

  /** Starts a server and resolves once it listens, with its URL. */
  static async start(storeUrl: string): Promise<ServeProcess> {
    const server = new ServeProcess(storeUrl);
    const host = new URL(storeUrl).host;
    const pattern = new RegExp(`^wsjournal listening on (ws://127\\.0\\.0\\.1:\\d+) \\(store: redis ${host.replace(/\./g, '\\.')}\\)$`);
    const listening = new Promise<string>((resolve, reject) => {
      const check = (): void => {
        for (const line of server.#stdout.split('\n').slice(0, -1)) {
          const match = pattern.exec(line);
          if (match) return resolve(match[1]!);
          return reject(new Error(`unexpected first line ${JSON.stringify(line)}`));
        }
      };
      server.#child.stdout.on('data', check);
      void server.#exit.then((status) =>
        reject(new Error(`wsjournal serve exited (${status.code ?? status.signal}) before listening: ${server.#stderr}`)),
      );
    });
    try {
      server.url = await within(listening, 10_000, `wsjournal serve --store ${storeUrl} to listen`);
    } catch (error) {
      await server.kill('SIGKILL');
      throw error;
    }
    return server;
  }

  /** `promise`, or a rejection with the server's stderr if the server exits first. */
  whileAlive<T>(promise: Promise<T>): Promise<T> {
    const died = this.#exit.then((status) => {
      throw new Error(`wsjournal serve exited (${status.code ?? status.signal}); stderr: ${this.#stderr}`);
    });
    return Promise.race([promise, died]);
  }

  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Sends `signal` unless the process has exited, and resolves with how it exited. */
  kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<Exit> {
    if (this.alive) this.#child.kill(signal);
    return within(this.#exit, 10_000, `wsjournal serve (pid ${this.#child.pid}) to exit on ${signal}; stderr: ${this.#stderr}`);
  }
}

function startServers(count: number): Promise<ServeProcess[]> {
  return Promise.all(Array.from({ length: count }, () => ServeProcess.start(REDIS_URL)));
}

/** SIGTERM to every server still running; how each exited. */
function stopServers(servers: readonly ServeProcess[]): Promise<Exit[]> {
  return Promise.all(servers.map((server) => server.kill('SIGTERM')));
}

/** What one consumer delivered, in order, with the sentinel where it came. */
interface Recorded {
  readonly label: string;
  readonly consumer: EventLogConsumer;
  /** Resolves once the server accepted the subscription. */
  readonly subscribed: Promise<unknown>;
  readonly order: JournalEvent[];
  readonly errors: Error[];
  readonly sentinels: number;
  readonly reconnects: number;
  sawId(id: string): boolean;
  /** The ids of the events delivered, in order. */
  ids(): string[];
}

/** The clients a test opened, all closed by `close()`. */
class Clients {
  readonly consumers = new Set<EventLogConsumer>();
  readonly #producers = new Set<JournalProducer>();
  readonly #connections = new Set<JournalConnection>();

  connection(urls: string[]): JournalConnection {
    const connection = new JournalConnection(urls);
    this.#connections.add(connection);
    return connection;
  }

  produce(url: string | string[] | JournalConnection, journal: string): JournalProducer {
    const producer = new JournalProducer(url, journal);
    this.#producers.add(producer);
    return producer;
  }

  /** Starts a consumer with `includeSentinel` and records what it delivers. */
  consume(
    url: string | string[] | JournalConnection,
    journal: string,
    label: string,
    signal: Signal,
    options: { bufferHistory?: boolean } = {},
  ): Recorded {
    const consumer = new EventLogConsumer(url, journal, { includeSentinel: true, ...options });
    this.consumers.add(consumer);
    const order: JournalEvent[] = [];
    const errors: Error[] = [];
    const ids = new Set<unknown>();
    let sentinels = 0;
    let reconnects = 0;
    consumer.on('error', (error) => errors.push(error));
    consumer.on('reconnect', () => reconnects++);
    consumer.setCallback((event) => {
      if (event === null) return;
      order.push(event);
      if (event === EventLogConsumer.SENTINEL_EVENT) sentinels++;
      else ids.add(event.context['id']);
      signal.notify();
    });
    const subscribed = once(consumer, 'subscribed', 10_000);
    consumer.start();
    return {
      label,
      consumer,
      subscribed,
      order,
      errors,
      get sentinels() {
        return sentinels;
      },
      get reconnects() {
        return reconnects;
      },
      sawId: (id) => ids.has(id),
      ids: () => order.filter((event) => event !== EventLogConsumer.SENTINEL_EVENT).map((event) => String(event.context['id'])),
    };
  }

  /**
   * Stops every consumer, closes every producer, then every connection, which fails the
   * appends still waiting there. Idempotent; whatever fails, everything is closed, so no
   * reconnect timer keeps the process alive.
   */
  async close(): Promise<void> {
    for (const consumer of this.consumers) consumer.stop();
    const producers = within(Promise.all([...this.#producers].map((producer) => producer.close())), 5000, 'the producers to close');
    const closed = await Promise.allSettled([producers]);
    await within(Promise.all([...this.#connections].map((connection) => connection.close())), 5000, 'the connections to close');
    if (closed[0]!.status === 'rejected') throw closed[0]!.reason;
  }
}

/** The acknowledgement of every event appended, by its unique id. */
class Acks {
  readonly events = new Map<string, { seq: number; timestamp: number; tag: string }>();
  appends = 0;
  readonly #byTag = new Map<string, number>();

  add(tag: string, ids: readonly string[], results: readonly { seq: number; timestamp: number }[]): void {
    assert.equal(results.length, ids.length, 'one ack per event');
    ids.forEach((id, i) => {
      assert.ok(!this.events.has(id), `${id} acknowledged once`);
      this.events.set(id, { ...results[i]!, tag });
    });
    this.appends++;
    this.#byTag.set(tag, (this.#byTag.get(tag) ?? 0) + ids.length);
  }

  /** Events acknowledged to the producer `tag`. */
  byTag(tag: string): number {
    return this.#byTag.get(tag) ?? 0;
  }
}

/** Makes `APPENDS_PER_PRODUCER` appends of one to three events, `IN_FLIGHT` at a time, each event with a unique id. */
async function appendMany(producer: JournalProducer, tag: string, acked: Acks, signal: Signal): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < APPENDS_PER_PRODUCER) {
      const n = next++;
      const ids = Array.from({ length: (n % 3) + 1 }, (_, k) => `${tag}-${n}-${k}`);
      const results =
        ids.length === 1
          ? [await producer.append('tick', { id: ids[0], producer: tag })]
          : await producer.appendMany(ids.map((id) => ({ name: 'tick', context: { id, producer: tag } })));
      acked.add(tag, ids, results);
      signal.notify();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

/** The whole journal through a fresh consumer: its history up to the sentinel. */
async function readAll(url: string, journal: string): Promise<JournalEvent[]> {
  const consumer = new EventLogConsumer(url, journal, { includeSentinel: true }).start();
  try {
    const events: JournalEvent[] = [];
    for (;;) {
      const event = await consumer.poll(5);
      if (event === null) throw new Error(`the full read ended after ${events.length} events`);
      if (event === EventLogConsumer.SENTINEL_EVENT) return events;
      events.push(event);
    }
  } finally {
    consumer.stop();
  }
}

/** What two deliveries of the same event share. */
function summary(event: JournalEvent): string {
  return `${event.seq} ${event.timestamp} ${event.name} ${String(event.context['id'])}`;
}

/** The full read is the journal: seqs 1..N, increasing timestamps, every acked event once, where its ack said. */
async function checkJournal(
  admin: Redis,
  journal: string,
  full: readonly JournalEvent[],
  acked: Acks,
  markerSeq: number,
): Promise<void> {
  const n = full.length;
  assert.equal(n, acked.events.size + 1, 'every acknowledged event and the marker, nothing else');
  assert.equal(markerSeq, n, 'the marker is last');
  assert.equal(await admin.xlen(`${PREFIX}j:{${journal}}`), n, 'Redis holds as many entries as the full read');
  assert.deepEqual(
    full.map((event) => event.seq),
    Array.from({ length: n }, (_, i) => i + 1),
    'seqs 1..N, contiguous',
  );
  for (let i = 1; i < n; i++) assert.ok(full[i]!.timestamp > full[i - 1]!.timestamp, `timestamp at seq ${i + 1} increases`);
  const byId = new Map<unknown, JournalEvent[]>();
  for (const event of full) byId.set(event.context['id'], [...(byId.get(event.context['id']) ?? []), event]);
  for (const [id, ack] of acked.events) {
    const found = byId.get(id) ?? [];
    assert.equal(found.length, 1, `${id} is stored exactly once`);
    assert.equal(found[0]!.seq, ack.seq, `${id} at the seq its ack gave`);
    assert.equal(found[0]!.timestamp, ack.timestamp, `${id} at the timestamp its ack gave`);
    assert.equal(found[0]!.context['producer'], ack.tag);
  }
}

/** A consumer delivered the full read exactly, with one sentinel, and no error. */
function checkConsumer(recorded: Recorded, full: readonly JournalEvent[]): void {
  const { label, order } = recorded;
  assert.deepEqual(recorded.errors, [], `${label}: no error`);
  assert.equal(recorded.sentinels, 1, `${label}: exactly one sentinel`);
  const events = order.filter((event) => event !== EventLogConsumer.SENTINEL_EVENT);
  assert.deepEqual(events.map(summary), full.map(summary), `${label}: the same events in the same order`);
}

/** Deletes every key of `journal` (its stream, batch keys and their order), then checks none is left. */
async function deleteJournal(admin: Redis, journal: string): Promise<void> {
  const tag = `{${journal}}`;
  await admin.del(`${PREFIX}j:${tag}`, `${PREFIX}k:${tag}`, `${PREFIX}o:${tag}`);
  let cursor = '0';
  const left: string[] = [];
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${PREFIX}*${tag}*`, 'COUNT', 1000);
    left.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  if (left.length > 0) await admin.del(...left);
  assert.deepEqual(left, [], `no other key of ${journal}`);
}


/** Resolves at the next 'reconnect' of `emitter`. */
function reconnected(emitter: { once(event: 'reconnect', listener: () => void): unknown }): Promise<void> {
  return new Promise<void>((resolve) => emitter.once('reconnect', () => resolve()));
}

