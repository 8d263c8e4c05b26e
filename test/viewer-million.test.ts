/**
 * The viewer on a journal of 1,000,000 events stays responsive and bounded:
 * it opens on the newest events, then a scripted scroll back through several
 * pages, a jump to the middle by seq, a filter by name (matching one event in
 * a thousand) and a jump to the first events each complete within 20 s, no
 * task holds the page's main thread for more than 1 s, the page holds at most
 * its window of events (5,000 and the line) and draws fewer than 150 rows.
 * The bounds are wide on purpose (a shared, loaded machine); the figures are
 * printed as the test runs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import type { Page } from 'playwright-core';
import type { JournalServer } from '../server/journal-server.js';
import { LmdbStore } from '../server/lmdb-store.js';
import { browserIt, CHROMIUM_MISSING, launchChromium, type Browser } from './chromium.js';
import { startServer } from './helpers.js';

const EVENTS = 1_000_000;
const BATCH = 10_000;
/** One event in this many is named `rare`. */
const RARE_EVERY = 1000;
/** Each scripted step must complete within this, ms. */
const STEP_BOUND = 20_000;
/** No task may hold the page's main thread longer than this, ms. */
const LONG_TASK_BOUND = 1000;
/** Most events the page holds: its window (JournalFeed's default), and the line. */
const WINDOW_BOUND = 5001;
/** Most rows in the DOM at once. */
const DRAWN_BOUND = 150;

interface Figures {
  [step: string]: number;
}

async function populate(server: JournalServer): Promise<void> {
  for (let start = 1; start <= EVENTS; start += BATCH) {
    const batch = [];
    for (let n = start; n < start + BATCH; n++) {
      batch.push({ name: n % RARE_EVERY === 0 ? 'rare' : 'submit', context: { id: `f${n}`, userid: 1000 + (n % 13), n } });
    }
    await server.store.append('million', batch);
  }
}

/** Runs `step`, then waits for `done`, and returns how long both took, ms. */
async function timed(figures: Figures, name: string, step: () => Promise<unknown>, done: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  await step();
  await done();
  const ms = Math.round(performance.now() - started);
  figures[name] = ms;
  console.log(`viewer, ${EVENTS.toLocaleString('en-US')} events: ${name} in ${ms} ms`);
  assert.ok(ms <= STEP_BOUND, `${name} took ${ms} ms, more than ${STEP_BOUND} ms`);
}

/** How many events the page holds, and how many rows it draws. */
async function footprint(page: Page): Promise<{ held: number; drawn: number }> {
  const list = page.getByTestId('event-list');
  const held = Number(await list.getAttribute('data-rows'));
  const drawn = await list.locator('[role=option]').count();
  return { held, drawn };
}

describe('the viewer on a million-event journal', { timeout: 600_000 }, () => {
  let browser: Browser | undefined;
  let server: JournalServer | undefined;
  let store: LmdbStore | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'wsjournal-viewer-million-'));
  before(async () => {
    if (CHROMIUM_MISSING !== undefined) return;
    // The embedded store keeps the million events on disk, not in this process's heap.
    store = new LmdbStore({ path: dataDir });
    server = await startServer({ store });
    const started = performance.now();
    await populate(server);
    console.log(`viewer: ${EVENTS.toLocaleString('en-US')} events appended in ${Math.round(performance.now() - started)} ms`);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  browserIt('opens, scrolls back, jumps, filters and goes to the start, each within the bound, in bounded memory', async () => {
    const page = await browser!.context.newPage();
    page.setDefaultTimeout(STEP_BOUND);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    // Long tasks are recorded from the first script on (a test hook, not the page's own script).
    await page.addInitScript(() => {
      const record = globalThis as unknown as { longestTask: number };
      record.longestTask = 0;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) record.longestTask = Math.max(record.longestTask, entry.duration);
      }).observe({ type: 'longtask', buffered: true });
    });
    const figures: Figures = {};
    const base = `${server!.url.replace(/^ws/, 'http')}/`;
    const list = page.getByTestId('event-list');
    const info = page.getByTestId('window-info');

    await timed(
      figures,
      'open on the newest events',
      () => page.goto(`${base}#/journal/million`),
      () => page.getByTestId('end-of-history').waitFor(),
    );
    assert.match((await info.textContent()) ?? '', new RegExp(`–${EVENTS} held`));

    // Scroll back: each wheel turn near the top fetches the page before.
    await timed(
      figures,
      'scroll back 6,000 events',
      async () => {
        await list.hover();
        for (let turn = 0; turn < 400; turn++) {
          await page.mouse.wheel(0, -2000);
          const first = Number(/^Seq (\d+)/.exec((await info.textContent()) ?? '')?.[1]);
          if (first <= EVENTS - 6000) break;
        }
      },
      () => page.waitForFunction((bound) => Number(/^Seq (\d+)/.exec(document.querySelector('[data-testid=window-info]')?.textContent ?? '')?.[1]) <= bound, EVENTS - 6000),
    );

    const scrolled = await footprint(page);
    assert.ok(scrolled.held <= WINDOW_BOUND, `${scrolled.held} rows held after scrolling back`);
    assert.ok(scrolled.drawn <= DRAWN_BOUND, `${scrolled.drawn} rows drawn after scrolling back`);

    await timed(
      figures,
      'jump to seq 500,000',
      async () => {
        await page.getByLabel('Go to seq or time').fill('500000');
        await page.getByRole('button', { name: 'Go' }).click();
      },
      () => page.locator('[data-seq="500000"]').waitFor(),
    );
    assert.equal(await page.locator('[data-seq="500000"]').getAttribute('aria-selected'), 'true');

    await timed(
      figures,
      'filter to one event in a thousand',
      async () => {
        await page.getByLabel('Names').fill('rare');
        await page.getByRole('button', { name: 'Apply' }).click();
      },
      () => page.getByTestId('feed-status').filter({ hasText: 'following live events' }).waitFor(),
    );
    const names = new Set(await list.locator('.row[data-seq] .name').allTextContents());
    assert.deepEqual(names, new Set(['rare']));
    assert.match((await info.textContent()) ?? '', new RegExp(`–${EVENTS} held`));

    await timed(
      figures,
      'first events of the filter',
      () => page.getByRole('button', { name: 'First events' }).click(),
      () => page.locator(`[data-seq="${RARE_EVERY}"]`).waitFor(),
    );

    const { held, drawn } = await footprint(page);
    const longest = await page.evaluate(() => (globalThis as unknown as { longestTask: number }).longestTask);
    const heap = await page.evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0);
    console.log(`viewer: longest task ${Math.round(longest)} ms, ${held} rows held, ${drawn} drawn, JS heap ${(heap / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(longest <= LONG_TASK_BOUND, `a task held the main thread ${Math.round(longest)} ms`);
    assert.ok(held <= WINDOW_BOUND, `${held} rows held`);
    assert.ok(drawn <= DRAWN_BOUND, `${drawn} rows drawn`);
    assert.deepEqual(problems, []);
    await page.close();
  });
});
