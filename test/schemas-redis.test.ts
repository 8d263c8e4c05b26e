/**
 * Schemas on a shared store: what one server registers on Redis, every server on the same
 * Redis validates against, also after both restart. Skips with the reason when Redis is not
 * reachable, unless WSJOURNAL_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { JournalServer } from '../server/journal-server.js';
import { RedisStore } from '../server/redis-store.js';
import { ErrorCode, JournalError } from '../src/errors.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalProducer } from '../src/journal-producer.js';
import { pollMany } from './helpers.js';
import { REDIS_URL, withRedis } from './redis-available.js';

const PREFIX = `wsjournal-test:${randomUUID()}:`;
const SCHEMA = { $id: 'urn:test:redis', version: 1, properties: { n: { type: 'integer' } }, required: ['n'] };
const REF = { id: 'urn:test:redis', version: 1 };

await withRedis('schemas on RedisStore', 'test/schemas-redis.test.ts', () => {
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
  admin.on('error', () => {});
  after(async () => {
    const keys = await admin.keys(`${PREFIX}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  describe('schemas on RedisStore', () => {
    it('are seen, and enforced, by a second server on the same Redis, and kept across restarts', { timeout: 60_000 }, async (t) => {
      const open = async () => {
        const store = new RedisStore({ url: REDIS_URL, prefix: PREFIX });
        const server = new JournalServer({ port: 0, store });
        await server.listen();
        return { store, server };
      };
      const a = await open();
      const b = await open();
      const producers: JournalProducer[] = [];
      t.after(async () => {
        await Promise.allSettled(producers.map((producer) => producer.close()));
        for (const { server, store } of [a, b]) {
          await server.close();
          await store.close();
        }
      });
      const onA = new JournalProducer(a.server.url, 'shared');
      const onB = new JournalProducer(b.server.url, 'shared');
      producers.push(onA, onB);
      assert.deepEqual(await onA.registerSchema(SCHEMA), { ...REF, created: true });
      assert.deepEqual(await onB.registerSchema(SCHEMA), { ...REF, created: false });
      await assert.rejects(onB.registerSchema({ ...SCHEMA, title: 'other' }), (error: JournalError) => error.code === ErrorCode.SCHEMA_CONFLICT);
      assert.deepEqual((await onB.listSchemas()).schemas, [SCHEMA]);
      await onB.append('n', { n: 1 }, { schema: REF });
      await assert.rejects(onB.append('n', { n: 'one' }, { schema: REF }), (error: JournalError) => error.code === ErrorCode.SCHEMA_VIOLATION);
      const consumer = new EventLogConsumer(a.server.url, 'shared').start();
      t.after(() => consumer.stop());
      const [event] = await pollMany(consumer, 1);
      assert.deepEqual(event!.schema, REF);

      await b.server.close();
      await b.store.close();
      const restarted = await open();
      t.after(async () => {
        await restarted.server.close();
        await restarted.store.close();
      });
      assert.deepEqual((await restarted.server.listSchemas()).schemas, [SCHEMA]);
      await restarted.server.append('shared', 'n', { n: 2 }, { schema: REF });
      await assert.rejects(restarted.server.append('shared', 'n', {}, { schema: REF }), (error: JournalError) => error.code === ErrorCode.SCHEMA_VIOLATION);
    });
  });
});
