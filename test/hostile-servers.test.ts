/**
 * Clients against misbehaving servers (QUALITY.md, "hostile servers (client side)"): small
 * fake `ws` servers that end every subscription, close right after each open, refuse a large
 * frame with 1009, tell small limits in their `hello`, never answer, or answer with malformed
 * acks, and a port where nobody listens. The client must retry with a backoff that grows and
 * stays grown, never resend a refused frame, refuse what the server's limits forbid before
 * sending it, and say what went wrong: no call pending forever, every failure an 'error'.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { Backoff } from '../src/backoff.js';
import { JournalConnection } from '../src/connection.js';
import { ErrorCode, JournalError } from '../src/errors.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalProducer } from '../src/journal-producer.js';
import { FakeServer, gaps, type FakeFrame } from './fixtures/fake-server.js';
import { freePort, once, startServer, within } from './helpers.js';

const CLI = new URL('../cli/main.js', import.meta.url).pathname;
/** A small backoff policy, so that its cap is reached within a second. */
const FAST = { reconnectDelay: 0.05, maxReconnectDelay: 0.5 } as const;
/** Timers never fire early, but their times are rounded to the millisecond. */
const SLACK_MS = 5;

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function fake(options: Parameters<typeof FakeServer.start>[0]): Promise<FakeServer> {
  const server = await FakeServer.start(options);
  cleanups.push(() => server.close());
  return server;
}

/** Acknowledges every append with one seq per event. */
function acking(frame: FakeFrame, socket: { send(text: string): void }): void {
  if (frame.type !== 'append') return;
  const count = (frame['events'] as unknown[]).length;
  const seqs = Array.from({ length: count }, (_, i) => i + 1);
  socket.send(JSON.stringify({ type: 'ack', id: frame.id, seqs, timestamps: seqs.map((seq) => 1000 + seq) }));
}

/** Every message and code along an error's `cause` chain, as one text to match. */
function causeChain(error: unknown): string {
  const parts: string[] = [];
  for (let link = error as { message?: string; code?: string; cause?: unknown } | undefined; link !== undefined && link !== null; link = link.cause as typeof link) {
    parts.push(`${link.code ?? ''} ${link.message ?? String(link)}`);
  }
  return parts.join(' <- ');
}

/** Rejection of `promise`, failing the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<JournalError> {
  try {
    await promise;
  } catch (error) {
    return error as JournalError;
  }
  assert.fail('expected a rejection');
}

/** The lower bound of the `k`-th retry delay (0 for the first) of a backoff: half its ceiling, ms. */
function floorMs(k: number, initial: number, max: number): number {
  return (Math.min(max, initial * 2 ** k) * 1000) / 2 - SLACK_MS;
}

/** Retries per second over the gaps after the first `skip`. */
function ratePerSecond(times: readonly number[], skip: number): number {
  const tail = times.slice(skip);
  return ((tail.length - 1) * 1000) / (tail.at(-1)! - tail[0]!);
}

describe('Backoff', () => {
  it('doubles to its cap with jitter in the upper half, and resets only after a success that lasted healthyAfter', () => {
    let now = 0;
    let draw = 0;
    const backoff = new Backoff({ initialDelay: 0.1, maxDelay: 1, healthyAfter: 5 }, { now: () => now, random: () => draw });
    assert.deepEqual([0, 1, 2, 3, 4, 5].map(() => backoff.next()), [0.05, 0.1, 0.2, 0.4, 0.5, 0.5]);
    draw = 1;
    assert.equal(backoff.next(), 1);
    // Open, then dropped 4.9 s later: not healthy yet, the delay stays at its cap.
    backoff.succeeded();
    now += 4900;
    assert.equal(backoff.next(), 1);
    // Open for 5 s: the next failure starts again from the first delay.
    backoff.succeeded();
    now += 5000;
    assert.equal(backoff.next(), 0.1);
    assert.equal(backoff.failures, 1);
  });
});

