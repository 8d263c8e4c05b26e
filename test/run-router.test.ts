/**
 * RunRouter (SPEC section 8): callbacks per run from factories, sub-factories per
 * descriptor, orphans, and memory that follows the runs open, not the runs seen: 10,000
 * interleaved runs, and runs whose stop never comes, with the garbage collector as witness.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { JournalEvent } from '../src/journal-event.js';
import { RunRouter, type RunCallback, type RunFactory } from '../src/routing/run-router.js';
import { Harness } from './harness.js';
import { Latch } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let clock = 0;
const event = (name: string, context: Record<string, unknown>) => new JournalEvent({ name, context, seq: ++clock, timestamp: clock });
const label = (e: JournalEvent) => `${e.name}:${String(e.context['run'])}${e.context['descriptor'] === undefined ? '' : `/${String(e.context['descriptor'])}`}${e.context['n'] === undefined ? '' : `#${String(e.context['n'])}`}`;

/** A factory whose run callback records every event it gets under the run's id. */
function recording(seen: Map<unknown, string[]>): RunFactory {
  return (start) => {
    const mine: string[] = [];
    seen.set(start.context['run'], mine);
    return [[(e) => void mine.push(label(e))]];
  };
}

describe('RunRouter', () => {
  it("gives a run's callbacks its events, start to stop, and each descriptor's callbacks the start, the descriptor, its events and the stop", () => {
    const runs: string[][] = [];
    const descriptors = new Map<string, string[]>();
    const router = new RunRouter([
      (start) => {
        const mine: string[] = [];
        runs.push(mine);
        const perDescriptor = (descriptor: JournalEvent): RunCallback[] => {
          const seen: string[] = [];
          descriptors.set(`${String(start.context['run'])}/${String(descriptor.context['descriptor'])}`, seen);
          return [(e) => void seen.push(label(e))];
        };
        return [[(e) => void mine.push(label(e))], [perDescriptor]];
      },
    ]);
    const feed = [
      event('start', { run: 'a' }),
      event('start', { run: 'b' }),
      event('descriptor', { run: 'a', descriptor: 'primary' }),
      event('event', { run: 'a', descriptor: 'primary', n: 1 }),
      event('descriptor', { run: 'a', descriptor: 'baseline' }),
      event('event', { run: 'b', n: 1 }),
      event('event', { run: 'a', descriptor: 'baseline', n: 2 }),
      event('event', { run: 'a', descriptor: 'primary', n: 3 }),
      event('event', { run: 'a', descriptor: 'unknown', n: 4 }),
      event('stop', { run: 'a' }),
      event('stop', { run: 'b' }),
    ];
    for (const e of feed) router.route(e);
    assert.deepEqual(runs, [
      ['start:a', 'descriptor:a/primary', 'event:a/primary#1', 'descriptor:a/baseline', 'event:a/baseline#2', 'event:a/primary#3', 'event:a/unknown#4', 'stop:a'],
      ['start:b', 'event:b#1', 'stop:b'],
    ]);
    assert.deepEqual(Object.fromEntries(descriptors), {
      'a/primary': ['start:a', 'descriptor:a/primary', 'event:a/primary#1', 'event:a/primary#3', 'stop:a'],
      'a/baseline': ['start:a', 'descriptor:a/baseline', 'event:a/baseline#2', 'stop:a'],
    });
    assert.equal(router.openRuns, 0);
  });

  it('sends to orphan the events of runs whose start it did not see, or that stopped', () => {
    const orphans: string[] = [];
    const seen = new Map<unknown, string[]>();
    const router = new RunRouter([recording(seen)], { orphan: (e) => void orphans.push(label(e)) });
    for (const e of [
      event('event', { run: 'began-before', n: 1 }),
      event('stop', { run: 'began-before' }),
      event('start', { run: 'x' }),
      event('stop', { run: 'x' }),
      event('event', { run: 'x', n: 2 }),
      event('event', { n: 3 }),
      event('event', { run: { not: 'an id' }, n: 4 }),
    ]) router.route(e);
    assert.deepEqual(orphans, ['event:began-before#1', 'stop:began-before', 'event:x#2']);
    assert.deepEqual(seen.get('x'), ['start:x', 'stop:x'], 'events outside any run reach no one');
    assert.equal(router.route(null), undefined);
    assert.equal(router.route(new JournalEvent({})), undefined);
  });

  it('gives each of 10,000 interleaved runs exactly its own events, and keeps none of them once stopped', async () => {
    const RUNS = 10_000;
    const WIDTH = 64;
    const seen = new Map<unknown, string[]>();
    const alive: WeakRef<object>[] = [];
    const router = new RunRouter([
      recording(seen),
      (start) => {
        // A large object held by each run's callbacks: the collector shows when the router lets go of it.
        const state = { run: start.context['run'], buffer: new Array<number>(256).fill(0) };
        alive.push(new WeakRef(state));
        return [[(e) => void (state.buffer[0]! += e.seq ?? 0)], [() => [() => void state.buffer[1]!++]]];
      },
    ]);
    // A seeded shuffle: up to WIDTH runs open, each with a descriptor and 1-5 events.
    let seed = 42;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const expected = new Map<unknown, string[]>();
    const open: { id: string; left: number; n: number }[] = [];
    let started = 0;
    let maxOpen = 0;
    while (started < RUNS || open.length > 0) {
      if (started < RUNS && (open.length < WIDTH || random(2) === 0) && open.length < WIDTH) {
        const id = `r${started++}`;
        open.push({ id, left: 1 + random(5), n: 0 });
        for (const e of [event('start', { run: id }), event('descriptor', { run: id, descriptor: 'primary' })]) {
          expected.set(id, [...(expected.get(id) ?? []), label(e)]);
          router.route(e);
        }
      } else {
        const index = random(open.length);
        const run = open[index]!;
        const e = run.left-- > 0 ? event('event', { run: run.id, descriptor: 'primary', n: ++run.n }) : event('stop', { run: run.id });
        if (e.name === 'stop') open.splice(index, 1);
        expected.get(run.id)!.push(label(e));
        router.route(e);
      }
      maxOpen = Math.max(maxOpen, router.openRuns);
    }
    assert.equal(seen.size, RUNS);
    assert.deepEqual(seen, expected);
    assert.ok(maxOpen <= WIDTH, `${maxOpen} runs open at most`);
    assert.equal(router.openRuns, 0);
    // WeakRefs made in this job stay alive until it ends: collect in the next one.
    await new Promise<void>((resolve) => setImmediate(resolve));
    gc();
    const retained = alive.filter((ref) => ref.deref() !== undefined).length;
    assert.equal(retained, 0, `${retained} of ${RUNS} stopped runs are still held`);
    // The router is still in use here: what it holds is what it would hold on a long-lived consumer.
    router.route(event('start', { run: 'one-more' }));
    assert.equal(router.openRuns, 1);
  });

  it('evicts the least recently used run past maxOpenRuns, so runs that never stop cost bounded memory', async () => {
    const MAX = 100;
    const evicted: string[] = [];
    const orphans: string[] = [];
    const alive: WeakRef<object>[] = [];
    const seen = new Map<unknown, string[]>();
    const router = new RunRouter(
      [
        recording(seen),
        (start) => {
          const state = { buffer: new Array<number>(256).fill(0) };
          alive.push(new WeakRef(state));
          return [[() => void state.buffer[0]!++]];
        },
      ],
      { maxOpenRuns: MAX, onEvict: (start) => void evicted.push(String(start.context['run'])), orphan: (e) => void orphans.push(label(e)) },
    );
    let maxOpen = 0;
    for (let i = 0; i < 10_000; i++) {
      router.route(event('start', { run: `never-stops-${i}` }));
      // One run stays busy: least recently used is not oldest started.
      if (i === 0 || i % 50 === 0) router.route(event('event', { run: 'never-stops-0', n: i }));
      maxOpen = Math.max(maxOpen, router.openRuns);
    }
    assert.equal(maxOpen, MAX);
    assert.equal(evicted.length, 10_000 - MAX);
    assert.ok(!evicted.includes('never-stops-0'), 'the busy run is kept');
    assert.deepEqual(evicted.slice(0, 3), ['never-stops-1', 'never-stops-2', 'never-stops-3']);
    router.route(event('event', { run: 'never-stops-1', n: -1 }));
    assert.deepEqual(orphans, ['event:never-stops-1#-1'], 'an evicted run is an orphan from then on');
    router.route(event('stop', { run: 'never-stops-0' }));
    assert.ok(seen.get('never-stops-0')!.at(-1) === 'stop:never-stops-0');
    await new Promise<void>((resolve) => setImmediate(resolve));
    gc();
    const retained = alive.filter((ref) => ref.deref() !== undefined).length;
    assert.ok(retained <= MAX, `${retained} runs' callbacks still held; at most ${MAX} are open`);
    assert.equal(router.openRuns, MAX - 1, 'the router is still in use here');
  });

  it('treats run ids and event names that are object members as ordinary ids and names', () => {
    const seen = new Map<unknown, string[]>();
    const router = new RunRouter([recording(seen)]);
    for (const id of ['__proto__', 'constructor', 'toString', 'route']) {
      router.route(event('start', { run: id }));
      router.route(event('constructor', { run: id }));
      router.route(event('__proto__', { run: id }));
      router.route(event('stop', { run: id }));
    }
    assert.deepEqual([...seen.keys()], ['__proto__', 'constructor', 'toString', 'route']);
    for (const [id, events] of seen) assert.deepEqual(events, [`start:${String(id)}`, `constructor:${String(id)}`, `__proto__:${String(id)}`, `stop:${String(id)}`]);
    assert.equal(router.openRuns, 0);
    assert.equal(typeof router.route, 'function');
  });

  it('keeps at most maxDescriptors per run, and replaces a run started again with the same id', () => {
    const made: string[] = [];
    const got: string[] = [];
    const evicted: unknown[] = [];
    const router = new RunRouter(
      [() => [[], [(descriptor) => (made.push(String(descriptor.context['descriptor'])), [(e) => void got.push(label(e))])]]],
      { maxDescriptors: 2, onEvict: (start) => void evicted.push(start.seq) },
    );
    const first = event('start', { run: 'r' });
    router.route(first);
    for (const d of ['d1', 'd2', 'd3']) router.route(event('descriptor', { run: 'r', descriptor: d }));
    got.length = 0;
    for (const d of ['d1', 'd2', 'd3']) router.route(event('event', { run: 'r', descriptor: d }));
    assert.deepEqual(made, ['d1', 'd2', 'd3']);
    assert.deepEqual(got, ['event:r/d2', 'event:r/d3'], 'd1 was dropped for d3');
    router.route(event('start', { run: 'r' }));
    assert.deepEqual(evicted, [first.seq]);
    assert.equal(router.openRuns, 1);
  });

  it('awaits async callbacks one at a time, in order, and does not open a run whose factory throws', async () => {
    const order: string[] = [];
    const router = new RunRouter([
      () => [[async (e) => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        order.push(`a ${label(e)}`);
      }, (e) => void order.push(`b ${label(e)}`)]],
    ]);
    await router.route(event('start', { run: 1 }));
    await router.route(event('event', { run: 1, n: 1 }));
    assert.deepEqual(order, ['a start:1', 'b start:1', 'a event:1#1', 'b event:1#1']);
    const failing = new RunRouter([() => {
      throw new Error('factory failed');
    }], { orphan: (e) => void order.push(`orphan ${label(e)}`) });
    assert.throws(() => failing.route(event('start', { run: 2 })), /factory failed/);
    failing.route(event('event', { run: 2, n: 5 }));
    assert.equal(order.at(-1), 'orphan event:2#5');
    assert.throws(() => new RunRouter([() => 'nope' as never]).route(event('start', { run: 3 })), /must return \[callbacks, subfactories\?\]/);
  });

  it('rejects bad factories and options, naming them', () => {
    assert.throws(() => new RunRouter('x' as never), /factories must be an array of functions/);
    assert.throws(() => new RunRouter([1] as never), /factories must be an array of functions/);
    assert.throws(() => new RunRouter([], { key: '' }), /options\.key/);
    assert.throws(() => new RunRouter([], { maxOpenRuns: 0 }), RangeError);
    assert.throws(() => new RunRouter([], { orphan: 3 } as never), /options\.orphan must be a function/);
    assert.throws(() => new RunRouter([], { stopp: 'x' } as never), /options\.stopp is not a known option/);
  });

  it("routes runs appended by withRun, through a consumer's callback, with its own key and event names", async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer('runs');
    const summaries: string[] = [];
    const done = new Latch(3);
    const router = new RunRouter([
      (start) => {
        let events = 0;
        return [[(e) => {
          if (e.name === 'reading') events++;
          if (e.name === 'stop') {
            summaries.push(`${String(start.context['sample'])}: ${events} readings, ${String(e.context['exit_status'])}, num_events ${String(e.context['num_events'])}`);
            done.countDown();
          }
        }]];
      },
    ]);
    h.consumer('runs').setCallback(router.route).start();
    await producer.withRun({ sample: 'Fe' }, async (run) => {
      for (let n = 0; n < 3; n++) await run.append('reading', { n });
    });
    await assert.rejects(producer.withRun({ sample: 'Cu' }, async (run) => {
      await run.append('reading', { n: 0 });
      throw new Error('beam lost');
    }), /beam lost/);
    await producer.withRun({ sample: 'Au' }, () => undefined);
    await done.wait(5000, 'three run summaries');
    assert.deepEqual(summaries, ['Fe: 3 readings, success, num_events 3', 'Cu: 1 readings, fail, num_events 1', 'Au: 0 readings, success, num_events 0']);
    assert.equal(router.openRuns, 0);
  });
});
