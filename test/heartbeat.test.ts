/**
 * Dead peers (SPEC 4.5), both ways:
 * - the server pings; a client frozen with SIGSTOP (a child process holding
 *   an EventLogConsumer) stops answering and is dropped within 3 heartbeat
 *   intervals. The drop is seen from outside: a TCP proxy between the two
 *   watches the server close its side. Thawed, the client reconnects and
 *   misses nothing.
 * - the client watches the server: a server that accepts and then says
 *   nothing (no frames, no pings) is dropped after the client's idleTimeout,
 *   and the client reconnects and resubscribes; a server that pings keeps an
 *   idle connection alive.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import net from 'node:net';
import { WebSocket as NodeWebSocket, WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode, JournalError } from '../src/errors.js';
import { JournalProducer } from '../src/journal-producer.js';
import { JournalConnection } from '../src/connection.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { ConsumerChild } from './fixtures/consumer-child.js';
import { TcpProxy } from './fixtures/tcp-proxy.js';
import { once, pollMany, startServer, within } from './helpers.js';

const J = 'heartbeat';
const INTERVAL = 0.2;
const ROUNDS = 4;

describe('the server drops a frozen client', () => {
  it(`a consumer process frozen with SIGSTOP is dropped within 3 heartbeat intervals (${INTERVAL} s), ${ROUNDS} times; thawed, it reconnects and sees every event once`, async (t) => {
    const server = await startServer({ heartbeatInterval: INTERVAL });
    const proxy = await TcpProxy.start(Number(new URL(server.url).port));
    let child: ConsumerChild | undefined;
    t.after(async () => {
      await child?.kill();
      await proxy.close();
      await server.close();
    });
    let appended = 0;
    const append = async (): Promise<void> => {
      appended = (await server.append(J, 'tick', { n: appended + 1 })).seq;
    };
    for (let i = 0; i < 3; i++) await append();
    child = await ConsumerChild.start(proxy.url, J);
    await child.waitForSeq(appended);

    const detections: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      assert.equal(proxy.open, 1, 'the child holds one connection through the proxy');
      const closedBefore = proxy.upstreamClosed;
      const dropped = once(proxy, 'upstream-close', 10_000);
      const frozenAt = performance.now();
      child.freeze();
      await dropped;
      const intervals = (performance.now() - frozenAt) / (INTERVAL * 1000);
      detections.push(intervals);
      assert.equal(proxy.upstreamClosed, closedBefore + 1, 'the server closed exactly one connection');
      // Events appended while the child is frozen and cut off.
      await append();
      await append();
      const reconnected = child.next('reconnect');
      child.thaw();
      await reconnected;
      await child.waitForSeq(appended);
      assert.ok(intervals <= 3, `round ${round}: the frozen client was dropped after ${intervals.toFixed(2)} heartbeat intervals (bar: 3)`);
    }
    assert.deepEqual(child.seqs, Array.from({ length: appended }, (_, i) => i + 1), 'every event once, in order');
    assert.equal(child.reconnects, ROUNDS);
    assert.deepEqual(child.errors, []);
    t.diagnostic(`heartbeat detection after SIGSTOP, in intervals of ${INTERVAL} s: ${detections.map((d) => d.toFixed(2)).join(', ')}`);
    console.log(`[heartbeat] frozen client dropped after ${detections.map((d) => d.toFixed(2)).join(', ')} intervals (max ${Math.max(...detections).toFixed(2)}, bar 3)`);
  });
});

/** A fake journal server that accepts connections and records frames, but answers nothing. */
class SilentServer {
  readonly wss: WebSocketServer;
  readonly sockets: WebSocket[] = [];
  readonly frames: { connection: number; frame: Record<string, unknown> }[] = [];
  /** Per connection: when it opened, and a promise of when it closed (performance.now()). */
  readonly openedAt: number[] = [];
  readonly closed: Promise<number>[] = [];
  #wake: (() => void) | undefined;

  private constructor(wss: WebSocketServer) {
    this.wss = wss;
    wss.on('connection', (ws) => {
      const connection = this.sockets.length;
      this.sockets.push(ws);
      this.openedAt.push(performance.now());
      this.closed.push(new Promise((resolve) => ws.on('close', () => resolve(performance.now()))));
      ws.on('message', (data) => {
        this.frames.push({ connection, frame: JSON.parse(data.toString()) as Record<string, unknown> });
        this.#wake?.();
      });
      ws.on('error', () => {});
    });
  }