describe('a server that ends every subscription', () => {
  for (const [code, accepts] of [
    [ErrorCode.SLOW_CONSUMER, true],
    [ErrorCode.OVERLOADED, false],
  ] as const) {
    it(`${code}${accepts ? ' after subscribed' : ''}: resubscribes with a growing backoff, at most a few a second once capped`, async () => {
      const server = await fake({
        onFrame: (frame, socket) => {
          if (frame.type !== 'subscribe') return;
          if (accepts) socket.send(JSON.stringify({ type: 'subscribed', id: frame.id, head: { seq: 0, timestamp: 0 } }));
          socket.send(JSON.stringify({ type: 'end', id: frame.id, code, message: 'go away' }));
        },
      });
      const connection = new JournalConnection(server.url, FAST);
      cleanups.push(() => connection.close());
      const consumer = new EventLogConsumer(connection, 'j');
      const errors: JournalError[] = [];
      consumer.on('error', (error) => errors.push(error as JournalError));
      consumer.start();
      const wanted = 10;
      await server.signal.until(() => server.framesOf('subscribe').length >= wanted, 10_000, `${wanted} subscribes`);
      consumer.stop();
      const times = server.framesOf('subscribe').slice(0, wanted).map(({ at }) => at);
      gaps(times).forEach((gap, k) => assert.ok(gap >= floorMs(k, 0.05, 0.5), `resubscribe ${k + 1} came ${gap.toFixed(1)} ms after the one before`));
      const rate = ratePerSecond(times, 5);
      assert.ok(rate <= 4, `${rate.toFixed(1)} resubscribes/s once capped`);
      console.log(`# ${code}: ${wanted} subscribes in ${((times.at(-1)! - times[0]!) / 1000).toFixed(2)} s; ${rate.toFixed(2)}/s once capped at 0.5 s`);
      // One connection throughout: the subscription is retried, not the socket.
      assert.equal(server.connections.length, 1);
      if (accepts) assert.deepEqual(errors, []);
      else {
        assert.ok(errors.length >= wanted - 1);
        assert.ok(errors.every((error) => error.code === code));
      }
    });
  }

  it('with the default policy: a handful of resubscribes in the first seconds', async () => {
    const server = await fake({
      onFrame: (frame, socket) => {
        if (frame.type === 'subscribe') socket.send(JSON.stringify({ type: 'end', id: frame.id, code: ErrorCode.SLOW_CONSUMER, message: 'slow' }));
      },
    });
    const consumer = new EventLogConsumer(server.url, 'j').start();
    cleanups.push(() => consumer.stop());
    const wanted = 6;
    await server.signal.until(() => server.framesOf('subscribe').length >= wanted, 15_000, `${wanted} subscribes`);
    consumer.stop();
    const times = server.framesOf('subscribe').map(({ at }) => at);
    const seconds = (times[wanted - 1]! - times[0]!) / 1000;
    // 0.1 s doubling: the first five delays take at least 0.05 + 0.1 + 0.2 + 0.4 + 0.8 s.
    assert.ok(seconds >= 1.55 - SLACK_MS / 1000, `${wanted} subscribes in ${seconds.toFixed(2)} s`);
    console.log(`# default policy: ${wanted} subscribes in ${seconds.toFixed(2)} s (${((wanted - 1) / seconds).toFixed(2)}/s)`);
  });
});

describe('a server that closes right after each open', () => {
  it('reconnects with a backoff that an open does not reset', async () => {
    const server = await fake({ onConnection: (socket) => socket.close(1011, 'bye') });
    const connection = new JournalConnection(server.url, FAST);
    cleanups.push(() => connection.close());
    const consumer = new EventLogConsumer(connection, 'j');
    let disconnects = 0;
    const errors: Error[] = [];
    consumer.on('disconnect', () => disconnects++);
    consumer.on('error', (error) => errors.push(error));
    consumer.start();
    const wanted = 10;
    await server.signal.until(() => server.connections.length >= wanted, 10_000, `${wanted} connections`);
    consumer.stop();
    await connection.close();
    const times = server.connections.slice(0, wanted);
    gaps(times).forEach((gap, k) => assert.ok(gap >= floorMs(k, 0.05, 0.5), `reconnect ${k + 1} came ${gap.toFixed(1)} ms after the one before`));
    const rate = ratePerSecond(times, 5);
    assert.ok(rate <= 4, `${rate.toFixed(1)} reconnects/s once capped`);
    assert.ok(disconnects >= wanted - 1, `${disconnects} 'disconnect' events`);
    // The server was reached and the socket opened each time: drops, not errors.
    assert.deepEqual(errors, []);
    console.log(`# close after open: ${wanted} connections in ${((times.at(-1)! - times[0]!) / 1000).toFixed(2)} s; ${rate.toFixed(2)}/s once capped`);
  });

  it('counts an open that did not last as a failed attempt: maxReconnectAttempts gives up', async () => {
    const server = await fake({ onConnection: (socket) => socket.close(1011, 'bye') });
    const connection = new JournalConnection(server.url, { reconnectDelay: 0.01, maxReconnectDelay: 0.02, maxReconnectAttempts: 3 });
    cleanups.push(() => connection.close());
    const producer = new JournalProducer(connection, 'j');
    const failed = rejection(producer.append('x'));
    await once(connection, 'close', 5000);
    assert.equal((await failed).code, ErrorCode.CONNECTION_CLOSED);
    assert.equal(server.connections.length, 4);
  });
});

