/**
 * ioredis stays out of a server that does not use Redis, and loading it leaves
 * `String.prototype` with fast properties (server/load-ioredis.ts says why
 * that matters). V8's `%HasFastProperties` needs `--allow-natives-syntax`,
 * so each check runs in a child process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const LIMIT = { timeout: 30_000 };
const run = promisify(execFile);

/** Runs `body` (an ES module) with natives syntax; returns what it printed, trimmed. */
async function probe(body: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', body], {
    env: { ...process.env, SERVER_MODULE: new URL('../server/index.js', import.meta.url).href },
  });
  return stdout.trim();
}

describe('ioredis', () => {
  it('is not loaded by importing the server, and String.prototype stays fast', LIMIT, async () => {
    const printed = await probe(`
      import { createRequire } from 'node:module';
      await import(process.env.SERVER_MODULE);
      const loaded = Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('/ioredis/'));
      console.log(JSON.stringify({ loaded, fast: %HasFastProperties(String.prototype) }));
    `);
    assert.deepEqual(JSON.parse(printed), { loaded: false, fast: true });
  });

  it('is loaded by the first RedisStore, after which String.prototype is fast again', LIMIT, async () => {
    // The store connects lazily in the background; no Redis server is needed to make one.
    const printed = await probe(`
      const { RedisStore } = await import(process.env.SERVER_MODULE);
      const store = new RedisStore({ url: 'redis://127.0.0.1:1', timeout: 0.2 });
      const fast = %HasFastProperties(String.prototype);
      await store.close();
      console.log(JSON.stringify({ fast }));
    `);
    assert.deepEqual(JSON.parse(printed), { fast: true });
  });

  it('left alone, would leave String.prototype slow (the check above can fail)', LIMIT, async () => {
    const printed = await probe(`
      import { createRequire } from 'node:module';
      createRequire(process.env.SERVER_MODULE)('ioredis');
      console.log(JSON.stringify({ fast: %HasFastProperties(String.prototype) }));
    `);
    assert.deepEqual(JSON.parse(printed), { fast: false });
  });
});
