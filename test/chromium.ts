/**
 * Tests in headless Chromium (Debian's `chromium`, or `WSJOURNAL_CHROMIUM`),
 * driven by playwright-core with the system browser: nothing is downloaded,
 * and the browser is told not to reach any network of its own. Without
 * Chromium each such test is skipped with the reason (counted as skipped),
 * and fails instead under WSJOURNAL_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { chromium, type BrowserContext, type BrowserContextOptions } from 'playwright-core';

/** The browser's path, or undefined when none is installed. */
export const CHROMIUM_PATH = [process.env['WSJOURNAL_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(
  (path) => path !== undefined && path !== '' && existsSync(path),
);

/** Why browser tests cannot run here, or undefined when they can. */
export const CHROMIUM_MISSING = CHROMIUM_PATH === undefined ? 'no Chromium found (set WSJOURNAL_CHROMIUM, or apt-get install chromium)' : undefined;

const REQUIRED = process.env['WSJOURNAL_REQUIRE_SERVICES'] === '1';

/** Flags for a closed machine: no network of the browser's own, no GPU, no sandbox (root in CI). */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  readonly context: BrowserContext;
  /** Closes the browser and removes its profile. Idempotent. */
  close(): Promise<void>;
}

/** Starts headless Chromium on a fresh profile. */
export async function launchChromium(options: BrowserContextOptions = {}): Promise<Browser> {
  assert.ok(CHROMIUM_PATH !== undefined, CHROMIUM_MISSING);
  const profile = mkdtempSync(join(tmpdir(), 'wsjournal-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ARGS,
      viewport: { width: 1200, height: 800 },
      ...options,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    context,
    close() {
      closing ??= context.close().finally(() => rmSync(profile, { recursive: true, force: true }));
      return closing;
    },
  };
}

let announced = false;

/**
 * `it` for a test that needs Chromium: runs it when Chromium is there;
 * otherwise skips it with the reason, or fails it under
 * WSJOURNAL_REQUIRE_SERVICES=1.
 */
export function browserIt(name: string, fn: () => Promise<void>, options: { timeout?: number } = {}): void {
  if (CHROMIUM_MISSING === undefined) {
    it(name, options, fn);
  } else if (REQUIRED) {
    it(name, () => assert.fail(`${CHROMIUM_MISSING} (WSJOURNAL_REQUIRE_SERVICES=1)`));
  } else {
    if (!announced) console.log(`# skipping browser tests: ${CHROMIUM_MISSING}`);
    announced = true;
    it(name, { skip: CHROMIUM_MISSING }, fn);
  }
}
