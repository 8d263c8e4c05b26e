/**
 * One wsjournal EventLogConsumer replaying `count` historical events through a
 * callback. Times from `start()` to the last event and samples its own RSS.
 */
import { EventLogConsumer } from '../src/index.js';
import { JOURNAL } from './lib/events.js';
import { cpuMs } from './lib/cpu.js';
import { config, report, run } from './lib/ipc.js';
import { RssSampler } from './lib/rss.js';
import { StallWatchdog } from './lib/watchdog.js';

interface ReplayConsumerConfig {
  url: string;
  count: number;
  bufferHistory: boolean;
}

run(async () => {
  const { url, count, bufferHistory } = config<ReplayConsumerConfig>();
  const rss = new RssSampler();
  const rssBefore = rss.maxMB;
  let received = 0;
  let lastSeq = 0;
  const consumer = new EventLogConsumer(url, JOURNAL, { bufferHistory });
  const started = performance.now();
  const cpu = process.cpuUsage();
  let watchdog: StallWatchdog | undefined;
  // With bufferHistory nothing is delivered before the sentinel: allow for the whole history at 100,000 events/s.
  const stallMs = bufferHistory ? Math.max(5_000, count / 100) : 5_000;
  await new Promise<void>((resolve, reject) => {
    consumer.on('error', reject);
    watchdog = new StallWatchdog(
      () => received,
      (events) => reject(new Error(`stalled: no event for ${stallMs / 1000} s after ${events} of ${count} events`)),
      stallMs,
    );
    consumer.setCallback((event) => {
      if (event === null) return;
      received++;
      if (event.seq !== lastSeq + 1) reject(new Error(`seq ${event.seq} after ${lastSeq}`));
      lastSeq = event.seq ?? lastSeq;
      if (received === count) resolve();
    });
    consumer.start();
  });
  const ms = performance.now() - started;
  const clientCpuMs = cpuMs(cpu);
  watchdog?.stop();
  consumer.stop();
  await report({ type: 'result', events: received, ms, cpuMs: clientCpuMs, rssMaxMB: rss.maxMB, rssStartMB: rssBefore });
});
