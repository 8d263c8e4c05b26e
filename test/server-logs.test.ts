/**
 * What the server logs, read back as pino's JSON records: startup and shutdown, a refused
 * handshake with its reason, refused frames (one record per connection per window, however
 * many), a subscription ended as slow, store failures; and nothing per append.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { ErrorCode, JournalError } from '../src/errors.js';
import { MemoryStore } from '../server/memory-store.js';
import type { AppendOptions, NewEvent, StoredEvent } from '../server/store.js';
import type { JournalServerOptions } from '../server/journal-server.js';
import { JournalProducer } from '../src/journal-producer.js';
import { RawClient } from './harness.js';
import { get } from './http-client.js';
import { Signal, startServer, within } from './helpers.js';

const LIMIT = { timeout: 60_000 };

interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A pino logger at `level` whose records land in `records`; `signal` is notified at each. */
function capture(level = 'debug'): { logger: pino.Logger; records: LogRecord[]; signal: Signal } {
  const records: LogRecord[] = [];
  const signal = new Signal();
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') records.push(JSON.parse(line) as LogRecord);
      signal.notify();
      done();
    },
  });
  return { logger: pino({ level }, stream), records, signal };
}

async function logged(server: { records: LogRecord[]; signal: Signal }, test: (record: LogRecord) => boolean, what: string): Promise<LogRecord> {
  await server.signal.until(() => server.records.some(test), 10_000, what);
  return server.records.find(test)!;
}

/** A MemoryStore that fails every call while `failing`. */
class FailingStore extends MemoryStore {
  failing = false;

  override append(journal: string, events: readonly NewEvent[], options?: AppendOptions): Promise<StoredEvent[]> {
    if (this.failing) return Promise.reject(new JournalError(ErrorCode.STORE_UNAVAILABLE, 'the disk is on fire'));
    return super.append(journal, events, options);
  }

  override read(journal: string, after: number, limit: number): Promise<StoredEvent[]> {
    if (this.failing) return Promise.reject(new JournalError(ErrorCode.STORE_UNAVAILABLE, 'the disk is on fire'));
    return super.read(journal, after, limit);
  }
}

async function server(options: JournalServerOptions = {}, level = 'debug') {
  const { logger, records, signal } = capture(level);
  const started = await startServer({ ...options, logger });
  return { server: started, records, signal };
}

