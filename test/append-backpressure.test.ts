/**
 * Bounded appends per connection: a producer that sends append after append
 * without waiting for acks cannot make the server queue them without limit.
 * Past `maxPendingAppends` (or `maxPendingAppendBytes` of frames) unanswered
 * appends, the server hands nothing more to the store and stops reading the
 * connection; as appends are answered it goes on, in order, losing nothing.
 * The store here holds every append until the test opens its gate.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { MemoryStore } from '../server/memory-store.js';
import type { AppendOptions, JournalStore, NewEvent, StoredEvent } from '../server/store.js';
import { JournalServer, type JournalServerOptions } from '../server/journal-server.js';
import { once, within } from './helpers.js';

const J = 'pressure';

/** A MemoryStore whose appends wait for `open()`; counts the appends it was handed. */
class GatedStore extends MemoryStore implements JournalStore {
  readonly calls = new EventEmitter();
  handed = 0;
  #open!: () => void;
  readonly #gate = new Promise<void>((resolve) => (this.#open = resolve));

  override async append(journal: string, events: readonly NewEvent[], options?: AppendOptions): Promise<StoredEvent[]> {
    this.handed++;
    this.calls.emit('append', this.handed);
    await this.#gate;
    return super.append(journal, events, options);
  }

  open(): void {
    this.#open();
  }
}

async function withServer(
  options: JournalServerOptions,
  body: (server: JournalServer, store: GatedStore) => Promise<void>,
): Promise<void> {
  const store = new GatedStore();
  const server = new JournalServer({ port: 0, store, ...options });
  await server.listen();
  try {
    await body(server, store);
  } finally {
    store.open();
    await server.close();
  }
}

async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  // The server's first frame is its hello: past it, every frame answers what was sent.
  const hello = once(ws, 'message', 5000);
  await once(ws, 'open');
  await hello;
  return ws;
}

/** A round trip on another connection: by its answer, the server has had its turn at what was sent before. */
async function roundTrip(url: string): Promise<void> {
  const probe = await open(url);
  const answered = once(probe, 'message', 5000);
  probe.send(JSON.stringify({ type: 'cancel', id: 1 }));
  await answered;
  probe.close();
}

/** Sends `count` appends of one event padded to about `bytes`, then collects the acks by id. */
function flood(ws: WebSocket, count: number, bytes: number): Promise<Map<number, number>> {
  const acks = new Map<number, number>();
  const all = new Promise<Map<number, number>>((resolve, reject) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; id: number; seqs?: number[] };
      if (frame.type !== 'ack') reject(new Error(`unexpected ${data.toString()}`));
      acks.set(frame.id, frame.seqs![0]!);
      if (acks.size === count) resolve(acks);
    });
  });
  const pad = 'x'.repeat(bytes);
  for (let id = 1; id <= count; id++) {
    ws.send(JSON.stringify({ type: 'append', id, journal: J, events: [{ name: 'e', context: { id, pad } }] }));
  }
  return all;
}

async function sent(ws: WebSocket): Promise<void> {
  while (ws.bufferedAmount > 0) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Floods `count` appends of ~`bytes` on a new connection and waits until `limit` are in the
 * store's hands and the server has had its turn at the rest; then no more may have been handed.
 */
async function floodToLimit(
  server: JournalServer,
  store: GatedStore,
  limit: number,
  count: number,
  bytes: number,
): Promise<{ ws: WebSocket; acked: Promise<Map<number, number>> }> {
  const ws = await open(server.url);
  const reached = new Promise<void>((resolve) => store.calls.on('append', (n: number) => n === limit && resolve()));
  const acked = flood(ws, count, bytes);
  await within(reached, 5000, `${limit} appends handed to the store`);
  await sent(ws);
  await roundTrip(server.url);
  assert.equal(store.handed, limit, 'no more appends were handed to the store than the limit allows');
  return { ws, acked };
}

describe('appends in flight per connection are bounded', () => {
  it('past maxPendingAppends the store is handed nothing more; once answered, every append is stored once, in order', async () => {
    await withServer({ maxPendingAppends: 5 }, async (server, store) => {
      const { ws, acked } = await floodToLimit(server, store, 5, 40, 10);
      store.open();
      const acks = await within(acked, 10_000, 'every append acknowledged');
      assert.deepEqual(
        [...acks.entries()].sort((a, b) => a[0] - b[0]).map(([id, seq]) => [id, seq]),
        Array.from({ length: 40 }, (_, i) => [i + 1, i + 1]),
        'append n got seq n: stored once each, in the order sent',
      );
      assert.equal(store.handed, 40);
      const stored = await store.read(J, 0, 100);
      const ids = stored.map((event) => (JSON.parse(event.json) as { context: { id: number } }).context.id);
      assert.deepEqual(ids, Array.from({ length: 40 }, (_, i) => i + 1));
      ws.close();
    });
  });

  it('past maxPendingAppendBytes of frames, likewise', async () => {
    await withServer({ maxPendingAppendBytes: 64 * 1024 }, async (server, store) => {
      // Frames of ~20 KB: three are under 64 KiB, the fourth takes it over, the fifth waits.
      const { ws, acked } = await floodToLimit(server, store, 4, 12, 20_000);
      store.open();
      const acks = await within(acked, 10_000, 'every append acknowledged');
      assert.equal(acks.size, 12);
      assert.deepEqual([...acks.values()].sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 1));
      ws.close();
    });
  });

  it('a connection paused this way is not dropped by the heartbeat', async () => {
    await withServer({ maxPendingAppends: 1, heartbeatInterval: 0.1 }, async (server, store) => {
      const ws = await open(server.url);
      // This client answers pings itself, but the server reads nothing of it while paused.
      let closed = false;
      ws.on('close', () => (closed = true));
      const acked = flood(ws, 3, 10);
      await within(new Promise<void>((resolve) => store.calls.on('append', () => resolve())), 5000, 'the first append');
      await sent(ws);
      // Ten heartbeat intervals: the server pings and hears no pong (it does not read), yet keeps it.
      let pings = 0;
      await within(
        new Promise<void>((resolve) =>
          ws.on('ping', () => {
            if (++pings === 10) resolve();
          }),
        ),
        10_000,
        'ten server pings',
      );
      assert.equal(closed, false);
      store.open();
      assert.equal((await within(acked, 5000, 'the acks')).size, 3);
    });
  });
});