  static async start(): Promise<SilentServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    return new SilentServer(wss);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as { port: number }).port}`;
  }

  /** Resolves once `count` connections came in. */
  async connections(count: number, ms = 5000): Promise<void> {
    while (this.sockets.length < count) await once(this.wss, 'connection', ms);
  }

  /** Resolves once a frame matching `predicate` came in. */
  async frame(predicate: (f: { connection: number; frame: Record<string, unknown> }) => boolean, ms = 5000): Promise<void> {
    await within(
      (async () => {
        while (!this.frames.some(predicate)) await new Promise<void>((resolve) => (this.#wake = resolve));
      })(),
      ms,
      'a frame from the client',
    );
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

describe('a reader paused by maxQueued is not taken for a dead one', () => {
  it('the client pings while paused: through 15 of its pings (7 server heartbeats, 3 idleTimeouts) neither side drops the connection; read on, every event arrives once', async (t) => {
    const server = await startServer({ heartbeatInterval: INTERVAL });
    let pings = 0;
    const pinged = new EventTarget();
    /** The `ws` client, counting the pings the connection sends. */
    class CountingWebSocket extends NodeWebSocket {
      override ping(...args: Parameters<NodeWebSocket['ping']>): void {
        pings++;
        pinged.dispatchEvent(new Event('ping'));
        super.ping(...args);
      }
    }
    const idleTimeout = 0.5;
    const connection = new JournalConnection(server.url, { idleTimeout, WebSocket: CountingWebSocket as never });
    const consumer = new EventLogConsumer(connection, J, { maxQueued: 5, bufferHistory: false });
    let disconnects = 0;
    connection.on('disconnect', () => disconnects++);
    t.after(async () => {
      consumer.stop();
      await connection.close();
      await server.close();
    });
    const count = 200;
    for (let n = 1; n <= count; n++) await server.append(J, 'tick', { n });
    consumer.start();
    // Nobody polls: the queue reaches maxQueued and the socket is paused.
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (pings < 15) return;
          pinged.removeEventListener('ping', check);
          resolve();
        };
        pinged.addEventListener('ping', check);
      }),
      10_000,
      '15 keepalive pings from the paused client',
    );
    assert.equal(disconnects, 0, 'no drop while paused: the server heard the pings, the client did not time the server out');
    const events = await pollMany(consumer, count);
    assert.deepEqual(
      events.map((event) => event.context['n']),
      Array.from({ length: count }, (_, i) => i + 1),
    );
    assert.equal(disconnects, 0);
    const sent = pings;
    // Reading again, the client stops pinging (the server's pings are heard once more).
    await server.append(J, 'tick', { n: count + 1 });
    const [last] = await pollMany(consumer, 1);
    assert.equal(last!.context['n'], count + 1);
    assert.ok(pings <= sent + 1, `pings went on after the resume: ${sent} then ${pings}`);
  });
});

describe('the client drops a silent server', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  it('a server that accepts and then ignores everything (no pings) is dropped after idleTimeout; the client reconnects and resubscribes', async () => {
    const fake = await SilentServer.start();
    const idleTimeout = 0.3;
    const connection = new JournalConnection(fake.url, { idleTimeout, reconnectDelay: 0.05 });
    const consumer = new EventLogConsumer(connection, J, { since: 12.5 });
    cleanups.push(async () => {
      consumer.stop();
      await connection.close();
      await fake.close();
    });
    const disconnected = once<[Error & { code?: string }]>(connection, 'disconnect', 5000);
    const reconnected = once(consumer, 'reconnect', 5000);
    consumer.start();
    await fake.connections(1);
    const [error] = await disconnected;
    assert.equal(error.code, 'CONNECTION_CLOSED');
    await reconnected;
    await fake.connections(2);
    // The first socket was closed by the client, not by the silent server, after at least idleTimeout.
    const idleMs = (await within(fake.closed[0]!, 5000, 'the first socket to close')) - fake.openedAt[0]!;
    assert.ok(idleMs >= idleTimeout * 1000 - 20, `dropped after ${idleMs.toFixed(0)} ms, before idleTimeout ${idleTimeout * 1000} ms`);
    console.log(`[heartbeat] silent server dropped by the client after ${idleMs.toFixed(0)} ms (idleTimeout ${idleTimeout * 1000} ms)`);
    // The subscription was sent again on the new socket, from the same point.
    await fake.frame((f) => f.connection === 1 && f.frame['type'] === 'subscribe');
    const subscribes = fake.frames.filter((f) => f.frame['type'] === 'subscribe');
    assert.deepEqual(
      subscribes.slice(0, 2).map((f) => [f.connection, f.frame['journal'], f.frame['since'], f.frame['full']]),
      [
        [0, J, 12.5, true],
        [1, J, 12.5, true],
      ],
    );
  });

  it('a server that pings keeps an idle connection open well past idleTimeout', async () => {
    const fake = await SilentServer.start();
    const idleTimeout = 0.3;
    const connection = new JournalConnection(fake.url, { idleTimeout, reconnectDelay: 0.05 });
    const consumer = new EventLogConsumer(connection, J);
    let disconnects = 0;
    connection.on('disconnect', () => disconnects++);
    cleanups.push(async () => {
      consumer.stop();
      await connection.close();
      await fake.close();
    });
    consumer.start();
    await fake.connections(1);
    const ws = fake.sockets[0]!;
    // 15 pings 0.1 s apart: 1.5 s of silence apart from pings, five times idleTimeout.
    let pongs = 0;
    ws.on('pong', () => pongs++);
    for (let i = 0; i < 15; i++) {
      ws.ping();
      await once(ws, 'pong', 2000);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(pongs, 15);
    assert.equal(disconnects, 0, 'no drop while the server pings');
    assert.equal(fake.sockets.length, 1);
    assert.equal(ws.readyState, ws.OPEN);
  });

  it('a server that accepts the TCP connection but never answers the WebSocket handshake: the attempt is dropped after idleTimeout and retried', async () => {
    // A black hole: accepts, reads, never writes.
    const sockets: net.Socket[] = [];
    const closed: Promise<void>[] = [];
    const blackhole = net.createServer((socket) => {
      sockets.push(socket);
      closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
      socket.on('error', () => {});
      socket.resume();
      blackhole.emit('attempt');
    });
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', () => resolve()));
    const url = `ws://127.0.0.1:${(blackhole.address() as net.AddressInfo).port}`;
    const connection = new JournalConnection(url, { idleTimeout: 0.3, reconnectDelay: 0.05 });
    const consumer = new EventLogConsumer(connection, J);
    cleanups.push(async () => {
      consumer.stop();
      await connection.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => blackhole.close(() => resolve()));
    });
    consumer.start();
    await within(
      (async () => {
        while (sockets.length < 2) await once(blackhole, 'attempt', 5000);
      })(),
      5000,
      'a second connection attempt after the first handshake went unanswered for idleTimeout (0.3 s)',
    );
    await within(closed[0]!, 2000, 'the client to close the first, unanswered attempt');
  });

  it('JournalProducer.close() with an append the server never answers: after closeTimeout it rejects the append (CLOSED) and closes', async () => {
    const fake = await SilentServer.start();
    const closeTimeout = 0.3;
    const producer = new JournalProducer(fake.url, J, { closeTimeout });
    cleanups.push(() => fake.close());
    const pending = producer.append('unanswered', { n: 1 });
    pending.catch(() => {});
    // The append reached the server, which says nothing.
    await fake.frame((f) => f.frame['type'] === 'append');
    const started = performance.now();
    await within(producer.close(), 5000, 'producer.close() to give up waiting for the acknowledgement');
    const waitedMs = performance.now() - started;
    assert.ok(waitedMs >= closeTimeout * 1000 - 20, `close() gave up after ${waitedMs.toFixed(0)} ms, before closeTimeout`);
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof JournalError, String(error));
      assert.equal(error.code, ErrorCode.CLOSED);
      assert.match(error.message, /waiting 0.3 s/);
      return true;
    });
    // The producer owned its connection: close() closed it.
    await within(fake.closed[0]!, 5000, 'the socket to close');
  });

  it('JournalProducer.close() called during a connect attempt that then fails: the pending append is rejected (CLOSED) and close() resolves, not retrying forever', async () => {
    // A server that is going away: it accepts the TCP connection, and the test cuts it once close() was called.
    const sockets: net.Socket[] = [];
    const dying = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      dying.emit('attempt');
    });
    await new Promise<void>((resolve) => dying.listen(0, '127.0.0.1', () => resolve()));
    const url = `ws://127.0.0.1:${(dying.address() as net.AddressInfo).port}`;
    // An explicit connection, so that the cleanup can end it even if producer.close() does not.
    const connection = new JournalConnection(url, { reconnectDelay: 0.05 });
    const producer = new JournalProducer(connection, J);
    cleanups.push(async () => {
      await connection.close();
      for (const socket of sockets) socket.destroy();
      if (dying.listening) dying.close();
    });
    const attempt = once(dying, 'attempt', 5000);
    const pending = producer.append('never', { n: 1 });
    pending.catch(() => {});
    await attempt;
    // The connection is mid-handshake: neither open, nor closed, nor waiting to retry.
    assert.equal(connection.isOpen || connection.isClosed || connection.isReconnecting, false);
    const closing = producer.close();
    // Now the server goes away for good: this attempt fails, and every later one is refused.
    const stopped = new Promise<void>((resolve) => dying.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await within(stopped, 3000, 'the dying server to stop listening');
    await within(closing, 3000, 'producer.close() once the connect attempt it was waiting for had failed');
    await assert.rejects(within(pending, 3000, 'the pending append to be rejected'), (error: unknown) => {
      assert.ok(error instanceof JournalError, String(error));
      assert.equal(error.code, ErrorCode.CLOSED);
      return true;
    });
  });
});