describe('a frame the server refuses with 1009', () => {
  it('is rejected with FRAME_TOO_LARGE within a second and never resent; the producer goes on', async () => {
    const server = await fake({ maxPayload: 4096, onFrame: acking });
    const producer = new JournalProducer(server.url, 'j', { appendTimeout: 5 });
    cleanups.push(() => producer.close());
    const started = performance.now();
    const error = await within(rejection(producer.append('big', { pad: 'x'.repeat(10_000) })), 1000, 'the refusal');
    const ms = performance.now() - started;
    assert.equal(error.code, ErrorCode.FRAME_TOO_LARGE);
    assert.match(error.message, /1009/);
    console.log(`# 1009: rejected in ${ms.toFixed(0)} ms`);
    const result = await within(producer.append('small'), 5000, 'the next append');
    assert.equal(result.seq, 1);
    // One connection closed (the server's side sees 1006 after its 1009), and one more open.
    assert.equal(server.closeCodes.length, 1);
    assert.equal(server.connections.length, 2);
    assert.deepEqual(server.framesOf('append').map(({ frame }) => (frame['events'] as { name: string }[])[0]!.name), ['small']);
  });

  it('a coalesced frame refused with 1009: its members are sent alone, and only the large one is refused', async () => {
    const server = await fake({ maxPayload: 4096, onFrame: acking });
    const producer = new JournalProducer(server.url, 'j', { appendTimeout: 5 });
    cleanups.push(() => producer.close());
    const first = producer.append('small-1', { pad: 'x'.repeat(1000) });
    const big = rejection(producer.append('big', { pad: 'x'.repeat(10_000) }));
    const last = producer.append('small-2', { pad: 'x'.repeat(1000) });
    await within(Promise.all([first, last]), 5000, 'the small appends');
    assert.equal((await big).code, ErrorCode.FRAME_TOO_LARGE);
    // The coalesced frame, then the large append alone: two connections closed, no more.
    assert.equal(server.closeCodes.length, 2);
    const names = server.framesOf('append').map(({ frame }) => (frame['events'] as { name: string }[]).map(({ name }) => name).join(','));
    assert.ok(names.includes('small-1') && names.includes('small-2'), names.join(' | '));
  });

  it('against a JournalServer with a small maxFrameSize', async () => {
    const server = await startServer({ maxFrameSize: 4096 });
    cleanups.push(() => server.close());
    const producer = new JournalProducer(server.url, 'j');
    cleanups.push(() => producer.close());
    const error = await within(rejection(producer.append('big', { pad: 'x'.repeat(10_000) })), 1000, 'the refusal');
    assert.equal(error.code, ErrorCode.FRAME_TOO_LARGE);
    assert.equal((await producer.append('small')).seq, 1);
    assert.equal((await server.store.head('j')).seq, 1);
  });

  it('wsjournal append exits with one line naming FRAME_TOO_LARGE', async () => {
    const server = await startServer({ maxFrameSize: 4096 });
    cleanups.push(() => server.close());
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, 'append', 'j', 'big', '--url', server.url, '--context', JSON.stringify({ pad: 'x'.repeat(10_000) })], {
      env: { ...process.env, WSJOURNAL_TOKEN: '' },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code] = await once<[number]>(child, 'close', 10_000);
    const ms = performance.now() - started;
    assert.equal(code, 1, stderr);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /FRAME_TOO_LARGE/);
    console.log(`# wsjournal append of an oversized event: exit 1 after ${ms.toFixed(0)} ms (process start included): ${stderr.trim()}`);
  });
});

