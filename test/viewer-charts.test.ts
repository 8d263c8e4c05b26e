/**
 * The viewer's charts from the server's own report and spans routes, in
 * headless Chromium: events appended over five hours (a MemoryStore whose
 * clock the test moves) give five bars stacked by name, runs paired by
 * `context.run` give their utilization per hour, and the CSV downloaded is
 * the route's own CSV for the query shown.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe } from 'node:test';
import type { JournalServer } from '../server/journal-server.js';
import { MemoryStore } from '../server/memory-store.js';
import { browserIt, CHROMIUM_MISSING, launchChromium, type Browser } from './chromium.js';
import { startServer } from './helpers.js';

const HOUR = 3_600_000_000;
const WAIT = 15_000;

describe('the viewer’s charts from the report and spans routes', { timeout: 120_000 }, () => {
  let browser: Browser | undefined;
  let server: JournalServer | undefined;
  /** The first whole hour of the test's journal: five hours ago, in microseconds. */
  const first = (Math.floor(Date.now() / 3_600_000) - 5) * HOUR;
  let now = first;
  before(async () => {
    if (CHROMIUM_MISSING !== undefined) return;
    server = await startServer({ store: new MemoryStore({ clock: () => now }) });
    for (let hour = 0; hour < 5; hour++) {
      // In hour h: h + 1 submits and one finish, and run r<h> busy for its first quarter.
      now = first + hour * HOUR + 60_000_000;
      await server.store.append('lab', [
        ...Array.from({ length: hour + 1 }, () => ({ name: 'submit', context: {} })),
        { name: 'finish', context: {} },
        { name: 'start', context: { run: `r${hour}` } },
      ]);
      now = first + hour * HOUR + 60_000_000 + HOUR / 4;
      await server.store.append('lab', [{ name: 'stop', context: { run: `r${hour}` } }]);
    }
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  browserIt('draws one bar per hour stacked by name, the utilization of each run, and downloads the route’s CSV', async () => {
    const page = await browser!.context.newPage();
    page.setDefaultTimeout(WAIT);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    const base = server!.url.replace(/^ws/, 'http');
    await page.goto(`${base}/#/journal/lab/charts?kind=events&period=hour&tz=UTC&range=24h&by=name`);
    await page.getByTestId('chart-svg').waitFor();
    const bars = page.locator('[data-testid=chart-svg] g.bar');
    assert.equal(await bars.count(), 5, 'one bar per hour with events');
    const totals = await bars.evaluateAll((gs) => gs.map((g) => Number(g.getAttribute('data-total'))));
    // Each hour: its submits, a finish, a start, a stop.
    assert.deepEqual(totals, [4, 5, 6, 7, 8]);
    assert.deepEqual(new Set(await page.locator('.legend li').allTextContents()), new Set(['submit', 'finish', 'start', 'stop']));

    const download = page.waitForEvent('download');
    await page.getByTestId('csv').click();
    const file = await download;
    const saved = await readFile((await file.path())!, 'utf8');
    assert.match(saved, /^start,end,group,count\r?\n/);
    assert.equal(saved.trim().split(/\r?\n/).length, 1 + 5 * 4, 'the header and a row per hour and name');

    await page.getByLabel('Chart', { exact: true }).selectOption('utilization');
    await page.getByLabel('Key', { exact: true }).fill('context.run');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByTestId('chart-status').filter({ hasText: 'periods shown' }).waitFor();
    await page.locator('figcaption', { hasText: 'Utilization per hour by context.run' }).waitFor();
    const utilization = await page.locator('[data-testid=chart-svg] rect title').allTextContents();
    assert.equal(utilization.length, 5, 'one bar per run');
    for (const text of utilization) assert.match(text, /: 25%$/, 'each run busy a quarter of its hour');
    assert.deepEqual(problems, []);
    await page.close();
  });
});
