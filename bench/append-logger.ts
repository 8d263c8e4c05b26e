/**
 * A JournalLogger logging as fast as it can: `chunk` events per turn of the
 * event loop (so that the buffer, `maxBuffered`, is not the limit), until
 * `total`, then `flush()`: events/s from the first call to the flush.
 * With `spool`, every event is written to the spool first; the time spent in
 * the logging calls alone, per event, is the cost of a spool write.
 */
import { JournalLogger } from '../src/index.js';
import { config, report, run } from './lib/ipc.js';

export interface LoggerConfig {
  total: number;
  warmup: number;
  chunk: number;
  spool?: string;
}

run(async () => {
  const { url, total, warmup, chunk, spool } = config<LoggerConfig & { url: string }>();
  const logger = new JournalLogger(url, 'bench-log', { source: 'bench', context: { node: 'n1', workflow_id: 'wf-1' }, ...(spool === undefined ? {} : { spool }) });
  const logRange = async (from: number, to: number): Promise<number> => {
    let callsMs = 0;
    for (let i = from; i < to; i += chunk) {
      const started = performance.now();
      for (let n = i; n < Math.min(to, i + chunk); n++) logger.info('step finished', { step: n, volume_ul: 50, plate: 'p7' });
      callsMs += performance.now() - started;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await logger.flush();
    return callsMs;
  };
  await logRange(total, total + warmup);
  const droppedBefore = logger.dropped;
  const started = performance.now();
  const callsMs = await logRange(0, total);
  const ms = performance.now() - started;
  // The timed events' drops (and the warning events, which are not counted in `total`).
  const dropped = logger.dropped - droppedBefore;
  await logger.close();
  await report({ type: 'result', events: total, ms, callsMs, dropped });
});
