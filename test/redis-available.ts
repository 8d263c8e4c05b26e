/**
 * Tests that need Redis: they run when it answers, skip with the printed
 * reason when it does not, and fail instead when WSJOURNAL_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env['WSJOURNAL_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** Why Redis cannot be used, or undefined when it can. */
async function unreachable(url: string): Promise<string | undefined> {
  const redis = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 2000 });
  let cause: Error | undefined;
  redis.on('error', (error: Error) => (cause ??= error));
  try {
    await redis.connect();
    const info = await redis.info('server');
    const version = /redis_version:(\d+)/.exec(info)?.[1];
    if (Number(version) < 7) return `Redis at ${url} is version ${version}; RedisStore needs 7 or later`;
    return undefined;
  } catch (error) {
    return `Redis is not reachable at ${url}: ${(cause ?? (error as Error)).message}`;
  } finally {
    redis.disconnect();
  }
}

/** Calls `register` (which declares the suite) if Redis answers; otherwise skips or fails `name`, saying why. */
export async function withRedis(name: string, file: string, register: () => void): Promise<void> {
  const reason = await unreachable(REDIS_URL);
  if (reason === undefined) {
    register();
  } else if (process.env['WSJOURNAL_REQUIRE_SERVICES'] === '1') {
    describe(name, () => {
      it('needs Redis (WSJOURNAL_REQUIRE_SERVICES=1)', () => assert.fail(reason));
    });
  } else {
    console.log(`# skipping ${file}: ${reason}`);
    describe(name, { skip: reason }, () => {
      it('runs against a real Redis', () => {});
    });
  }
}
