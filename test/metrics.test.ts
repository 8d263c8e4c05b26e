/**
 * `GET /metrics`: the Prometheus exposition counts what the server did (connections,
 * subscriptions, appends and their latency, ends by reason, refused frames and handshakes,
 * store errors, the write-ahead log's fsyncs, HTTP requests), with the process's own metrics;
 * each server counts apart; no label carries a journal name.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { LmdbStore } from '../server/lmdb-store.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalProducer } from '../src/journal-producer.js';
import { RawClient } from './harness.js';
import { get, request } from './http-client.js';
import { once, pollMany, startServer, within } from './helpers.js';

const LIMIT = { timeout: 30_000 };
const JOURNAL = 'secret-journal-name';

/** The value of one sample of the exposition, or undefined if it is absent. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('metrics', () => {
  it('count connections, subscriptions, appends, latency, ends, refusals, HTTP requests and the process', LIMIT, async (t) => {
    const server = await startServer({ tokens: ['t'] });
    const producer = new JournalProducer(server.url, JOURNAL, { token: 't' });
    const consumer = new EventLogConsumer(server.url, JOURNAL, { token: 't' });
    t.after(async () => {
      consumer.stop();
      await producer.close();
      await server.close();
    });
    await producer.append('a');
    await producer.appendMany([{ name: 'b' }, { name: 'c' }]);
    consumer.start();
    await pollMany(consumer, 3);
    const auth = { authorization: 'Bearer t' };
    await request(server, 'POST', `/v1/journals/${JOURNAL}/events`, { body: [{ name: 'd' }, { name: 'e' }], headers: auth });
    await get(server, `/v1/journals/${JOURNAL}/events`, auth);
    const refused = new WebSocket(server.url);
    refused.on('error', () => {});
    await within(new Promise((resolve) => refused.once('unexpected-response', resolve)), 5000, 'the refusal');

    const { text } = await get(server, '/metrics', auth);
    assert.equal(sample(text, 'wsjournal_connections'), 2, 'the producer and the consumer');
    assert.equal(sample(text, 'wsjournal_subscriptions'), 1);
    assert.equal(sample(text, 'wsjournal_http_requests_in_flight'), 1, 'this scrape');
    assert.equal(sample(text, 'wsjournal_appends_total', '{transport="ws"}'), 2);
    assert.equal(sample(text, 'wsjournal_events_appended_total', '{transport="ws"}'), 3);
    assert.equal(sample(text, 'wsjournal_appends_total', '{transport="http"}'), 1);
    assert.equal(sample(text, 'wsjournal_events_appended_total', '{transport="http"}'), 2);
    assert.equal(sample(text, 'wsjournal_append_duration_seconds_count'), 3);
    assert.equal(sample(text, 'wsjournal_append_duration_seconds_bucket', '{le="+Inf"}'), 3);
    assert.equal(sample(text, 'wsjournal_handshakes_refused_total', '{status="401"}'), 1);
    assert.equal(sample(text, 'wsjournal_http_requests_total', '{route="/v1/journals/:journal/events",method="GET",status="200"}'), 1);
    assert.equal(sample(text, 'wsjournal_http_requests_total', '{route="/v1/journals/:journal/events",method="POST",status="200"}'), 1);
    assert.ok((sample(text, 'process_cpu_user_seconds_total') ?? 0) > 0, 'the process metrics');
    assert.notEqual(sample(text, 'nodejs_eventloop_lag_seconds'), undefined);
    assert.ok(!text.includes(JOURNAL), 'no label carries a journal name');
  });

  it('count subscriptions ended by reason, and refused frames by code', LIMIT, async (t) => {
    const server = await startServer();
    t.after(() => server.close());
    const consumer = new EventLogConsumer(server.url, 'j');
    consumer.start();
    await once(consumer, 'subscribed');
    consumer.stop();
    const raw = await RawClient.open(server.url);
    raw.send({ type: 'subscribe', id: 1, journal: 'j' });
    await raw.until((frame) => frame['type'] === 'subscribed');
    raw.send({ type: 'nonsense', id: 2 });
    raw.send({ type: 'subscribe', id: 3, journal: 'j', payload: { where: { $where: 'x' } } });
    await raw.until((frame) => frame['id'] === 3);
    await raw.close();
    const text = await within(
      (async () => {
        for (;;) {
          const { text: body } = await get(server, '/metrics');
          if (sample(body, 'wsjournal_subscriptions_ended_total', '{reason="disconnected"}') === 1) return body;
        }
      })(),
      5000,
      'the raw connection to be counted as closed',
    );
    assert.equal(sample(text, 'wsjournal_subscriptions_ended_total', '{reason="cancelled"}'), 1);
    assert.equal(sample(text, 'wsjournal_frames_refused_total', '{code="UNKNOWN_TYPE"}'), 1);
    assert.equal(sample(text, 'wsjournal_frames_refused_total', '{code="INVALID_SELECTOR"}'), 1);
  });

  it("time the write-ahead log's fsyncs on LmdbStore", LIMIT, async (t) => {
    const path = await mkdtemp(join(tmpdir(), 'wsjournal-metrics-'));
    const store = new LmdbStore({ path });
    const server = await startServer({ store });
    const producer = new JournalProducer(server.url, 'j');
    t.after(async () => {
      await producer.close();
      await server.close();
      await store.close();
      await rm(path, { recursive: true, force: true });
    });
    for (let i = 0; i < 5; i++) await producer.append('e');
    const { text } = await get(server, '/metrics');
    assert.ok((sample(text, 'wsjournal_wal_fsync_duration_seconds_count') ?? 0) >= 1, text.slice(0, 200));
  });

  it('keeps the counts of two servers in one process apart', LIMIT, async (t) => {
    const one = await startServer();
    const two = await startServer();
    t.after(async () => {
      await one.close();
      await two.close();
    });
    await request(one, 'POST', '/v1/journals/j/events', { body: { name: 'x' } });
    assert.equal(sample((await get(one, '/metrics')).text, 'wsjournal_appends_total', '{transport="http"}'), 1);
    assert.equal(sample((await get(two, '/metrics')).text, 'wsjournal_appends_total', '{transport="http"}'), 0);
    assert.notEqual(one.metrics, two.metrics);
  });
});
