/**
 * The forward scenario: a Forwarder to the `file` handler over a history of bench events,
 * against a plain replay of the same events in the same run (bar: at least 50,000 events/s);
 * and a RunRouter over a history of runs, against a plain replay of those events (bar: at
 * most 25% more time). Server and client in separate processes; runs interleaved, the best
 * of each counts.
 */
import { BenchProcess, stopAll } from './lib/child.js';
import { JOURNAL } from './lib/events.js';
import { round } from './lib/results.js';
import { log, rate, tempDir, type ScenarioContext } from './lib/scenario.js';

const RUNS_JOURNAL = 'bench-runs';

interface ClientResult {
  type: 'result';
  events: number;
  ms: number;
  cpuMs: number;
  rssMaxMB: number;
}

type Mode = 'replay' | 'router' | 'forward';

export async function forward(context: ScenarioContext): Promise<void> {
  const count = context.quick ? 100_000 : 1_000_000;
  const reps = context.quick ? 1 : 3;
  const { recorder } = context;
  const data = tempDir('forward');
  const out = tempDir('forward-out');
  try {
    log(`forward: populating the LmdbStore with ${count} bench events and ${count} events of runs`);
    const populate = new BenchProcess('forward-populate', { path: data.path, count });
    await populate.next('populated', 600_000);
    await populate.stop();

    const results: Record<string, ClientResult[]> = { replay: [], forward: [], replayRuns: [], router: [] };
    const once = async (journal: string, mode: Mode): Promise<ClientResult> => {
      const server = new BenchProcess('journal-server', { store: 'lmdb', path: data.path });
      let client: BenchProcess | undefined;
      try {
        const { url } = await server.next<{ type: 'listening'; url: string }>('listening');
        client = new BenchProcess('forward-client', { url, journal, count, mode, dir: out.path }, { execArgv: context.profileArgv(`forward-${mode}`) });
        const result = await client.next<ClientResult>('result', 600_000);
        return result;
      } finally {
        await stopAll([client, server]);
      }
    };
    for (let rep = 1; rep <= reps; rep++) {
      log(`forward: run ${rep}/${reps}: replay and forward to a file; replay of runs with and without a RunRouter`);
      results['replay']!.push(await once(JOURNAL, 'replay'));
      results['forward']!.push(await once(JOURNAL, 'forward'));
      results['replayRuns']!.push(await once(RUNS_JOURNAL, 'replay'));
      results['router']!.push(await once(RUNS_JOURNAL, 'router'));
    }
    const best = (list: ClientResult[]) => list.reduce((a, b) => (b.ms < a.ms ? b : a));
    const summary = (list: ClientResult[]) => ({
      eventsPerSec: rate(count, best(list).ms),
      runs: list.map((result) => rate(count, result.ms)),
      cpuUsPerEvent: round(Math.min(...list.map((result) => (result.cpuMs * 1000) / count)), 2),
      rssMaxMB: Math.max(...list.map((result) => result.rssMaxMB)),
    });
    const replay = summary(results['replay']!);
    const forwarded = summary(results['forward']!);
    recorder.record({ scenario: 'forward/replay-baseline', events: count, ...replay });
    recorder.record({
      scenario: 'forward/wsjournal-lmdb/file-handler',
      events: count,
      ...forwarded,
      baseline: replay.eventsPerSec,
      ratio: round(forwarded.eventsPerSec / replay.eventsPerSec),
      bar: '>= 50000 events/s',
      pass: forwarded.eventsPerSec >= 50_000,
    });
    const plainRuns = best(results['replayRuns']!);
    const routed = best(results['router']!);
    const added = round(routed.ms / plainRuns.ms - 1);
    const routedSummary = summary(results['router']!);
    const plainCpu = summary(results['replayRuns']!).cpuUsPerEvent;
    recorder.record({
      scenario: 'forward/run-router-replay',
      events: count,
      ...routedSummary,
      baseline: rate(count, plainRuns.ms),
      baselineName: 'the same replay of runs without a router',
      baselineCpuUsPerEvent: plainCpu,
      // Client CPU per event is steadier than wall time while other work loads the machine.
      addedCpu: round(routedSummary.cpuUsPerEvent / plainCpu - 1),
      addedTime: added,
      bar: '<= 0.25 added replay time',
      pass: added <= 0.25,
    });
  } finally {
    data.remove();
    out.remove();
  }
}
