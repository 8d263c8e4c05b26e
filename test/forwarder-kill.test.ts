/**
 * A forwarder killed with SIGKILL mid-stream and started again (SPEC section 8): `wsjournal
 * forward` in a child process posts a journal to a local webhook receiver, is killed while
 * a request is in flight, and is restarted on the same checkpoint while live events are
 * appended. The receiver sees every event, in order, and its idempotency keys show each
 * stored once; the restart goes on from the checkpoint.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Harness, range } from './harness.js';
import { within } from './helpers.js';
import { WebhookReceiver } from './fixtures/webhook-receiver.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const J = 'kill';

function forward(url: string, receiver: WebhookReceiver, checkpoint: string): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, 'forward', J, '--url', url, '--to', `webhook=${receiver.url}`, '--checkpoint', checkpoint], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, WSJOURNAL_TOKEN: '' },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, stderr: () => stderr };
}

describe('a forwarder killed mid-stream', () => {
  it('delivers every event after SIGKILL and a restart, in order, each stored once, going on from its checkpoint', { timeout: 120_000 }, async (t) => {
    const h = await Harness.start(t);
    const receiver = await WebhookReceiver.start();
    t.after(() => receiver.close());
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-forward-kill-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const checkpoint = join(dir, 'checkpoint.json');
    const HISTORY = 3000;
    const LIVE = 500;
    const producer = h.producer(J);
    for (let n = 1; n <= HISTORY; n += 500) {
      await producer.appendMany(range(n, n + 499).map((i) => ({ name: 'job', context: { n: i } })));
    }

    const first = forward(h.url, receiver, checkpoint);
    t.after(() => void first.child.kill('SIGKILL'));
    // Killed while the request for seq 2000 waits for its answer: mid-stream, one event in flight.
    receiver.answer = (request) => {
      if (request.body['seq'] === 2000 && first.child.exitCode === null && first.child.signalCode === null) {
        first.child.kill('SIGKILL');
        return 'hang';
      }
      return 200;
    };
    const killed = await within(first.exited, 60_000, `the first forwarder to reach seq 2000; stderr: ${first.stderr()}`);
    assert.equal(killed.signal, 'SIGKILL');
    const saved = existsSync(checkpoint) ? (JSON.parse(readFileSync(checkpoint, 'utf8')) as { seq: number }) : undefined;
    assert.ok((saved?.seq ?? 0) < 2000, 'the checkpoint is behind the event in flight');
    const beforeRestart = receiver.requests.length;
    const storedBeforeRestart = receiver.stored.length;
    assert.ok(storedBeforeRestart >= 1999 && storedBeforeRestart < HISTORY, `killed mid-stream (${storedBeforeRestart} stored)`);

    const second = forward(h.url, receiver, checkpoint);
    t.after(() => void second.child.kill('SIGKILL'));
    await receiver.changed.until(() => receiver.stored.length >= 2500, 60_000, 'the restarted forwarder to deliver');
    for (let n = HISTORY + 1; n <= HISTORY + LIVE; n += 50) {
      await producer.appendMany(range(n, n + 49).map((i) => ({ name: 'job', context: { n: i } })));
    }
    await receiver.changed.until(() => receiver.stored.length === HISTORY + LIVE, 60_000, `all ${HISTORY + LIVE} events at the receiver; stderr: ${second.stderr()}`);
    second.child.kill('SIGTERM');
    const stopped = await within(second.exited, 10_000, 'the second forwarder to stop on SIGTERM');
    assert.deepEqual(stopped, { code: 0, signal: null }, second.stderr());

    assert.deepEqual(receiver.stored.map((body) => body['seq']), range(1, HISTORY + LIVE), 'every event, in order');
    assert.deepEqual(receiver.stored.map((body) => (body['context'] as { n: number }).n), range(1, HISTORY + LIVE));
    assert.deepEqual(receiver.storedKeys, range(1, HISTORY + LIVE).map((seq) => `${J}:${seq}`), 'each key stored once');
    assert.equal(receiver.requests[beforeRestart]!.body['seq'], (saved?.seq ?? 0) + 1, 'the restart goes on after the checkpoint');
    assert.equal(receiver.repeats, storedBeforeRestart - (saved?.seq ?? 0), 'only what followed the checkpoint came again');
    t.diagnostic(`checkpoint at the kill: seq ${saved?.seq ?? 'none'}; stored before the restart: ${storedBeforeRestart}; sent again: ${receiver.repeats}`);
    assert.deepEqual(JSON.parse(readFileSync(checkpoint, 'utf8')), { journal: J, seq: HISTORY + LIVE, timestamp: receiver.stored.at(-1)!['timestamp'] });
  });
});
