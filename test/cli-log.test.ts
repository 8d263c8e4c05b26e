/** `wsjournal log`, run as the built binary against a server on port 0. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { JournalServer } from '../server/journal-server.js';
import { freePort, startServer, within } from './helpers.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** Runs `wsjournal ...args` to its end. */
function wsjournal(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, WSJOURNAL_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return within(exit, 15_000, `wsjournal ${args.join(' ')}`);
}

describe('wsjournal log', () => {
  let server: JournalServer;
  before(async () => {
    server = await startServer({ tokens: ['t0k'], maxEventSize: 1000 });
  });
  after(() => server.close());

  it('logs an event with its level, number, message, source and fields', async () => {
    const { code, stderr } = await wsjournal([
      'log', 'lab', 'warning', 'tips low', '--context', '{"node":"ot2","left":3}', '--source', 'cron', '--url', server.url, '--token', 't0k',
    ]);
    assert.equal(code, 0, stderr);
    const [event] = await server.store.read('lab', 0, 10);
    assert.deepEqual(JSON.parse(event!.json).context, { level: 'warning', levelno: 30, message: 'tips low', source: 'cron', node: 'ot2', left: 3 });
  });

  it('refuses a bad level or context with exit 2', async () => {
    const level = await wsjournal(['log', 'lab', 'loud', 'x', '--url', server.url]);
    assert.equal(level.code, 2);
    assert.match(level.stderr, /LEVEL must be one of debug, info, warning, error, critical, alert/);
    const context = await wsjournal(['log', 'lab', 'info', 'x', '--context', '[1]', '--url', server.url]);
    assert.equal(context.code, 2);
    assert.match(context.stderr, /--context must be a JSON object/);
    const missing = await wsjournal(['log', 'lab', 'info']);
    assert.equal(missing.code, 2);
  });

  it('exits 1 saying why when the event is not stored', async () => {
    const port = await freePort();
    const unreachable = await wsjournal(['log', 'lab', 'info', 'x', '--url', `ws://127.0.0.1:${port}`]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /not logged: cannot connect/);
    const token = await wsjournal(['log', 'lab', 'info', 'x', '--url', server.url, '--token', 'wrong']);
    assert.equal(token.code, 1);
    assert.match(token.stderr, /unauthorized/);
    const large = await wsjournal(['log', 'lab', 'info', 'x', '--context', JSON.stringify({ pad: 'x'.repeat(2000) }), '--url', server.url, '--token', 't0k']);
    assert.equal(large.code, 1);
    assert.match(large.stderr, /EVENT_TOO_LARGE/);
  });
});
