/**
 * A laboratory component that logs with a JournalLogger: a liquid handler
 * running the steps of a workflow, with the workflow and the node bound to
 * every event, a warning, and an exception with its cause. Logging never
 * throws and never waits: when the server goes away, events wait in the
 * spool directory on disk (or, without --spool, in memory), and are sent in
 * order once it is back. Restart the server while it runs to see it.
 *
 * Run (after `npm run build`, with `npm start` serving in another terminal):
 *
 *   WSJOURNAL_URL=ws://127.0.0.1:7707 node dist/examples/lab-logger.js [JOURNAL] [--steps N] [--interval SECONDS] [--spool DIR]
 *
 * JOURNAL defaults to "lab"; --steps 10; --interval 0.5 seconds between steps.
 * Follow it with `node dist/cli/main.js tail lab`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
// In your own project: import { JournalLogger } from 'wsjournal';
import { JournalLogger } from '../src/index.js';

const { values, positionals } = parseArgs({
  options: { steps: { type: 'string' }, interval: { type: 'string' }, spool: { type: 'string' } },
  allowPositionals: true,
});
const url = process.env.WSJOURNAL_URL ?? 'ws://127.0.0.1:7707';
const journal = positionals[0] ?? 'lab';
const steps = Number(values.steps ?? 10);
const interval = Number(values.interval ?? 0.5);
if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`--steps must be an integer >= 1, got ${values.steps}`);
if (!(interval >= 0)) throw new RangeError(`--interval must be a number >= 0, got ${values.interval}`);

// One logger per component. `source` names it in every event; `spool` keeps
// events on disk until the server has them, across outages and crashes.
const logger = new JournalLogger(url, journal, {
  source: 'liquid-handler',
  level: 'debug',
  console: process.env.LAB_LOGGER_CONSOLE === 'pretty' ? 'pretty' : false,
  ...(values.spool === undefined ? {} : { spool: values.spool }),
});
// Failures the logging calls never throw (a refused event, a spool that cannot be written).
logger.on('error', (error) => console.error(`lab-logger: ${error.code}: ${error.message}`));

// bind() returns a logger whose events also carry this context.
const workflow = logger.bind({ workflow_id: `wf-${process.pid}`, node: 'ot2-deck-1' });
workflow.info('workflow started', { steps });

for (let step = 1; step <= steps; step++) {
  const log = workflow.bind({ step });
  log.info('step started', { action: step % 2 === 1 ? 'aspirate' : 'dispense', volume_ul: 10 * step });
  if (step === 3) log.warning('tip rack low', { tips_left: 4 });
  if (step === 4) {
    // exception() logs at error, with the error's name, message, stack and cause chain.
    const cause = Object.assign(new Error('gripper timeout'), { code: 'E_GRIP' });
    log.exception('plate move failed, retrying', new Error('cannot move plate to deck 2', { cause }));
  }
  await sleep(interval * 1000);
  log.debug('step finished');
  console.log(`step ${step} done`);
}
workflow.info('workflow finished', { steps });

// close() waits (5 s at most) for the server to acknowledge what is left;
// with a spool, whatever is still unsent stays there for the next run.
await logger.close();
console.log(`lab-logger: done, ${logger.dropped} events dropped`);