describe('wsjournal append from standard input', () => {
  it('cuts batches by bytes too: 20 events of 60 KB (1.2 MB) are appended, not refused as one frame over 1 MiB', async () => {
    const server = await startServer();
    cleanups.push(() => server.close());
    const line = JSON.stringify({ name: 'big', context: { pad: 'x'.repeat(60_000) } });
    const child = spawn(process.execPath, [CLI, 'append', 'j', '-', '--url', server.url], { env: { ...process.env, WSJOURNAL_TOKEN: '' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.end(`${Array.from({ length: 20 }, () => line).join('\n')}\n`);
    const [code] = await once<[number]>(child, 'close', 20_000);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /appended 20 events to j \(seq 1-20\)/);
    assert.equal((await server.store.head('j')).seq, 20);
  });
});

describe("the server's hello", () => {
  it('refuses an append over its limits before sending it, and sizes coalesced frames to them', async () => {
    const limits = { maxFrameSize: 2500, maxEventsPerAppend: 3, maxEventSize: 1000, later: true };
    const server = await fake({ hello: { type: 'hello', version: 1, limits, extra: 'ignored' }, onFrame: acking });
    const connection = new JournalConnection(server.url, FAST);
    cleanups.push(() => connection.close());
    const producer = new JournalProducer(connection, 'j');
    const hello = once<[typeof limits]>(connection, 'hello');
    await producer.append('first');
    assert.equal((await hello)[0].maxFrameSize, 2500);
    const pad = (n: number) => ({ pad: 'x'.repeat(n) });
    assert.equal((await rejection(producer.append('e', pad(2000)))).code, ErrorCode.EVENT_TOO_LARGE);
    const four = Array.from({ length: 4 }, () => ({ name: 'e' }));
    assert.equal((await rejection(producer.appendMany(four))).code, ErrorCode.TOO_MANY_EVENTS);
    const three = Array.from({ length: 3 }, () => ({ name: 'e', context: pad(800) }));
    assert.equal((await rejection(producer.appendMany(three))).code, ErrorCode.FRAME_TOO_LARGE);
    // Seven single appends in one turn: frames of at most three events.
    const results = await Promise.all(Array.from({ length: 7 }, (_, i) => producer.append('single', { i })));
    assert.equal(results.length, 7);
    const frames = server.framesOf('append').map(({ frame }) => frame['events'] as { name: string; context?: { pad?: string } }[]);
    assert.ok(frames.every((events) => events.length <= 3), frames.map((events) => events.length).join(','));
    assert.ok(frames.every((events) => events.every((event) => event.context?.pad === undefined)), 'nothing refused was sent');
    assert.equal(frames.flat().length, 8);
    assert.deepEqual(server.closeCodes, []);
  });
});

describe('nothing listening', () => {
  it("a producer's append rejects with APPEND_TIMEOUT at appendTimeout, its cause ECONNREFUSED; the producer emits 'error'", async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const producer = new JournalProducer(url, 'j', { appendTimeout: 0.5 });
    cleanups.push(() => producer.close());
    const errors: Error[] = [];
    producer.on('error', (error) => errors.push(error));
    const started = performance.now();
    const error = await within(rejection(producer.append('x')), 3000, 'the timeout');
    const ms = performance.now() - started;
    assert.equal(error.code, ErrorCode.APPEND_TIMEOUT);
    assert.ok(ms >= 500 - SLACK_MS, `rejected after ${ms.toFixed(0)} ms`);
    assert.match(causeChain(error), /ECONNREFUSED/);
    assert.ok(errors.length >= 1);
    assert.match(causeChain(errors[0]), /ECONNREFUSED/);
    console.log(`# nothing listening: APPEND_TIMEOUT after ${ms.toFixed(0)} ms (appendTimeout 0.5 s); ${errors.length} 'error' events: ${causeChain(error)}`);
  });

  it("a consumer emits 'disconnect' and 'error' with ECONNREFUSED, and poll() callers can hear of it", async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const consumer = new EventLogConsumer(url, 'j');
    cleanups.push(() => consumer.stop());
    const disconnected = once<[Error]>(consumer, 'disconnect');
    const failed = once<[Error]>(consumer, 'error');
    consumer.start();
    const polled = consumer.poll();
    const [error] = await failed;
    assert.match(causeChain(error), /ECONNREFUSED/);
    assert.match(causeChain((await disconnected)[0]), /ECONNREFUSED/);
    consumer.stop();
    assert.equal(await within(polled, 1000, 'poll after stop'), null);
  });
});

