/**
 * Strangers are refused at the handshake (SPEC 3 `tokens`, QUALITY "auth"):
 * a server with `tokens: ['s3cret']` and `origins: ['https://ok.example']`
 * answers a missing or wrong token with HTTP 401 and a foreign Origin with
 * 403, before any frame; a good token works as a bearer header and as
 * `?token=`. The client library turns a refusal into a JournalError with code
 * UNAUTHORIZED, promptly, and does not retry: a TCP proxy in front of the
 * server counts the connection attempts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import type { JournalServer } from '../server/journal-server.js';
import { JournalConnection, type WebSocketLike } from '../src/connection.js';
import { ErrorCode, JournalError } from '../src/errors.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import { JournalProducer } from '../src/journal-producer.js';
import { TcpProxy } from './fixtures/tcp-proxy.js';
import { once, startServer, within } from './helpers.js';

const J = 'secrets';
const TOKEN = 's3cret';
const ORIGIN = 'https://ok.example';
/** How long a refusal may take before we call it a hang (no reconnect loop, no timeout to wait out). */
const PROMPT_MS = 3000;

interface Handshake {
  status: number | undefined;
  opened: boolean;
  /** Frames received after opening: history of the journal, in our tests. */
  frames: Record<string, unknown>[];
}

/**
 * Opens a raw socket with `headers`/`origin`, and if it opens, subscribes to
 * the journal and collects frames up to the sentinel.
 */
