/** Cleaning up the Redis keys a bench run wrote. */
import { Redis } from 'ioredis';
import { deleteKeys } from '../../test/fixtures/redis-keys.js';
import { REDIS_URL } from './services.js';

/** Deletes every key under `prefix`. */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await deleteKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
