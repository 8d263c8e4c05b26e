/**
 * EventRouter (SPEC section 8): routing by name, `emit` and `default`, a bound `route` that
 * takes the final null, names that collide with object and class members, async handlers
 * awaited through a consumer's callback.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JournalEvent } from '../src/journal-event.js';
import { EventRouter, type RouteHandler } from '../src/routing/event-router.js';
import { Harness } from './harness.js';
import { Latch } from './helpers.js';

const event = (name: string, context: Record<string, unknown> = {}, seq = 1) => new JournalEvent({ name, context, seq, timestamp: seq });

/** Names that are members of every object, of the router, or of its class. */
const MEMBER_NAMES = ['constructor', '__proto__', 'toString', 'route', 'valueOf', 'hasOwnProperty', 'names', '__defineGetter__', 'prototype'];

describe('EventRouter', () => {
  it('routes each event to the handler for its name, what it returns to emit, the rest to default', () => {
    const handled: string[] = [];
    const emitted: [unknown, string | undefined][] = [];
    const others: string[] = [];
    const router = new EventRouter(
      {
        submit: (e) => {
          handled.push(`submit ${e.context['id']}`);
          return `job ${e.context['id']} submitted`;
        },
        finish: (e) => {
          handled.push(`finish ${e.context['id']}`);
          return undefined;
        },
        zero: () => 0,
      },
      { emit: (value, e) => emitted.push([value, e.name]), default: (e) => others.push(e.name!) },
    );
    const { route } = router;
    for (const e of [event('submit', { id: 1 }), event('alloc', { id: 1 }), event('finish', { id: 1 }), event('zero'), event('free')]) route(e);
    assert.deepEqual(handled, ['submit 1', 'finish 1']);
    assert.deepEqual(emitted, [['job 1 submitted', 'submit'], [0, 'zero']], 'undefined is not emitted, other falsy values are');
    assert.deepEqual(others, ['alloc', 'free']);
    assert.deepEqual(router.names, ['submit', 'finish', 'zero']);
  });

  it('ignores the final null and the sentinel, and drops unhandled events without a default', () => {
    let calls = 0;
    const router = new EventRouter({ a: () => calls++ }, { default: () => calls++ });
    assert.equal(router.route(null), undefined);
    assert.equal(router.route(new JournalEvent({})), undefined);
    assert.equal(calls, 0);
    assert.equal(new EventRouter({}).route(event('nobody')), undefined);
  });

  it('sends events named after object and class members to the default only, when no handler is declared for them', () => {
    const defaulted: string[] = [];
    const router = new EventRouter({ ordinary: () => assert.fail('not this one') }, { default: (e) => defaulted.push(e.name!) });
    for (const name of MEMBER_NAMES) router.route(event(name));
    assert.deepEqual(defaulted, MEMBER_NAMES);
    assert.equal(typeof router.route, 'function', 'the router is unharmed');
    assert.deepEqual(router.names, ['ordinary']);
    // Without a default, the same events are dropped, and nothing of the object is called.
    const silent = new EventRouter({});
    for (const name of MEMBER_NAMES) assert.equal(silent.route(event(name)), undefined);
  });

  it('sends events named after members to the handler declared for that very name, and nowhere else', () => {
    const reached: string[] = [];
    // JSON.parse and computed keys make own properties, __proto__ included.
    const handlers = JSON.parse('{"__proto__": 0, "constructor": 0, "toString": 0, "route": 0}') as Record<string, RouteHandler>;
    for (const name of Object.keys(handlers)) handlers[name] = (e) => reached.push(`${name}:${e.context['n']}`);
    const defaulted: string[] = [];
    const router = new EventRouter(handlers, { default: (e) => defaulted.push(e.name!) });
    let n = 0;
    for (const name of [...MEMBER_NAMES, 'submit']) router.route(event(name, { n: n++ }));
    assert.deepEqual(reached, ['constructor:0', '__proto__:1', 'toString:2', 'route:3']);
    assert.deepEqual(defaulted, ['valueOf', 'hasOwnProperty', 'names', '__defineGetter__', 'prototype', 'submit']);
    assert.equal(typeof router.route, 'function');

    const viaMap = new EventRouter(new Map([['__proto__', () => 'proto'], ['constructor', () => 'ctor']]), { emit: (value) => reached.push(String(value)) });
    viaMap.route(event('__proto__'));
    viaMap.route(event('constructor'));
    viaMap.route(event('toString'));
    assert.deepEqual(reached.slice(-2), ['proto', 'ctor']);

    // An object literal's `__proto__:` sets the prototype: it declares no handler.
    const literal = new EventRouter({ __proto__: { inherited: () => assert.fail('inherited handlers are not handlers') } } as unknown as Record<string, RouteHandler>);
    assert.deepEqual(literal.names, []);
    assert.equal(literal.route(event('inherited')), undefined);
  });

  it('calls handlers with the router as `this`, so a subclass can pass its own methods to super', () => {
    class JobRouter extends EventRouter {
      readonly lines: string[] = [];
      constructor() {
        super({ submit: JobRouter.prototype.onSubmit as RouteHandler, finish: JobRouter.prototype.onFinish as RouteHandler });
      }
      onSubmit(e: JournalEvent): void {
        this.lines.push(`submit ${e.context['id']}`);
      }
      onFinish(e: JournalEvent): void {
        this.lines.push(`finish ${e.context['id']}`);
      }
    }
    const router = new JobRouter();
    router.route(event('submit', { id: 7 }));
    router.route(event('finish', { id: 7 }));
    assert.deepEqual(router.lines, ['submit 7', 'finish 7']);
  });

  it('awaits an async handler and emits what it resolves to', async () => {
    const emitted: unknown[] = [];
    const router = new EventRouter({ slow: async (e) => `done ${e.seq}` }, { emit: (value) => emitted.push(value) });
    const result = router.route(event('slow', {}, 4));
    assert.ok(result instanceof Promise);
    await result;
    assert.deepEqual(emitted, ['done 4']);
  });

  it('rejects bad handlers and options, naming them', () => {
    assert.throws(() => new EventRouter(null as never), /handlers must be an object or a Map/);
    assert.throws(() => new EventRouter([] as never), /handlers must be an object or a Map/);
    assert.throws(() => new EventRouter({ a: 'no' } as never), /handlers\["a"\] must be a function/);
    assert.throws(() => new EventRouter({}, { emit: 1 } as never), /options\.emit must be a function/);
    assert.throws(() => new EventRouter({}, { default: {} } as never), /options\.default must be a function/);
    assert.throws(() => new EventRouter({}, { defualt: () => {} } as never), /options\.defualt is not a known option/);
  });

  it("works as a consumer's callback: every event in order, async handlers one at a time, then null", async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer('routed');
    for (let n = 1; n <= 30; n++) await producer.append(n % 3 === 0 ? 'slow' : n % 3 === 1 ? 'fast' : 'other', { n });
    const order: string[] = [];
    let running = 0;
    const done = new Latch(30);
    const router = new EventRouter(
      {
        fast: (e) => `fast ${e.context['n']}`,
        slow: async (e) => {
          running++;
          assert.equal(running, 1, 'one handler at a time');
          await new Promise<void>((resolve) => setImmediate(resolve));
          running--;
          return `slow ${e.context['n']}`;
        },
      },
      {
        emit: (line) => {
          order.push(String(line));
          done.countDown();
        },
        default: (e) => {
          order.push(`other ${e.context['n']}`);
          done.countDown();
        },
      },
    );
    const consumer = h.consumer('routed', { includeSentinel: true });
    consumer.setCallback(router.route).start();
    await done.wait(5000, '30 routed events');
    assert.deepEqual(order, Array.from({ length: 30 }, (_, i) => `${['slow', 'fast', 'other'][(i + 1) % 3]} ${i + 1}`));
    consumer.stop();
  });
});
