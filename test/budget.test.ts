/**
 * server/budget/: the server-wide memory budget sheds the largest connections first and only
 * while it is over; admission counts slots per client address and per token; and, against a
 * server, stalled live subscribers past the server-wide budget are shed (1013) while appends
 * go on.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { AccessTokens } from '../server/auth/access-tokens.js';
import { Admission, isRefusal, type Ticket } from '../server/budget/admission.js';
import { OutputBudget } from '../server/budget/output-budget.js';
import { ServerBudget, type Charged } from '../server/budget/server-budget.js';
import { JournalProducer } from '../src/journal-producer.js';
import { once, startServer, within } from './helpers.js';

class Member implements Charged {
  charge = 0;
  buffered: number;
  shedCount = 0;
  readonly name: string;

  constructor(name: string, buffered: number) {
    this.name = name;
    this.buffered = buffered;
  }

  shed(): void {
    this.shedCount++;
  }
}

describe('ServerBudget', () => {
  it('sheds the largest connections first, only until the total is under the budget', () => {
    const shed: string[] = [];
    const budget = new ServerBudget(1000, (member) => shed.push((member as Member).name));
    const [a, b, c] = [new Member('a', 100), new Member('b', 500), new Member('c', 300)];
    for (const member of [a, b, c]) budget.add(member);
    budget.charge(a, 100);
    budget.charge(b, 500);
    budget.charge(c, 300);
    assert.deepEqual(shed, [], 'under the budget, nobody is shed');
    assert.equal(budget.total, 900);
    c.buffered = 450;
    budget.charge(c, 450);
    assert.deepEqual(shed, ['b'], 'over it, the largest goes, and no more than needed');
    assert.equal(b.shedCount, 1);
    assert.equal(budget.total, 550);
    budget.charge(b, 10_000);
    assert.equal(budget.total, 550, 'a shed connection is charged no more');
    budget.remove(a);
    assert.equal(budget.total, 450);
    budget.close();
  });

  it('recounts stale charges before it sheds: a connection whose output drained is not shed for it', () => {
    const shed: string[] = [];
    const budget = new ServerBudget(1000, (member) => shed.push((member as Member).name));
    const [a, b] = [new Member('a', 900), new Member('b', 200)];
    budget.add(a);
    budget.add(b);
    budget.charge(a, 900);
    a.buffered = 0; // written out since, without a send to say so
    budget.charge(b, 200);
    assert.deepEqual(shed, []);
    assert.equal(budget.total, 200);
    budget.close();
  });

  it('history reads wait from three quarters of the budget, and go on once there is room', async () => {
    const budget = new ServerBudget(1000);
    const a = new Member('a', 800);
    budget.add(a);
    budget.charge(a, 800);
    assert.equal(budget.hasRoom(), false);
    const room = budget.whenRoom();
    a.buffered = 100;
    await within(room, 2000, 'room');
    assert.equal(budget.hasRoom(), true);
    budget.close();
  });
});

function request(address: string, token?: string): IncomingMessage {
  return { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, socket: { remoteAddress: address }, url: '/' } as unknown as IncomingMessage;
}

/** A WebSocket whose peer never reads: every frame sent stays queued. */
class UnreadSocket {
  bufferedAmount = 0;
  readonly closes: [number, string][] = [];
  terminated = false;
  send(frame: string): void {
    this.bufferedAmount += Buffer.byteLength(frame);
  }
  close(code: number, reason: string): void {
    this.closes.push([code, reason]);
  }
  terminate(): void {
    this.terminated = true;
  }
}

describe('OutputBudget', () => {
  it('closes a connection 1008 SLOW_CONSUMER once it leaves more than twice maxSendBuffer unread, and says so once', () => {
    const server = new ServerBudget(1 << 30);
    const ws = new UnreadSocket();
    let slow = 0;
    const output = new OutputBudget(ws as unknown as WebSocket, undefined, { sendHighWaterMark: 100, maxSendBuffer: 200 }, server, () => {}, () => slow++);
    const frame = 'x'.repeat(150);
    output.send(frame);
    assert.equal(output.overHighWater, true, 'one frame may take it past its mark');
    output.send(frame);
    assert.deepEqual(ws.closes, [], 'under the hard limit (400 bytes)');
    output.send(frame);
    assert.equal(ws.closes.length, 1);
    assert.equal(ws.closes[0]![0], 1008);
    assert.match(ws.closes[0]![1], /^SLOW_CONSUMER: more than 400 bytes unread/);
    assert.equal(slow, 1);
    output.send(frame);
    assert.equal(ws.bufferedAmount, 450, 'nothing is queued after the close');
    assert.equal(slow, 1);
    output.closed();
    server.close();
  });
});

