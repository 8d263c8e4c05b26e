/**
 * `wsjournal forward` as the built binary: handlers from --to or from WSJOURNAL_HANDLERS,
 * --no-follow, the refusal policy's exit status, and usage errors.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';
import { Harness, range, readAll } from './harness.js';
import { within } from './helpers.js';
import { WebhookReceiver } from './fixtures/webhook-receiver.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WSJOURNAL_TOKEN: '', WSJOURNAL_HANDLERS: '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return within(exited, 30_000, `wsjournal ${args.join(' ')}`).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
}

async function scratch(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wsjournal-cli-forward-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('wsjournal forward', () => {
  it('forwards the history to --to handlers with --no-follow, then exits 0, its checkpoint written', async (t) => {
    const h = await Harness.start(t);
    const dir = await scratch(t);
    for (let n = 1; n <= 25; n++) await h.server.append('jobs', 'job', { n });
    const ran = await cli(['forward', 'jobs', '--url', h.url, '--to', `file=${join(dir, 'a.jsonl')}`, '--to', 'stdout=text', '--checkpoint', join(dir, 'cp.json'), '--no-follow']);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stderr, /stopped after jobs:25/);
    const lines = (await readFile(join(dir, 'a.jsonl'), 'utf8')).trim().split('\n');
    assert.deepEqual(lines.map((line) => (JSON.parse(line) as { context: { n: number } }).context.n), range(1, 25));
    assert.equal(ran.stdout.trim().split('\n').length, 25);
    assert.match(ran.stdout.split('\n')[0]!, /^\d+\.\d{5} job n=1$/);
    assert.equal((JSON.parse(await readFile(join(dir, 'cp.json'), 'utf8')) as { seq: number }).seq, 25);
    // Again on the same checkpoint: nothing new, nothing sent twice.
    const again = await cli(['forward', 'jobs', '--url', h.url, '--to', `file=${join(dir, 'a.jsonl')}`, '--checkpoint', join(dir, 'cp.json'), '--no-follow']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await readFile(join(dir, 'a.jsonl'), 'utf8')).trim().split('\n').length, 25);
  });

  it('takes its handlers from WSJOURNAL_HANDLERS when there is no --to', async (t) => {
    const h = await Harness.start(t);
    const dir = await scratch(t);
    await h.server.append('jobs', 'job', { n: 1 });
    const ran = await cli(['forward', 'jobs', '--url', h.url, '--no-follow'], { WSJOURNAL_HANDLERS: `file=${join(dir, 'env.jsonl')}|stdout` });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal((JSON.parse(await readFile(join(dir, 'env.jsonl'), 'utf8')) as { seq: number }).seq, 1);
    assert.equal((JSON.parse(ran.stdout) as { seq: number }).seq, 1);
  });

  it('exits 1 when a webhook refuses an event for good, or goes on with --dead-letter', async (t) => {
    const h = await Harness.start(t);
    const receiver = await WebhookReceiver.start();
    t.after(() => receiver.close());
    for (let n = 1; n <= 5; n++) await h.server.append('jobs', 'job', { n });
    receiver.answer = (request) => (request.body['seq'] === 3 ? 403 : 200);
    const refused = await cli(['forward', 'jobs', '--url', h.url, '--to', `webhook=${receiver.url}`, '--no-follow']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /wsjournal forward: stopped: the webhook handler refused jobs:3 for good \(.*HTTP 403/);
    const dead = await cli(['forward', 'jobs', '--url', h.url, '--to', `webhook=${receiver.url}`, '--dead-letter', 'jobs.refused', '--no-follow']);
    assert.equal(dead.code, 0, dead.stderr);
    assert.match(dead.stderr, /recorded in jobs\.refused/);
    assert.deepEqual((await readAll(h.server.store, 'jobs.refused')).map((event) => (JSON.parse(event.json) as { context: { seq: number } }).context.seq), [3]);
  });

  it('stops with status 1 when the reader of its standard output goes away', async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer('jobs');
    for (let n = 0; n < 20; n++) await producer.appendMany(range(1, 500).map((i) => ({ name: 'job', context: { n: n * 500 + i } })));
    const child = spawn(process.execPath, [CLI, 'forward', 'jobs', '--url', h.url, '--to', 'stdout'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WSJOURNAL_TOKEN: '' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await within(new Promise<number | null>((resolve) => child.once('close', resolve)), 20_000, 'forward to stop').catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    assert.equal(code, 1, stderr);
    assert.match(stderr, /standard output is closed/);
  });

  it('refuses bad usage with status 2, and an unreachable server with status 1', async () => {
    const none = await cli(['forward', 'jobs']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no handler: give --to NAME=CONFIG \(file, webhook, stdout, journal\) or set \$WSJOURNAL_HANDLERS/);
    const unknown = await cli(['forward', 'jobs', '--to', 'carrier-pigeon=coop']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no handler is registered as "carrier-pigeon"/);
    const badUrl = await cli(['forward', 'jobs', '--to', 'webhook=nowhere']);
    assert.equal(badUrl.code, 2);
    const unreachable = await cli(['forward', 'jobs', '--to', 'stdout', '--url', 'ws://127.0.0.1:9']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot connect to ws:\/\/127\.0\.0\.1:9/);
  });
});
