/**
 * The bench orchestrator: `npm run bench [-- --quick] [-- --only replay,live,append] [-- --profile]`.
 * Runs each scenario with the server and clients in separate processes, prints
 * one JSON line per result to stdout and appends it to bench/results/.
 *
 * --quick    smaller counts, the whole run under a minute
 * --only     a comma-separated subset of: replay, live, append, schema, query, forward, report,
 *            retention, attacks (attacks runs only when named)
 * --before-cli PATH  attacks: also run every attack against the server of this CLI (another
 *            build's dist/cli/main.js), in the same run, before this build's
 * --attacks NAMES    attacks: a comma-separated subset of the attacks (test/fixtures/attack-kit.ts)
 * --query-events N  the query scenario's journal size (default 1,000,000; quick 100,000)
 * --report-events N the report scenario's journal size (default 1,000,000; quick 100,000)
 * --wsjournal-only  only wsjournal on the embedded store and its baselines (no
 *            Socket.IO, NATS, Redis): for comparing a library change quickly
 * --profile  --cpu-prof on the wsjournal server and client processes (of the replay
 *            unless --only says otherwise); the replay then skips the other systems.
 *            Prints each role's top functions (see bench/profile.ts).
 */
import { parseArgs } from 'node:util';
import { append } from './append.js';
import { attacks } from './attacks.js';
import { forward } from './forward.js';
import { live } from './live.js';
import { log, type ScenarioContext } from './lib/scenario.js';
import { Recorder } from './lib/results.js';
import { natsReason, redisReason } from './lib/services.js';
import { profileDir, summarizeProfiles } from './profile.js';
import { query } from './query.js';
import { replay } from './replay.js';
import { reportScenario } from './report.js';
import { retention } from './retention.js';
import { schema } from './schema.js';

const SCENARIOS = { replay, live, append, schema, query, forward, report: reportScenario, retention, attacks } as const;
/** Scenarios run only when `--only` names them. */
const ON_REQUEST: ReadonlySet<string> = new Set(['attacks']);
type ScenarioName = keyof typeof SCENARIOS;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'wsjournal-only': { type: 'boolean', default: false },
    'query-events': { type: 'string' },
    'report-events': { type: 'string' },
    'before-cli': { type: 'string' },
    attacks: { type: 'string' },
  },
});
const queryEvents = values['query-events'] === undefined ? undefined : Number(values['query-events']);
if (queryEvents !== undefined && !(Number.isInteger(queryEvents) && queryEvents > 0)) throw new RangeError('--query-events must be a positive integer');
const reportEvents = values['report-events'] === undefined ? undefined : Number(values['report-events']);
if (reportEvents !== undefined && !(Number.isInteger(reportEvents) && reportEvents > 0)) throw new RangeError('--report-events must be a positive integer');

const names = (values.only?.split(',') ?? (values.profile ? ['replay'] : Object.keys(SCENARIOS).filter((name) => !ON_REQUEST.has(name)))).map((name) => name.trim());
for (const name of names) {
  if (!(name in SCENARIOS)) throw new RangeError(`--only: unknown scenario "${name}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
}

const started = performance.now();
const recorder = new Recorder(values.quick, values.profile);
const profiles = values.profile ? profileDir() : undefined;
const context: ScenarioContext = {
  quick: values.quick,
  recorder,
  others: !values['wsjournal-only'] && !values.profile,
  profileArgv: (role) => (profiles === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profiles}/${role}`]),
  redisReason: values['wsjournal-only'] ? 'not asked for' : await redisReason(),
  natsReason: values['wsjournal-only'] ? 'not asked for' : await natsReason(),
};
if (context.others && context.redisReason !== undefined) log(`Redis parts will be skipped: ${context.redisReason}`);
if (context.others && context.natsReason !== undefined) log(`NATS parts will be skipped: ${context.natsReason}`);

for (const name of names as ScenarioName[]) {
  if (name === 'query') await query(context, queryEvents);
  else if (name === 'report') await reportScenario(context, reportEvents);
  else if (name === 'attacks') await attacks(context, { beforeCli: values['before-cli'], only: values.attacks?.split(',').map((attack) => attack.trim()) });
  else await SCENARIOS[name](context);
}
if (profiles !== undefined) summarizeProfiles(profiles);
log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s; results appended to ${recorder.file}`);
