/**
 * One client of the forward scenario, timed from `start()` to its last event:
 * - `replay`: an EventLogConsumer (callback, `bufferHistory: false`) counting events: the baseline;
 * - `router`: the same consumer with a RunRouter as its callback (a factory per run, a
 *   sub-factory per descriptor, each counting): what routing by run adds;
 * - `forward`: a Forwarder to the `file` handler, with a checkpoint file, until every
 *   event is in the file (its position reaches the last seq).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventLogConsumer, FileHandler, Forwarder, RunRouter, type JournalEvent } from '../src/index.js';
import { cpuMs } from './lib/cpu.js';
import { config, report, run } from './lib/ipc.js';
import { RssSampler } from './lib/rss.js';
import { StallWatchdog } from './lib/watchdog.js';

interface ForwardClientConfig {
  url: string;
  journal: string;
  count: number;
  mode: 'replay' | 'router' | 'forward';
  /** Where `forward` writes its file and checkpoint. */
  dir: string;
}

run(async () => {
  const { url, journal, count, mode, dir } = config<ForwardClientConfig>();
  const rss = new RssSampler();
  let received = 0;
  let routed = 0;
  let done!: () => void;
  let fail!: (error: Error) => void;
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  const watchdog = new StallWatchdog(() => received, (events) => fail(new Error(`stalled after ${events} of ${count} events`)), 10_000);
  const started = performance.now();
  const cpu = process.cpuUsage();
  let stop: () => Promise<void>;
  if (mode === 'forward') {
    const file = join(dir, `forward-${process.pid}.jsonl`);
    const forwarder = new Forwarder(url, journal, { handlers: [new FileHandler(file)], checkpoint: join(dir, `forward-${process.pid}.checkpoint.json`) });
    forwarder.on('error', fail);
    forwarder.on('forwarded', (position) => {
      received = position.seq;
      if (position.seq === count) done();
    });
    forwarder.start();
    stop = async () => {
      await forwarder.close();
      const lines = readFileSync(file, 'utf8').split('\n').length - 1;
      if (lines !== count) throw new Error(`the file holds ${lines} lines, not ${count}`);
    };
  } else {
    const consumer = new EventLogConsumer(url, journal, { bufferHistory: false });
    consumer.on('error', fail);
    const count1 = (): void => void routed++;
    const router = new RunRouter([() => [[count1], [() => [count1]]]]);
    const deliver = mode === 'router' ? router.route : () => undefined;
    consumer.setCallback((event: JournalEvent | null) => {
      if (event === null) return;
      deliver(event);
      if (++received === count) done();
    });
    consumer.start();
    stop = async () => {
      consumer.stop();
      if (mode === 'router' && routed === 0) throw new Error('the router delivered nothing');
    };
  }
  await finished;
  const ms = performance.now() - started;
  const clientCpuMs = cpuMs(cpu);
  watchdog.stop();
  await stop();
  await report({ type: 'result', events: count, ms, cpuMs: clientCpuMs, rssMaxMB: rss.maxMB });
});
