/**
 * A `node --test` reporter that ends the run with what was skipped and why.
 * node's own summary counts skipped tests but not skipped suites (a
 * `describe` with `skip`, as the Redis and browser suites are when their
 * service is missing), so a run without Redis would otherwise say
 * "skipped 0". Used next to the spec reporter by `npm test`:
 *
 *   node --test --test-reporter=spec --test-reporter-destination=stdout \
 *     --test-reporter=./dist/test/reporters/skip-summary.js --test-reporter-destination=stdout …
 */
import { relative } from 'node:path';

interface TestData {
  name: string;
  file?: string;
  skip?: string | boolean;
  details?: { type?: string };
}

interface ReporterEvent {
  type: string;
  data: TestData;
}

/** The lines printed at the end: one count, then each skipped suite or test with its reason. */
export function skipSummary(skipped: TestData[]): string {
  if (skipped.length === 0) return 'ℹ skipped (tests and suites): 0\n';
  const suites = skipped.filter((data) => data.details?.type === 'suite').length;
  const tests = skipped.length - suites;
  const lines = [`ℹ skipped (tests and suites): ${skipped.length} (${suites} suite${suites === 1 ? '' : 's'}, ${tests} test${tests === 1 ? '' : 's'})`];
  for (const data of skipped) {
    const where = data.file === undefined ? '' : `${relative(process.cwd(), data.file)}: `;
    const why = typeof data.skip === 'string' && data.skip !== '' ? ` — ${data.skip}` : '';
    lines.push(`﹣ ${where}${data.details?.type === 'suite' ? 'suite ' : ''}"${data.name}"${why}`);
  }
  return `${lines.join('\n')}\n`;
}

export default async function* reporter(source: AsyncIterable<ReporterEvent>): AsyncGenerator<string> {
  const skipped: TestData[] = [];
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.skip !== undefined && event.data.skip !== false) {
      skipped.push(event.data);
    }
  }
  yield skipSummary(skipped);
}
