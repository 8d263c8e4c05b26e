/**
 * `wsjournal schema add` and `wsjournal schema list`, run as the built binary against a
 * server on port 0, with their output and exit statuses.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, startServer, within } from './helpers.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** Runs the command to its end (10 s at most); resolves with its status and output. */
function wsjournal(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 10_000, env: { ...process.env, WSJOURNAL_TOKEN: '' } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe('wsjournal schema', () => {
  it('adds files, says what changed, reports refusals, and lists', async (t) => {
    const server = await startServer();
    t.after(() => server.close());
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-cli-schema-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const job = join(dir, 'job.json');
    const note = join(dir, 'note.json');
    await writeFile(job, JSON.stringify({ $id: 'urn:cli:job', version: 1, title: 'A job', properties: { id: { type: 'string' } } }));
    await writeFile(note, JSON.stringify({ $id: 'urn:cli:note', version: 2, properties: {} }));
    const url = ['--url', server.url];
    const added = await wsjournal(['schema', 'add', job, note, ...url]);
    assert.deepEqual(added, { code: 0, stdout: 'registered urn:cli:job 1\nregistered urn:cli:note 2\n', stderr: '' });
    const again = await wsjournal(['schema', 'add', job, ...url]);
    assert.deepEqual(again, { code: 0, stdout: 'unchanged urn:cli:job 1\n', stderr: '' });

    const conflicting = join(dir, 'conflict.json');
    await writeFile(conflicting, JSON.stringify({ $id: 'urn:cli:job', version: 1, properties: {} }));
    const invalid = join(dir, 'invalid.json');
    await writeFile(invalid, JSON.stringify({ $id: 'urn:cli:bad', properties: {} }));
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{');
    const fresh = join(dir, 'fresh.json');
    await writeFile(fresh, JSON.stringify({ $id: 'urn:cli:fresh', version: 1, properties: {} }));
    const mixed = await wsjournal(['schema', 'add', conflicting, invalid, broken, join(dir, 'missing.json'), fresh, ...url]);
    assert.equal(mixed.code, 1);
    assert.equal(mixed.stdout, 'registered urn:cli:fresh 1\n');
    assert.match(mixed.stderr, /conflict\.json: SCHEMA_CONFLICT: /);
    assert.match(mixed.stderr, /invalid\.json: INVALID_SCHEMA: version must be a positive integer/);
    assert.match(mixed.stderr, /broken\.json: /);
    assert.match(mixed.stderr, /missing\.json: ENOENT/);

    const listed = await wsjournal(['schema', 'list', ...url]);
    assert.deepEqual(listed, { code: 0, stdout: 'urn:cli:fresh 1\nurn:cli:job 1 A job\nurn:cli:note 2\n', stderr: '' });
    const json = await wsjournal(['schema', 'list', '--json', ...url]);
    assert.equal(json.code, 0);
    assert.deepEqual(json.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { $id: string }).$id), ['urn:cli:fresh', 'urn:cli:job', 'urn:cli:note']);
  });

  it('refuses bad usage with status 2, and an unreachable server with status 1', async () => {
    for (const args of [['schema'], ['schema', 'drop'], ['schema', 'add'], ['schema', 'list', 'x'], ['schema', 'add', 'f.json', '--json']]) {
      const { code, stderr } = await wsjournal(args);
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    }
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-cli-schema-'));
    try {
      const file = join(dir, 's.json');
      await writeFile(file, JSON.stringify({ $id: 'urn:x', version: 1, properties: {} }));
      const url = `ws://127.0.0.1:${await freePort()}`;
      for (const args of [['schema', 'add', file, '--url', url], ['schema', 'list', '--url', url]]) {
        const { code, stderr } = await wsjournal(args);
        assert.equal(code, 1);
        assert.match(stderr, /cannot connect to/);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const help = await wsjournal(['schema', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /wsjournal schema add FILE/);
  });

  it('serve --schemas DIR registers a directory of schemas before listening, and stops on a refused one', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'wsjournal-cli-serve-schemas-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'job.json'), JSON.stringify({ $id: 'urn:cli:served', version: 1, properties: {} }));
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--store', 'memory:', '--schemas', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const line = await within(
      new Promise<string>((resolve) => createInterface({ input: child.stdout }).on('line', (text) => text.startsWith('wsjournal listening') && resolve(text))),
      10_000,
      'the server to listen',
    );
    const url = /(ws:\/\/\S+)/.exec(line)![1]!;
    assert.deepEqual(await wsjournal(['schema', 'list', '--url', url]), { code: 0, stdout: 'urn:cli:served 1\n', stderr: '' });
    child.kill('SIGTERM');
    await within(new Promise((resolve) => child.once('exit', resolve)), 10_000, 'the server to exit');

    await writeFile(join(dir, 'bad.json'), JSON.stringify({ $id: 'urn:cli:bad', version: 1 }));
    const refused = await wsjournal(['serve', '--port', '0', '--store', 'memory:', '--schemas', dir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /bad\.json: properties must be an object/);
  });
});
