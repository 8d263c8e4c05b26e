/**
 * The skip-summary reporter: a run with a skipped suite and a skipped test
 * ends by counting both and saying why, where node's own summary counts only
 * the test.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPORTER = fileURLToPath(new URL('./reporters/skip-summary.js', import.meta.url));

const FIXTURE = `
import { describe, it } from 'node:test';
describe('needs redis', { skip: 'Redis is not reachable' }, () => { it('runs', () => {}); });
it('runs here', () => {});
it('needs chromium', { skip: 'no Chromium found' }, () => {});
`;

it('counts skipped suites and tests at the end of the run, with their reasons', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wsjournal-skips-'));
  try {
    await writeFile(join(dir, 'fixture.test.mjs'), FIXTURE);
    const args = ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${REPORTER}`, '--test-reporter-destination=stdout', 'fixture.test.mjs'];
    // Without the variable that makes a nested run report to this one instead of printing.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: dir, env, timeout: 30_000 });
    const summary = stdout.slice(stdout.indexOf('ℹ skipped (tests and suites)'));
    assert.equal(
      summary,
      [
        'ℹ skipped (tests and suites): 2 (1 suite, 1 test)',
        '﹣ fixture.test.mjs: suite "needs redis" — Redis is not reachable',
        '﹣ fixture.test.mjs: "needs chromium" — no Chromium found',
        '',
      ].join('\n'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