async function handshake(url: string, options: { headers?: Record<string, string>; origin?: string } = {}): Promise<Handshake> {
  const ws = new WebSocket(url, options);
  const result: Handshake = { status: undefined, opened: false, frames: [] };
  ws.on('message', (data) => result.frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
  ws.on('error', () => {});
  await within(
    new Promise<void>((resolve) => {
      ws.on('unexpected-response', (_req, res) => {
        result.status = res.statusCode;
        res.resume();
        ws.terminate();
        resolve();
      });
      ws.on('open', () => {
        result.opened = true;
        ws.send(JSON.stringify({ type: 'subscribe', id: 1, journal: J, full: true, since: 0, payload: {} }));
      });
      ws.on('message', () => {
        const last = result.frames.at(-1)!;
        if (last['type'] === 'response' && (last['events'] as unknown[]).length === 0) resolve();
      });
      ws.on('close', () => resolve());
    }),
    PROMPT_MS,
    `the handshake with ${JSON.stringify(options)}`,
  );
  ws.terminate();
  return result;
}

function isUnauthorized(error: unknown): true {
  assert.ok(error instanceof JournalError, `expected a JournalError, got ${String(error)}`);
  assert.equal(error.code, ErrorCode.UNAUTHORIZED);
  return true;
}

/** Every event in the history frames of a handshake. */
function historySeqs(frames: Record<string, unknown>[]): number[] {
  return frames
    .filter((frame) => frame['type'] === 'response')
    .flatMap((frame) => (frame['events'] as { seq: number }[]).map((event) => event.seq));
}

describe('auth: tokens and origins at the handshake', () => {
  let server: JournalServer;
  let proxy: TcpProxy;
  const cleanups: (() => unknown)[] = [];

  before(async () => {
    server = await startServer({ tokens: [TOKEN], origins: [ORIGIN] });
    for (let i = 1; i <= 3; i++) await server.append(J, 'secret', { i });
    proxy = await TcpProxy.start(Number(new URL(server.url).port));
  });

  after(async () => {
    for (const cleanup of cleanups) await cleanup();
    await proxy.close();
    await server.close();
  });

  describe('raw handshakes', () => {
    const refused: [string, { headers?: Record<string, string>; origin?: string; query?: string }, number][] = [
      ['no token', {}, 401],
      ['a wrong bearer token', { headers: { Authorization: 'Bearer nope' } }, 401],
      ['a wrong ?token=', { query: '?token=nope' }, 401],
      ['an empty ?token=', { query: '?token=' }, 401],
      ['the right token with the wrong scheme (Basic)', { headers: { Authorization: `Basic ${TOKEN}` } }, 401],
      ['a token that merely starts with the right one', { headers: { Authorization: `Bearer ${TOKEN}x` } }, 401],
      ['the right token from a foreign Origin', { headers: { Authorization: `Bearer ${TOKEN}` }, origin: 'https://evil.example' }, 403],
      ['the right ?token= from a foreign Origin', { query: `?token=${TOKEN}`, origin: 'https://ok.example.evil' }, 403],
      ['no token from a foreign Origin', { origin: 'https://evil.example' }, 403],
      ['no token from the allowed Origin', { origin: ORIGIN }, 401],
    ];
    for (const [what, { query = '', ...options }, status] of refused) {
      it(`${what}: HTTP ${status} at the handshake, nothing delivered`, async () => {
        const result = await handshake(`${server.url}/${query}`, options);
        assert.equal(result.status, status);
        assert.equal(result.opened, false);
        assert.deepEqual(result.frames, []);
      });
    }

    const accepted: [string, { headers?: Record<string, string>; origin?: string; query?: string }][] = [
      ['the right bearer token', { headers: { Authorization: `Bearer ${TOKEN}` } }],
      ['the right bearer token, lower-case scheme', { headers: { Authorization: `bearer ${TOKEN}` } }],
      ['the right ?token=', { query: `?token=${TOKEN}` }],
      ['the right token from the allowed Origin', { headers: { Authorization: `Bearer ${TOKEN}` }, origin: ORIGIN }],
    ];
    for (const [what, { query = '', ...options }] of accepted) {
      it(`${what}: opens and replays the journal`, async () => {
        const result = await handshake(`${server.url}/${query}`, options);
        assert.equal(result.status, undefined);
        assert.equal(result.opened, true);
        assert.deepEqual(historySeqs(result.frames).slice(0, 3), [1, 2, 3]);
      });
    }
  });

  describe('EventLogConsumer', () => {
    /** Starts `consumer`, collecting what reaches its callback and its errors, until it ends. */
    async function runRefused(consumer: EventLogConsumer): Promise<{ delivered: (JournalEvent | null)[]; errors: Error[] }> {
      const delivered: (JournalEvent | null)[] = [];
      const errors: Error[] = [];
      consumer.on('error', (error) => errors.push(error));
      consumer.setCallback((event) => void delivered.push(event));
      const ended = once(consumer, 'end', PROMPT_MS);
      consumer.start();
      await ended;
      assert.equal(await within(consumer.poll(), PROMPT_MS, 'poll after the refusal'), null);
      return { delivered, errors };
    }

    for (const [what, token] of [
      ['without a token', undefined],
      ['with a wrong token', 'nope'],
    ] as const) {
      it(`${what}: ends promptly with a JournalError UNAUTHORIZED, nothing delivered, one connection attempt only`, async () => {
        const attemptsBefore = proxy.accepted;
        // A tiny reconnect delay: were it to retry, it would do so at once and many times.
        const connection = new JournalConnection(proxy.url, { reconnectDelay: 0.001, maxReconnectDelay: 0.01, ...(token ? { token } : {}) });
        const closed = once(connection, 'close', PROMPT_MS);
        cleanups.push(() => connection.close());
        const consumer = new EventLogConsumer(connection, J, { includeSentinel: true });
        const { delivered, errors } = await runRefused(consumer);
        await closed;
        assert.deepEqual(delivered, [null]);
        assert.equal(errors.length, 1);
        assert.ok(errors[0] instanceof JournalError);
        assert.equal((errors[0] as JournalError).code, ErrorCode.UNAUTHORIZED);
        assert.equal(connection.isClosed, true, 'the connection gave up: no reconnect is scheduled');
        assert.equal(proxy.accepted - attemptsBefore, 1, 'exactly one connection attempt');
      });
    }

    it('with a URL and a wrong token option: poll resolves null promptly, the error is UNAUTHORIZED', async () => {
      const consumer = new EventLogConsumer(server.url, J, { token: 'nope' });
      cleanups.push(() => consumer.stop());
      const { delivered, errors } = await runRefused(consumer);
      assert.deepEqual(delivered, [null]);
      assert.deepEqual(
        errors.map((error) => (error as JournalError).code),
        [ErrorCode.UNAUTHORIZED],
      );
    });

    it('a client from a foreign Origin (a WebSocket that sends one) is refused with 403 as FORBIDDEN and does not retry', async () => {
      class ForeignOriginWebSocket extends WebSocket {
        constructor(url: string, protocols?: string | string[], options: { headers?: Record<string, string> } = {}) {
          super(url, protocols, { ...options, origin: 'https://evil.example' });
        }
      }
      const attemptsBefore = proxy.accepted;
      const connection = new JournalConnection(proxy.url, {
        token: TOKEN,
        WebSocket: ForeignOriginWebSocket as unknown as WebSocketLike,
        reconnectDelay: 0.001,
        maxReconnectDelay: 0.01,
      });
      cleanups.push(() => connection.close());
      const errors: Error[] = [];
      connection.on('error', (error) => errors.push(error));
      const closed = once(connection, 'close', PROMPT_MS);
      const consumer = new EventLogConsumer(connection, J);
      const { delivered } = await runRefused(consumer);
      await closed;
      assert.deepEqual(delivered, [null]);
      assert.match(errors.map((error) => error.message).join('\n'), /HTTP 403/);
      assert.ok(errors.length > 0 && errors.every((error) => (error as JournalError).code === ErrorCode.FORBIDDEN));
      assert.equal(connection.isClosed, true);
      assert.equal(proxy.accepted - attemptsBefore, 1);
    });

    for (const [what, url, options] of [
      ['the token option (a bearer header)', () => server.url, { token: TOKEN }],
      ['?token= in the URL', () => `${server.url}/?token=${TOKEN}`, {}],
    ] as const) {
      it(`with ${what}: history, the sentinel, then live events`, async () => {
        const consumer = new EventLogConsumer(url(), J, { includeSentinel: true, ...options });
        cleanups.push(() => consumer.stop());
        const errors: Error[] = [];
        consumer.on('error', (error) => errors.push(error));
        const head = await server.store.head(J);
        consumer.start();
        const seen: (number | 'S')[] = [];
        for (let i = 0; i <= head.seq; i++) {
          const event = await consumer.poll(5);
          seen.push(event === EventLogConsumer.SENTINEL_EVENT ? 'S' : event!.seq!);
        }
        const { seq } = await server.append(J, 'secret', { live: true });
        const live = await consumer.poll(5);
        assert.deepEqual(seen, [...Array.from({ length: head.seq }, (_, i) => i + 1), 'S']);
        assert.equal(live!.seq, seq);
        assert.deepEqual(errors, []);
        consumer.stop();
      });
    }
  });

  describe('JournalProducer', () => {
    for (const [what, token] of [
      ['without a token', undefined],
      ['with a wrong token', 'nope'],
    ] as const) {
      it(`${what}: append rejects promptly with a JournalError UNAUTHORIZED, stores nothing, one connection attempt`, async () => {
        const headBefore = await server.store.head(J);
        const attemptsBefore = proxy.accepted;
        const producer = new JournalProducer(proxy.url, J, token ? { token } : {});
        cleanups.push(() => producer.close());
        const results = await within(
          Promise.allSettled([producer.append('intruder', { n: 1 }), producer.appendMany([{ name: 'intruder' }, { name: 'intruder' }])]),
          PROMPT_MS,
          'the refused appends to settle',
        );
        for (const result of results) {
          assert.equal(result.status, 'rejected');
          isUnauthorized((result as PromiseRejectedResult).reason);
        }
        await within(producer.close(), PROMPT_MS, 'close after the refusal');
        assert.deepEqual(await server.store.head(J), headBefore, 'nothing was stored');
        assert.equal(proxy.accepted - attemptsBefore, 1, 'exactly one connection attempt');
      });
    }

    it('a later append on a producer whose connection gave up on a 401 is refused as promptly (it must not hang)', async () => {
      const producer = new JournalProducer(proxy.url, J, { token: 'nope' });
      cleanups.push(() => producer.close());
      await assert.rejects(within(producer.append('intruder'), PROMPT_MS, 'the first append'), isUnauthorized);
      await assert.rejects(within(producer.append('intruder'), PROMPT_MS, 'a later append to be refused'), (error: unknown) => {
        assert.ok(error instanceof JournalError, `expected a JournalError, got ${String(error)}`);
        assert.ok(
          error.code === ErrorCode.UNAUTHORIZED || error.code === ErrorCode.CLOSED,
          `expected UNAUTHORIZED or CLOSED, got ${error.code}`,
        );
        return true;
      });
    });

    for (const [what, url, options] of [
      ['the token option', () => server.url, { token: TOKEN }],
      ['?token= in the URL', () => `${server.url}/?token=${TOKEN}`, {}],
    ] as const) {
      it(`with ${what}: append is stored`, async () => {
        const producer = new JournalProducer(url(), J, options);
        cleanups.push(() => producer.close());
        const { seq } = await within(producer.append('welcome', { via: what }), 5000, 'the append');
        const head = await server.store.head(J);
        assert.equal(head.seq, seq);
        await producer.close();
      });
    }
  });
});