describe('Admission', () => {
  it('limits slots per address (429), per token (429) and in all (503); a released slot is free again', () => {
    const admission = new Admission({ maxConnections: 5, maxConnectionsPerAddress: 2, maxConnectionsPerToken: 3, tokens: new AccessTokens(['t', 'u']), origins: undefined });
    const held: Ticket[] = [];
    const admit = (address: string, token?: string): number | Ticket => {
      const result = admission.admit(request(address, token));
      return isRefusal(result) ? result.status : result;
    };
    assert.equal(admit('1.1.1.1'), 401);
    held.push(admit('1.1.1.1', 't') as Ticket, admit('1.1.1.1', 't') as Ticket);
    assert.equal(admit('1.1.1.1', 't'), 429, 'a third from one address');
    held.push(admit('2.2.2.2', 't') as Ticket);
    assert.equal(admit('3.3.3.3', 't'), 429, 'a fourth with one token');
    held.push(admit('3.3.3.3', 'u') as Ticket, admit('4.4.4.4', 'u') as Ticket);
    assert.equal(admit('5.5.5.5', 'u'), 503, 'past maxConnections');
    held[0]!.release();
    held[0]!.release();
    assert.equal(admission.held, 4, 'release is idempotent');
    assert.equal(typeof admit('1.1.1.1', 't'), 'object', 'the slot is free again');
  });
});

describe('server-wide budget against a server', () => {
  it('stalled live subscribers past maxServerBuffer are shed, largest first (1013 OVERLOADED); appends go on', { timeout: 120_000 }, async (t) => {
    const server = await startServer({ sendHighWaterMark: 16 * 1024, maxSendBuffer: 128 * 1024, maxServerBuffer: 256 * 1024, heartbeatInterval: 0 });
    const producer = new JournalProducer(server.url, 'flood');
    const bystander = new JournalProducer(server.url, 'bystander');
    const stalled: WebSocket[] = [];
    t.after(async () => {
      for (const ws of stalled) ws.terminate();
      await producer.close();
      await bystander.close();
      await server.close();
    });
    const closes: Promise<[number, string]>[] = [];
    for (let i = 0; i < 8; i++) {
      const ws = new WebSocket(server.url, { perMessageDeflate: false });
      ws.on('error', () => {});
      closes.push(new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve([code, reason.toString()]))));
      const subscribed = new Promise<void>((resolve) => ws.on('message', (data) => String(data).includes('"subscribed"') && resolve()));
      await once(ws, 'open');
      ws.send(JSON.stringify({ type: 'subscribe', id: 1, journal: 'flood', full: false, since: 0 }));
      await within(subscribed, 5000, 'subscribed');
      ws.pause();
      stalled.push(ws);
    }
    const shedCount = async (): Promise<number> => {
      const metric = await server.metrics.getSingleMetric('wsjournal_connections_closed_for_output_total')!.get();
      return metric.values.find((value) => value.labels['reason'] === 'overloaded')?.value ?? 0;
    };
    const batch = Array.from({ length: 50 }, (_, n) => ({ name: 'big', context: { n, pad: 'x'.repeat(1000) } }));
    // Each batch reaches all eight; a few MB fill the kernel's buffers, then the server's own.
    for (let i = 0; i < 4000 && (await shedCount()) === 0; i++) {
      await producer.appendMany(batch);
      if (i % 50 === 0) await bystander.append('tick', { i });
    }
    assert.ok((await shedCount()) > 0, 'the server shed a stalled subscriber');
    assert.ok((await shedCount()) < 8, 'not all of them');
    // Reading again, the shed ones read what was queued, then the close frame.
    for (const ws of stalled) ws.resume();
    const first = await within(Promise.race(closes), 10_000, 'a shed connection to close');
    assert.equal(first[0], 1013, `closed with 1013: ${first[1]}`);
    assert.match(first[1], /^OVERLOADED: /);
    await bystander.append('after', {});
  });

  it('an HTTP answer its client does not read is charged to maxServerBuffer: past it, that client is cut off, the rest are answered', { timeout: 120_000 }, async (t) => {
    const server = await startServer({ maxSendBuffer: 64 * 1024 * 1024, maxServerBuffer: 4 * 1024 * 1024, heartbeatInterval: 0 });
    const producer = new JournalProducer(server.url, 'big');
    let socket: ReturnType<typeof connect> | undefined;
    t.after(async () => {
      socket?.destroy();
      await producer.close();
      await server.close();
    });
    // 1,000 events of 20 KB: one page of them is 20 MB, more than the kernel's socket buffers take.
    const pad = 'x'.repeat(20_000);
    for (let batch = 0; batch < 25; batch++) {
      await producer.appendMany(Array.from({ length: 40 }, (_, n) => ({ name: 'big', context: { n, pad } })));
    }
    const overloaded = async (): Promise<number> => {
      const metric = await server.metrics.getSingleMetric('wsjournal_connections_closed_for_output_total')!.get();
      return metric.values.find((value) => value.labels['reason'] === 'overloaded')?.value ?? 0;
    };
    socket = connect(Number(new URL(server.url).port), '127.0.0.1');
    await once(socket, 'connect');
    socket.pause();
    socket.write('GET /v1/journals/big/events?limit=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    // Wait (up to 10 s) for the server to count the answer it cut off.
    const deadline = performance.now() + 10_000;
    while ((await overloaded()) === 0 && performance.now() < deadline) await delay(20);
    assert.equal(await overloaded(), 1, 'the unread answer was cut off');
    // What the client reads then ends before the page does.
    let received = 0;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    socket.resume();
    await within(ended, 10_000, 'the connection to end');
    assert.ok(received < 20_000_000, `received ${received} bytes of a 20 MB page`);
    // Another client is answered as before.
    const response = await fetch(`${server.url.replace('ws://', 'http://')}/v1/journals/big/events?limit=10`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { events: unknown[] }).events.length, 10);
  });
});
