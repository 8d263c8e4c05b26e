/** The admin HTTP routes (/v1/admin/…) and `wsjournal trim | backup`, and `wsjournal tail`'s warning on a truncated history. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCode } from '../src/errors.js';
import { LmdbStore } from '../server/lmdb-store.js';
import { MemoryStore } from '../server/memory-store.js';
import { startServer } from './helpers.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const LIMIT = { timeout: 60_000 };

function wsjournal(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, WSJOURNAL_TOKEN: '' }, timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('admin routes', () => {
  it('trim and backup over HTTP, zod-checked, behind the token when the server has tokens', LIMIT, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-admin-'));
    const store = new LmdbStore({ path: join(dir, 'data') });
    const server = await startServer({ store, tokens: ['secret'] });
    t.after(async () => {
      await server.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    await store.append('j', Array.from({ length: 30 }, () => ({ name: 'e' })));
    const base = server.url.replace('ws://', 'http://');
    const call = async (method: string, path: string, body?: unknown, token: string | null = 'secret') => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { ...(token === null ? {} : { Authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    };
    for (const [method, path, body] of [
      ['POST', '/v1/admin/journals/j/trim', { beforeSeq: 5 }],
      ['POST', '/v1/admin/backup', { dir: join(dir, 'copy') }],
      ['GET', '/v1/admin/backup', undefined],
    ] as const) {
      const refused = await call(method, path, body, null);
      assert.equal(refused.status, 401, `${method} ${path} without a token`);
      assert.equal((await call(method, path, body, 'wrong')).status, 401);
    }
    assert.deepEqual(await call('POST', '/v1/admin/journals/j/trim', { beforeSeq: 11 }), { status: 200, body: { trimmed: 10 } });
    for (const bad of [{}, { beforeSeq: -1 }, { beforeSeq: 'x' }, { before: 1, other: 2 }]) {
      const refused = await call('POST', '/v1/admin/journals/j/trim', bad);
      assert.equal(refused.status, 400, JSON.stringify(bad));
      assert.equal(refused.body['error'].code, ErrorCode.BAD_REQUEST);
    }
    assert.equal((await call('POST', '/v1/admin/journals/bad%20name/trim', { beforeSeq: 1 })).status, 400);
    assert.deepEqual((await call('GET', '/v1/admin/backup')).body, { state: 'idle' });
    const done = await call('POST', '/v1/admin/backup', { dir: join(dir, 'copy') });
    assert.equal(done.status, 200);
    assert.equal(done.body['state'], 'done');
    assert.equal((await call('GET', '/v1/admin/backup')).body['state'], 'done');
    const again = await call('POST', '/v1/admin/backup', { dir: join(dir, 'copy') });
    assert.equal(again.status, 409);
    assert.equal(again.body['error'].code, ErrorCode.BACKUP_REFUSED);
  });

  it('every admin route needs the admin scope on every journal: 403 FORBIDDEN for any other token, nothing done', LIMIT, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-admin-scopes-'));
    const store = new LmdbStore({ path: join(dir, 'data') });
    const server = await startServer({
      store,
      dataDir: dir,
      tokens: { reader: ['read'], appender: ['append', 'read'], 'lab-admin': ['admin:j*'], admin: ['admin'] },
    });
    t.after(async () => {
      await server.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    await store.append('j', Array.from({ length: 30 }, () => ({ name: 'e' })));
    const base = server.url.replace('ws://', 'http://');
    const routes = [
      ['POST', '/v1/admin/journals/j/trim', { beforeSeq: 5 }],
      ['POST', '/v1/admin/journals/j/archive', { beforeSeq: 5 }],
      ['POST', '/v1/admin/archives/purge', { olderThan: 0 }],
      ['GET', '/v1/admin/archives', undefined],
      ['POST', '/v1/admin/backup', { dir: join(dir, 'copy') }],
      ['GET', '/v1/admin/backup', undefined],
    ] as const;
    for (const token of ['reader', 'appender', 'lab-admin']) {
      for (const [method, path, body] of routes) {
        const response = await fetch(`${base}${path}`, {
          method,
          headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        assert.equal(response.status, 403, `${token}: ${method} ${path}`);
        assert.equal(((await response.json()) as { error: { code: string } }).error.code, ErrorCode.FORBIDDEN);
      }
    }
    // Nothing was trimmed, archived or backed up by the refused calls.
    assert.equal((await store.start('j')).first.seq, 1);
    for (const [method, path, body] of routes) {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: 'Bearer admin', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      assert.equal(response.status, 200, `admin: ${method} ${path}: ${await response.text()}`);
    }
  });

  it('a store without backups answers 501 BACKUP_UNSUPPORTED', LIMIT, async (t) => {
    const server = await startServer({ store: new MemoryStore() });
    t.after(() => server.close());
    const response = await fetch(`${server.url.replace('ws://', 'http://')}/v1/admin/backup`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ dir: '/nonexistent/x' }),
    });
    assert.equal(response.status, 501);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, ErrorCode.BACKUP_UNSUPPORTED);
  });
});

describe('wsjournal trim, backup and tail', () => {
  it('trims, backs up, and tail warns on stderr when history was removed', LIMIT, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-admin-cli-'));
    const store = new LmdbStore({ path: join(dir, 'data') });
    const server = await startServer({ store });
    t.after(async () => {
      await server.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    await store.append('j', Array.from({ length: 30 }, (_, i) => ({ name: 'e', context: { i } })));
    assert.deepEqual(await wsjournal(['trim', 'j', '--before-seq', '21', '--url', server.url]), { code: 0, stdout: 'trimmed 20\n', stderr: '' });
    assert.equal((await wsjournal(['trim', 'j', '--url', server.url])).code, 2);
    const tail = await wsjournal(['tail', 'j', '--no-follow', '--url', server.url]);
    assert.equal(tail.code, 0);
    assert.equal(tail.stdout.split('\n').length - 1, 10);
    assert.match(tail.stderr, /^wsjournal tail: warning: events were removed by retention; going on from seq 21 \(/);
    const backup = await wsjournal(['backup', '--to', join(dir, 'copy'), '--url', server.url]);
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal(JSON.parse(backup.stdout).state, 'done');
    const status = await wsjournal(['backup', '--status', '--url', server.url]);
    assert.equal(JSON.parse(status.stdout).state, 'done');
    const copy = new LmdbStore({ path: join(dir, 'copy') });
    try {
      assert.deepEqual((await copy.readFromSeq('j', 1, 100)).map((event) => event.seq), Array.from({ length: 10 }, (_, i) => 21 + i));
    } finally {
      await copy.close();
    }
  });
});

describe('wsjournal backup --timeout', () => {
  it('gives up on a server that does not answer within it (exit 1), and refuses a value that is not a positive number (exit 2)', LIMIT, async (t) => {
    // Accepts each request and never answers it.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      silent.closeAllConnections();
      return new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const { port } = silent.address() as AddressInfo;
    const result = await wsjournal(['backup', '--to', '/nonexistent/copy', '--url', `ws://127.0.0.1:${port}`, '--timeout', '0.2']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /took longer than 0\.2 s/);
    for (const bad of ['0', '-1', 'soon', '']) {
      const refused = await wsjournal(['backup', '--status', '--url', `ws://127.0.0.1:${port}`, '--timeout', bad]);
      assert.equal(refused.code, 2, `--timeout ${JSON.stringify(bad)}: ${refused.stderr}`);
      assert.match(refused.stderr, /--timeout/);
    }
  });
});

describe('wsjournal archive, export --archived and purge', () => {
  it('archives, exports the archives then the store without a gap or a repeat, and purges', LIMIT, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-archive-cli-'));
    const store = new LmdbStore({ path: join(dir, 'data') });
    const server = await startServer({ store, dataDir: dir });
    t.after(async () => {
      await server.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    await store.append('j', Array.from({ length: 2500 }, (_, i) => ({ name: 'e', context: { i } })));
    assert.deepEqual(await wsjournal(['archive', 'j', '--before-seq', '2001', '--url', server.url]), { code: 0, stdout: 'archived 2000\n', stderr: '' });
    const exported = await wsjournal(['export', 'j', '--archived', '--url', server.url]);
    assert.equal(exported.code, 0, exported.stderr);
    const seqs = exported.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq);
    assert.deepEqual(seqs, Array.from({ length: 2500 }, (_, i) => i + 1));
    const plain = await wsjournal(['export', 'j', '--url', server.url]);
    assert.equal(plain.stdout.trim().split('\n').length, 500);
    assert.deepEqual(await wsjournal(['purge', '--older-than', '1000000000', '--url', server.url]), { code: 0, stdout: 'purged 0\n', stderr: '' });
    assert.deepEqual(await wsjournal(['purge', '--older-than', '0', '--url', server.url]), { code: 0, stdout: 'purged 1\n', stderr: '' });
    assert.equal((await wsjournal(['purge', '--url', server.url])).code, 2);
  });
});