describe('a server that accepts and never answers', () => {
  it('a WebSocket server: the append rejects with APPEND_TIMEOUT, sent once', async () => {
    const server = await fake({});
    const producer = new JournalProducer(server.url, 'j', { appendTimeout: 0.5 });
    cleanups.push(() => producer.close());
    const started = performance.now();
    const error = await within(rejection(producer.append('x')), 3000, 'the timeout');
    const ms = performance.now() - started;
    assert.equal(error.code, ErrorCode.APPEND_TIMEOUT);
    assert.match(error.message, /did not answer/);
    assert.ok(ms >= 500 - SLACK_MS, `rejected after ${ms.toFixed(0)} ms`);
    assert.equal(server.framesOf('append').length, 1);
    console.log(`# never answers: APPEND_TIMEOUT after ${ms.toFixed(0)} ms (appendTimeout 0.5 s)`);
  });

  it('registerSchema and listSchemas reject with TIMEOUT at appendTimeout, each request sent once', async () => {
    const server = await fake({});
    const producer = new JournalProducer(server.url, 'j', { appendTimeout: 0.3 });
    cleanups.push(() => producer.close());
    const started = performance.now();
    const [registered, listed] = await within(
      Promise.all([rejection(producer.registerSchema({ $id: 'urn:x', version: 1 })), rejection(producer.listSchemas())]),
      3000,
      'the timeouts',
    );
    const ms = performance.now() - started;
    for (const error of [registered, listed]) {
      assert.equal(error.code, ErrorCode.TIMEOUT);
      assert.match(error.message, /did not answer the schema request within 0.3 s/);
    }
    assert.ok(ms >= 300 - SLACK_MS, `rejected after ${ms.toFixed(0)} ms`);
    assert.equal(server.framesOf('register').length, 1, 'sent once');
    assert.equal(server.framesOf('schemas').length, 1, 'sent once');
  });

  it('a TCP server that never completes the handshake: the append rejects with APPEND_TIMEOUT', async () => {
    const sockets = new Set<net.Socket>();
    const tcp = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => tcp.close(resolve));
    });
    const port = (tcp.address() as net.AddressInfo).port;
    const producer = new JournalProducer(`ws://127.0.0.1:${port}`, 'j', { appendTimeout: 0.3 });
    cleanups.push(() => producer.close());
    const error = await within(rejection(producer.append('x')), 3000, 'the timeout');
    assert.equal(error.code, ErrorCode.APPEND_TIMEOUT);
  });
});

describe('malformed acks', () => {
  for (const [what, ack] of [
    ['empty seqs', () => ({ seqs: [], timestamps: [] })],
    ['one seq too many', (count: number) => ({ seqs: Array.from({ length: count + 1 }, (_, i) => i + 1), timestamps: Array.from({ length: count + 1 }, () => 1) })],
    ['timestamps shorter than seqs', (count: number) => ({ seqs: Array.from({ length: count }, (_, i) => i + 1), timestamps: [] })],
  ] as const) {
    it(`${what}: the append rejects with PROTOCOL_ERROR and is not resent`, async () => {
      const server = await fake({
        onFrame: (frame, socket) => {
          if (frame.type === 'append') socket.send(JSON.stringify({ type: 'ack', id: frame.id, ...ack((frame['events'] as unknown[]).length) }));
        },
      });
      const producer = new JournalProducer(server.url, 'j');
      cleanups.push(() => producer.close());
      const one = await within(rejection(producer.append('x')), 3000, 'the refusal');
      assert.equal(one.code, ErrorCode.PROTOCOL_ERROR);
      // Two appends coalesced into one frame: both rejected, nothing resent.
      const both = await within(Promise.all([rejection(producer.append('a')), rejection(producer.append('b'))]), 3000, 'the refusals');
      assert.deepEqual(both.map((error) => error.code), [ErrorCode.PROTOCOL_ERROR, ErrorCode.PROTOCOL_ERROR]);
      const many = await within(rejection(producer.appendMany([{ name: 'a' }, { name: 'b' }], { key: 'k1' })), 3000, 'the refusal');
      assert.equal(many.code, ErrorCode.PROTOCOL_ERROR);
      assert.equal(server.framesOf('append').length, 3);
    });
  }
});
