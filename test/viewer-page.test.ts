/**
 * The viewer in headless Chromium against a real server on port 0: the
 * journal list refreshed live, a journal followed through history, the
 * end-of-history line and live events appended from Node, filters by name
 * and selector applied on the server, an event's JSON and its schema, a refused token,
 * keyboard use and a narrow window; the charts, with the report and spans
 * routes answered by the test in the browser. Each page must run without a
 * script error or a Content-Security-Policy violation. Screenshots of the
 * list, a journal and the charts go to `screenshots/` (git-ignored).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe } from 'node:test';
import type { Page } from 'playwright-core';
import type { JournalServer } from '../server/journal-server.js';
import { browserIt, CHROMIUM_MISSING, launchChromium, type Browser } from './chromium.js';
import { startServer } from './helpers.js';

/** Where the test run writes its screenshots. */
export const SCREENSHOTS = new URL('../../screenshots/', import.meta.url);
/** How long a page may take to show what the test waits for, ms: generous, for a loaded machine. */
const WAIT = 15_000;

/** A page on `server` that records script errors and CSP violations. */
async function open(browser: Browser, server: JournalServer, path: string): Promise<Page & { problems: string[] }> {
  const page = (await browser.context.newPage()) as Page & { problems: string[] };
  page.problems = [];
  page.on('pageerror', (error) => page.problems.push(`script error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) page.problems.push(`CSP: ${message.text()}`);
  });
  page.setDefaultTimeout(WAIT);
  await page.goto(`${server.url.replace(/^ws/, 'http')}${path}`);
  return page;
}

function noProblems(page: Page & { problems: string[] }): void {
  assert.deepEqual(page.problems, [], 'no script error and no CSP violation');
}

/** The rows the list draws, in order: seqs, and 'line' for the end-of-history line. */
function drawnRows(page: Page): Promise<(number | 'line')[]> {
  return page.$$eval('[data-testid=event-list] [role=option]', (rows) =>
    rows.map((row) => ((row as HTMLElement).dataset['seq'] !== undefined ? Number((row as HTMLElement).dataset['seq']) : 'line')),
  );
}

/** Waits until the list draws exactly `expected` (seqs and 'line'), failing with what it drew. */
async function drawn(page: Page, expected: (number | 'line')[]): Promise<void> {
  try {
    await page.waitForFunction(
      (want) =>
        JSON.stringify(
          Array.from(document.querySelectorAll('[data-testid=event-list] [role=option]')).map((row) =>
            (row as HTMLElement).dataset['seq'] !== undefined ? Number((row as HTMLElement).dataset['seq']) : 'line',
          ),
        ) === want,
      JSON.stringify(expected),
    );
  } catch (error) {
    assert.deepEqual(await drawnRows(page), expected, (error as Error).message);
  }
}

/** Waits until the list draws a row for `seq`. */
function rowFor(page: Page, seq: number): Promise<unknown> {
  return page.locator(`[data-testid=event-list] [data-seq="${seq}"]`).waitFor();
}

function shot(page: Page, name: string): Promise<Buffer> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return page.screenshot({ path: new URL(name, SCREENSHOTS).pathname });
}

async function appendMany(server: JournalServer, journal: string, events: { name: string; context?: Record<string, unknown> }[]): Promise<void> {
  await server.store.append(
    journal,
    events.map((event) => ({ name: event.name, context: event.context ?? {} })),
  );
}

describe('the viewer in headless Chromium', { timeout: 180_000 }, () => {
  let browser: Browser | undefined;
  const servers: JournalServer[] = [];
  before(async () => {
    if (CHROMIUM_MISSING === undefined) browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    for (const server of servers) await server.close();
  });
  const serve = async (options: Parameters<typeof startServer>[0] = {}) => {
    const server = await startServer(options);
    servers.push(server);
    return server;
  };

  browserIt('lists the journals with their heads and last events, and refreshes them live', async () => {
    const server = await serve();
    await appendMany(server, 'jobs', Array.from({ length: 42 }, (_, i) => ({ name: 'submit', context: { id: i } })));
    await appendMany(server, 'logs', [{ name: 'log', context: { level: 'info', message: 'hello' } }]);
    const page = await open(browser!, server, '/');
    const table = page.getByTestId('journal-table');
    await table.waitFor();
    assert.deepEqual(await table.locator('tbody th').allTextContents(), ['jobs', 'logs']);
    assert.deepEqual(await table.locator('[data-testid=head-seq]').allTextContents(), ['42', '1']);
    // Live: the list refreshes every 2 s; wait for the new head, then for a few rates measured while events come.
    await appendMany(server, 'jobs', Array.from({ length: 8 }, () => ({ name: 'submit' })));
    await page.locator('tr[data-journal=jobs] [data-testid=head-seq]', { hasText: '50' }).waitFor();
    let tick = 0;
    const writer = setInterval(() => void appendMany(server, 'jobs', Array.from({ length: 1 + (tick++ % 7) }, () => ({ name: 'submit' }))), 100);
    try {
      await page.waitForFunction(() => Number(document.querySelector('tr[data-journal=jobs] .sparkline')?.getAttribute('data-samples')) >= 4);
    } finally {
      clearInterval(writer);
    }
    assert.match((await page.locator('tr[data-journal=jobs] .rate-value').textContent()) ?? '', /^[\d.,]+\/s$/);
    await shot(page, 'journals.png');
    await page.getByRole('link', { name: 'jobs' }).click();
    await page.getByRole('heading', { name: 'jobs', level: 1 }).waitFor();
    assert.match(page.url(), /#\/journal\/jobs$/);
    noProblems(page);
    await page.close();
  });

  browserIt('follows a journal through its history, the end-of-history line, then live events appended from Node', async () => {
    const server = await serve();
    await appendMany(server, 'flow', Array.from({ length: 30 }, (_, i) => ({ name: i % 2 ? 'start' : 'submit', context: { id: `f${i}`, n: i + 1 } })));
    const page = await open(browser!, server, '/#/journal/flow');
    await page.getByTestId('end-of-history').waitFor();
    await page.getByTestId('feed-status').filter({ hasText: 'following live events' }).waitFor();
    assert.match((await page.getByTestId('window-info').textContent()) ?? '', /^Seq 1–30 held \(30 events\), from the first event, up to the newest/);
    let rows = await drawnRows(page);
    assert.deepEqual(rows.slice(-3), [29, 30, 'line'], 'the line follows the last historical event');
    for (const [i, n] of [31, 32, 33].entries()) await server.append('flow', 'live', { n, i });
    await rowFor(page, 33);
    rows = await drawnRows(page);
    assert.deepEqual(rows.slice(-6), [29, 30, 'line', 31, 32, 33], 'live events come after the line, in order');
    const bottom = await page.getByTestId('event-list').evaluate((list) => list.scrollHeight - list.scrollTop - list.clientHeight);
    assert.ok(bottom <= 1, `the list follows the bottom (${bottom} px from it)`);
    await page.locator('[data-seq="31"]').click();
    await page.getByTestId('event-detail').waitFor();
    await shot(page, 'journal.png');
    noProblems(page);
    await page.close();
  });

  browserIt('pauses: live events wait, counted, until resumed', async () => {
    const server = await serve();
    await appendMany(server, 'p', [{ name: 'first' }]);
    const page = await open(browser!, server, '/#/journal/p');
    await page.getByTestId('end-of-history').waitFor();
    await page.getByTestId('pause').click();
    await page.locator('[data-testid=pause][aria-pressed=true]').waitFor();
    for (let i = 0; i < 3; i++) await server.append('p', 'while-paused', { i });
    await page.getByTestId('to-end').filter({ hasText: '3 new' }).waitFor();
    assert.deepEqual(await drawnRows(page), [1, 'line'], 'nothing added while paused');
    await page.getByTestId('pause').click();
    await rowFor(page, 4);
    assert.deepEqual(await drawnRows(page), [1, 'line', 2, 3, 4]);
    noProblems(page);
    await page.close();
  });

  browserIt('filters by name and by selector on the server, also live, and shows a refused selector', async () => {
    const server = await serve();
    await appendMany(server, 'mix', Array.from({ length: 40 }, (_, i) => ({ name: i % 2 ? 'b' : 'a', context: { n: i + 1 } })));
    const page = await open(browser!, server, '/#/journal/mix');
    await page.getByTestId('end-of-history').waitFor();
    await page.getByLabel('Names').fill('b');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/names=b/);
    // The even seqs are the b events; the 20 of them and the line fit in the rows drawn.
    await drawn(page, [...Array.from({ length: 20 }, (_, i) => 2 * i + 2), 'line']);
    const names = await page.locator('[data-testid=event-list] .row[data-seq] .name').allTextContents();
    assert.deepEqual(new Set(names), new Set(['b']));
    assert.match((await page.getByTestId('window-info').textContent()) ?? '', /\(20 events\)/);

    await page.getByLabel('Names').fill('');
    await page.getByLabel('Selector').fill('{"context.n": {"$gte": 35}}');
    await page.getByLabel('Selector').press('Enter');
    await page.waitForURL(/where=/);
    await drawn(page, [35, 36, 37, 38, 39, 40, 'line']);
    // The live subscription carries the selector too.
    await server.append('mix', 'a', { n: 1 });
    await server.append('mix', 'a', { n: 99 });
    await drawn(page, [35, 36, 37, 38, 39, 40, 'line', 42]);

    await page.getByLabel('Selector').fill('{"context.n": {"$near": 1}}');
    await page.getByLabel('Selector').press('Enter');
    const error = page.getByTestId('filter-error');
    await error.filter({ hasText: '$near' }).waitFor();
    assert.equal(await page.getByLabel('Selector').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Selector').fill('{"context.n": ');
    await page.getByRole('button', { name: 'Apply' }).click();
    await error.filter({ hasText: 'not JSON' }).waitFor();
    noProblems(page);
    await page.close();
  });

  browserIt('shows an event’s JSON on a click, as the server holds it', async () => {
    const server = await serve();
    await appendMany(server, 'detail', [
      { name: 'submit', context: { id: 'f1', text: 'é✓', nested: { list: [1, 2, { deep: true }] } } },
      { name: 'finish', context: {} },
    ]);
    const page = await open(browser!, server, '/#/journal/detail');
    await rowFor(page, 1);
    await page.locator('[data-seq="1"]').click();
    const json = JSON.parse((await page.getByTestId('event-json').textContent())!) as unknown;
    const fromServer = (await (await fetch(`${server.url.replace(/^ws/, 'http')}/v1/journals/detail/events/1`)).json()) as unknown;
    assert.deepEqual(json, fromServer);
    assert.equal(await page.getByTestId('event-schema').textContent(), 'none');
    assert.equal(await page.getByTestId('schema-json').count(), 0, 'no schema shown for an event without one');
    assert.equal(await page.locator('[data-seq="1"]').getAttribute('aria-selected'), 'true');
    noProblems(page);
    await page.close();
  });

  browserIt('shows the schema an event names, first and later versions', async () => {
    const server = await serve({ tokens: ['t'] });
    const job = (version: number, required: string[]) => ({
      $id: 'urn:example:job',
      version,
      type: 'object',
      properties: { id: { type: 'string' }, userid: { type: 'integer' } },
      required,
    });
    // Other schemas around it in the registry's order, so that finding it means paging.
    await server.registerSchema({ $id: 'urn:example:alpha', version: 1, type: 'object', properties: {} });
    await server.registerSchema(job(1, ['id']));
    await server.registerSchema(job(2, ['id', 'userid']));
    await server.registerSchema({ $id: 'urn:example:zulu', version: 1, type: 'object', properties: {} });
    await server.append('typed', 'submit', { id: 'a' }, { schema: { id: 'urn:example:job', version: 1 } });
    await server.append('typed', 'submit', { id: 'b', userid: 7 }, { schema: { id: 'urn:example:job', version: 2 } });
    await server.append('typed', 'plain', {});
    const page = await open(browser!, server, '/?token=t#/journal/typed');
    for (const version of [1, 2]) {
      await page.locator(`[data-seq="${version}"]`).click();
      await page.getByTestId('event-schema').filter({ hasText: `urn:example:job, version ${version}` }).waitFor();
      const body = page.getByTestId('schema-json');
      await body.filter({ hasText: `"version": ${version}` }).waitFor();
      assert.deepEqual(JSON.parse((await body.textContent())!), job(version, version === 1 ? ['id'] : ['id', 'userid']));
      const json = JSON.parse((await page.getByTestId('event-json').textContent())!) as { schema?: unknown };
      assert.deepEqual(json.schema, { id: 'urn:example:job', version });
    }
    await page.locator('[data-seq="3"]').click();
    await page.getByTestId('event-schema').filter({ hasText: 'none' }).waitFor();
    assert.equal(await page.getByTestId('schema-json').count(), 0);
    noProblems(page);
    await page.close();
  });

  browserIt('draws a report as stacked bars per period and spans as utilization per key, and downloads the CSV of what is shown (the routes answered by the test)', async () => {
    const server = await serve();
    await appendMany(server, 'lab', [{ name: 'start', context: { run: 'r1' } }]);
    const page = (await browser!.context.newPage()) as Page & { problems: string[] };
    page.problems = [];
    page.on('pageerror', (error) => page.problems.push(`script error: ${error.message}`));
    page.setDefaultTimeout(WAIT);
    const hour = (h: number) => new Date(Date.UTC(2025, 5, 1, h)).toISOString();
    const groups: [string, number][] = [
      ['submit', 40],
      ['start', 25],
      ['finish', 20],
    ];
    const reportRows = Array.from({ length: 6 }, (_, h) => groups.map(([group, base]) => ({ start: hour(8 + h), end: hour(9 + h), group, count: base + h }))).flat();
    const spanRows = Array.from({ length: 4 }, (_, h) =>
      ['r1', 'r2'].map((key, k) => ({ start: hour(8 + h), end: hour(9 + h), key, spans: 1, busySeconds: 900 * (h + k), utilization: (h + k) / 4 })),
    ).flat();
    const csv = 'start,end,group,count\r\n' + reportRows.map((row) => `${row.start},${row.end},${row.group},${row.count}`).join('\r\n') + '\r\n';
    const asked: URL[] = [];
    await page.route(/\/v1\/journals\/lab\/(report|spans)\?/, (route) => {
      const url = new URL(route.request().url());
      asked.push(url);
      if (url.searchParams.get('format') === 'csv') return route.fulfill({ status: 200, contentType: 'text/csv; charset=utf-8', body: csv });
      const rows = url.pathname.endsWith('/report') ? reportRows : spanRows;
      return route.fulfill({ status: 200, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ rows }) });
    });
    await page.goto(`${server.url.replace(/^ws/, 'http')}/#/journal/lab/charts?kind=events&period=hour&tz=UTC&range=24h&by=name`);
    const bars = page.locator('[data-testid=chart-svg] g.bar');
    await page.getByTestId('chart-svg').waitFor();
    assert.equal(await bars.count(), 6, 'one bar per period');
    assert.deepEqual(
      await bars.evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-start'), Number(g.getAttribute('data-total')), g.querySelectorAll('rect').length])),
      Array.from({ length: 6 }, (_, h) => [hour(8 + h), 85 + 3 * h, 3]),
      'each bar stacks its three groups to the period’s total',
    );
    assert.deepEqual(await page.locator('.legend li').allTextContents(), ['submit', 'start', 'finish']);
    const report = asked.at(-1)!;
    assert.equal(report.pathname, '/v1/journals/lab/report');
    assert.deepEqual(
      ['period', 'tz', 'by', 'format'].map((key) => report.searchParams.get(key)),
      ['hour', 'UTC', 'name', 'json'],
    );
    const span = Date.parse(report.searchParams.get('to')!) - Date.parse(report.searchParams.get('from')!);
    assert.equal(span, 86_400_000, 'the last 24 hours, as ISO times');
    await shot(page, 'charts.png');

    const download = page.waitForEvent('download');
    await page.getByTestId('csv').click();
    const file = await download;
    assert.equal(asked.at(-1)!.searchParams.get('format'), 'csv', 'the same query, as CSV');
    assert.equal(asked.at(-1)!.searchParams.get('by'), 'name');
    assert.equal(file.suggestedFilename(), 'lab-report-hour.csv');
    const { readFile } = await import('node:fs/promises');
    assert.equal(await readFile((await file.path())!, 'utf8'), csv, 'the server’s CSV, as it sent it');

    await page.getByLabel('Chart', { exact: true }).selectOption('utilization');
    await page.getByLabel('Period', { exact: true }).selectOption('day');
    await page.getByLabel('Time zone', { exact: true }).fill('Europe/Paris');
    await page.getByLabel('Key', { exact: true }).fill('context.run');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByTestId('chart-status').filter({ hasText: '4 periods shown' }).waitFor();
    const spans = asked.at(-1)!;
    assert.equal(spans.pathname, '/v1/journals/lab/spans');
    assert.deepEqual(
      ['period', 'tz', 'start', 'stop', 'key'].map((key) => spans.searchParams.get(key)),
      ['day', 'Europe/Paris', 'start', 'stop', 'context.run'],
    );
    assert.equal(await bars.count(), 4);
    assert.equal(await page.locator('[data-testid=chart-svg] .tick text').last().textContent(), '100%', 'utilization is drawn against 100%');
    await page.getByLabel('Time zone', { exact: true }).fill('Mars/Olympus');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByText('is not a time zone this browser knows').waitFor();
    noProblems(page);
    await page.close();
  });

  browserIt('says on the page that a token was refused, and opens the journals with a good one kept for the tab', async () => {
    const server = await serve({ tokens: ['good-token'] });
    await appendMany(server, 'secret', [{ name: 'x' }]);
    const page = await open(browser!, server, '/?token=wrong-token#/');
    const message = page.getByTestId('auth-message');
    await message.waitFor();
    assert.match((await message.textContent()) ?? '', /refused/i);
    await page.getByRole('heading', { name: 'The server refused the token' }).waitFor();
    assert.doesNotMatch(page.url(), /token=/, 'the token is taken out of the address');
    await page.getByLabel('Token', { exact: true }).fill('good-token');
    await page.getByRole('button', { name: 'Use this token' }).click();
    await page.getByTestId('journal-table').waitFor();
    // Kept for the tab: a reload still reads, and the journal's WebSocket gets it too.
    await page.reload();
    await page.getByRole('link', { name: 'secret' }).click();
    await rowFor(page, 1);
    await page.getByTestId('end-of-history').waitFor();
    // A tab without a token is asked for one.
    const fresh = await open(browser!, server, '/#/');
    await fresh.getByRole('heading', { name: 'This server needs a token' }).waitFor();
    noProblems(page);
    noProblems(fresh);
    await page.close();
    await fresh.close();
  });

  browserIt('works with the keyboard, names every control, and fits a narrow window', async () => {
    const server = await serve();
    await appendMany(server, 'keys', Array.from({ length: 50 }, (_, i) => ({ name: 'tick', context: { i } })));
    const page = await open(browser!, server, '/#/journal/keys');
    await page.getByTestId('end-of-history').waitFor();
    const unnamed = await page.evaluate(() =>
      Array.from(document.querySelectorAll('input, select, textarea, button'))
        .filter((element) => {
          const control = element as HTMLInputElement;
          const name = control.labels?.[0]?.textContent?.trim() || control.getAttribute('aria-label') || (element.tagName === 'BUTTON' ? element.textContent?.trim() : '');
          return !name;
        })
        .map((element) => element.outerHTML.slice(0, 80)),
    );
    assert.deepEqual(unnamed, [], 'every control has a name');
    assert.equal(await page.getByRole('listbox').getAttribute('aria-label'), 'Events of keys');
    await page.getByRole('listbox').focus();
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    const active = await page.getByRole('listbox').getAttribute('aria-activedescendant');
    assert.match(active ?? '', /^event-\d+$/, 'arrows move the active row');
    await page.keyboard.press('Enter');
    const heading = page.getByTestId('event-detail').getByRole('heading', { level: 2 });
    await heading.waitFor();
    assert.equal(await heading.textContent(), `Event ${active!.slice('event-'.length)}: tick`);
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H2', 'the details take the focus');
    await page.keyboard.press('Escape');
    await page.getByTestId('event-detail').waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('role')), 'listbox', 'Escape returns to the list');
    await page.keyboard.press('Home');
    await rowFor(page, 1);
    await page.setViewportSize({ width: 380, height: 740 });
    await page.getByTestId('end-of-history').waitFor({ state: 'attached' }).catch(() => undefined);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `nothing wider than a narrow window (${overflow} px too wide)`);
    await shot(page, 'journal-narrow.png');
    noProblems(page);
    await page.close();
  });
});