describe('server logs', () => {
  it('say when the server listens and when it shuts down', LIMIT, async () => {
    const s = await server({}, 'info');
    const listening = await logged(s, (record) => record.msg.startsWith('listening on ws://'), 'the listening record');
    assert.equal(listening.level, 30);
    assert.equal(listening['url'], s.server.url);
    assert.equal(listening['store'], 'MemoryStore');
    // Fastify's own "Server listening at" line would say it a second time.
    assert.deepEqual(s.records.filter((record) => /listening/i.test(record.msg)).map((record) => record.msg), [listening.msg]);
    await s.server.close();
    assert.ok(s.records.some((record) => record.msg.startsWith('shutting down')));
    assert.ok(s.records.some((record) => record.msg === 'shut down'));
  });

  it('say why a handshake was refused, and from where', LIMIT, async (t) => {
    const s = await server({ tokens: ['sekret'] });
    t.after(() => s.server.close());
    const ws = new WebSocket(s.server.url);
    ws.on('error', () => {});
    await within(new Promise((resolve) => ws.once('unexpected-response', resolve)), 5000, 'the refusal');
    const record = await logged(s, (r) => r.msg.startsWith('handshake refused'), 'the refusal record');
    assert.equal(record.level, 40);
    assert.equal(record['status'], 401);
    assert.equal(record['code'], 'UNAUTHORIZED');
    assert.equal(record['remote'], '127.0.0.1');
    assert.match(record.msg, /Unauthorized/);
  });

  it('record refused frames once per connection per window, however many, and count them all in the metrics', LIMIT, async (t) => {
    const s = await server();
    t.after(() => s.server.close());
    const clients = [await RawClient.open(s.server.url), await RawClient.open(s.server.url)];
    t.after(() => Promise.all(clients.map((client) => client.close())));
    for (const client of clients) {
      for (let i = 0; i < 30; i++) client.send('{not json');
      let errors = 0;
      await client.until((frame) => frame['type'] === 'error' && ++errors === 30);
    }
    const metrics = await get(s.server, '/metrics');
    assert.match(metrics.text, /wsjournal_frames_refused_total\{code="BAD_FRAME"\} 60/);
    const records = s.records.filter((record) => record.msg === 'frame refused');
    assert.equal(records.length, 2, 'one record per connection');
    assert.deepEqual(records.map((record) => record['code']), ['BAD_FRAME', 'BAD_FRAME']);
    assert.notEqual(records[0]!['connection'], records[1]!['connection']);
    assert.match(String(records[0]!['message']), /not valid JSON/);
  });

  it('record a subscription ended as a slow consumer, with its journal', LIMIT, async (t) => {
    const s = await server({ sendHighWaterMark: 16 * 1024, maxSendBuffer: 64 * 1024, heartbeatInterval: 0 });
    const raw = await RawClient.open(s.server.url);
    const producer = new JournalProducer(s.server.url, 'flood');
    t.after(async () => {
      await producer.close();
      await raw.close();
      await s.server.close();
    });
    raw.send({ type: 'subscribe', id: 1, journal: 'flood', full: false, since: 0, payload: {} });
    await raw.until((frame) => frame['type'] === 'subscribed');
    raw.ws.pause();
    const ended = (record: LogRecord) => record.msg === 'subscription ended' && record['reason'] === 'SLOW_CONSUMER';
    const pad = 'x'.repeat(8000);
    for (let i = 0; i < 200 && !s.records.some(ended); i++) {
      await producer.appendMany(Array.from({ length: 100 }, (_, n) => ({ name: 'big', context: { n, pad } })));
    }
    const record = await logged(s, ended, 'the SLOW_CONSUMER record');
    assert.equal(record.level, 40);
    assert.equal(record['journal'], 'flood');
    assert.equal(record['subscription'], 1);
    raw.ws.resume();
  });

  it('record store failures at error level, with the cause', LIMIT, async (t) => {
    const store = new FailingStore();
    const s = await server({ store });
    const producer = new JournalProducer(s.server.url, 'j');
    t.after(async () => {
      await producer.close();
      await s.server.close();
    });
    await producer.append('fine');
    store.failing = true;
    await assert.rejects(producer.append('lost'), { code: 'STORE_UNAVAILABLE' });
    const append = await logged(s, (r) => r.msg === 'store append failed', 'the append failure record');
    assert.equal(append.level, 50);
    assert.deepEqual(append['error'], { code: 'STORE_UNAVAILABLE', message: 'the disk is on fire' });
    assert.equal((await get(s.server, '/v1/journals/j/events')).status, 503);
    await logged(s, (r) => r.msg === 'store read failed', 'the read failure record');
    const metrics = await get(s.server, '/metrics');
    assert.match(metrics.text, /wsjournal_store_errors_total\{operation="append"\} 1/);
    assert.match(metrics.text, /wsjournal_store_errors_total\{operation="read"\} 1/);
  });

  it('write nothing per append or per event, even at debug level', LIMIT, async (t) => {
    const s = await server({}, 'trace');
    const producer = new JournalProducer(s.server.url, 'quiet');
    t.after(async () => {
      await producer.close();
      await s.server.close();
    });
    await producer.append('first');
    const before = s.records.length;
    for (let i = 0; i < 100; i++) await producer.appendMany([{ name: 'a' }, { name: 'b' }]);
    assert.equal(s.records.length, before, s.records.slice(before).map((record) => record.msg).join(', '));
  });
});
