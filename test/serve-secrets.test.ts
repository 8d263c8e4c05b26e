/**
 * `wsjournal serve`'s secrets, run as the built binary in child processes: tokens from
 * `WSJOURNAL_TOKENS` and from `--token-file` (one a line with scopes, or JSON), a token file
 * every user may read refused, `--origin`, and no token value ever written to the output.
 * Every wait has a timeout; nothing sleeps.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { within } from './helpers.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const WAIT_MS = 10_000;
const running = new Set<Child>();

/** Token values: every one of them must stay out of every line the server writes. */
const SECRETS = ['env-secret-1', 'env-secret-2', 'file-secret-read', 'file-secret-all', 'file-secret-append', 'json-secret'];

/** One run of the CLI, collecting its output. */
class Child {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exit: Promise<number | null>;
  stdout = '';
  stderr = '';
  readonly #waiters = new Set<() => void>();

  constructor(readonly args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, WSJOURNAL_TOKEN: '', WSJOURNAL_TOKENS: '', ...env } });
    running.add(this);
    const notify = (): void => {
      for (const wake of [...this.#waiters]) wake();
    };
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      notify();
    });
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      notify();
    });
    this.child.stdin.end();
    this.exit = new Promise((resolve) =>
      this.child.once('close', (code) => {
        running.delete(this);
        resolve(code);
        notify();
      }),
    );
  }

  /** The server's URL once it prints its listening line. */
  listening(): Promise<string> {
    return within(
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = /listening on (ws:\/\/\S+)/.exec(this.stdout);
          if (match) resolve(match[1]!);
          else if (!running.has(this)) reject(new Error(`exited without listening: ${this.stderr}`));
          else return;
          this.#waiters.delete(check);
        };
        this.#waiters.add(check);
        check();
      }),
      WAIT_MS,
      `wsjournal ${this.args.join(' ')} to listen; stderr: ${this.stderr}`,
    );
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    assert.equal(await within(this.exit, WAIT_MS, 'serve to exit'), 0, this.stderr);
  }
}

/** Runs a command to its end. */
async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = new Child(args, env);
  const code = await within(child.exit, WAIT_MS, `wsjournal ${args.join(' ')}; stderr: ${child.stderr}`);
  return { code, stdout: child.stdout, stderr: child.stderr };
}

function assertNoSecret(text: string, what: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${what} shows a token value: ${text}`);
}

/** The HTTP status of a WebSocket handshake with these headers, or 101 when it opens. */
function handshake(url: string, headers: Record<string, string>, origin?: string): Promise<number> {
  const ws = new WebSocket(url, { headers, ...(origin === undefined ? {} : { origin }) });
  ws.on('error', () => {});
  return within(
    new Promise((resolve) => {
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        ws.terminate();
        resolve(res.statusCode ?? 0);
      });
      ws.once('open', () => {
        ws.terminate();
        resolve(101);
      });
    }),
    WAIT_MS,
    'a handshake',
  );
}

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsjournal-secrets-'));
});

after(async () => {
  for (const child of running) child.child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('wsjournal serve with WSJOURNAL_TOKENS', () => {
  let server: Child;
  let url: string;

  before(async () => {
    server = new Child(['serve', '--port', '0', '--store', 'memory:'], { WSJOURNAL_TOKENS: ' env-secret-1, env-secret-2 ,' });
    url = await server.listening();
  });

  after(() => server.stop());

  test('refuses a client without a token, or with a wrong one, and serves one with a token of the list', async () => {
    assert.match(server.stdout, /\(store: memory, tokens required\)/);
    for (const args of [[], ['--token', 'wrong']]) {
      const refused = await run(['append', 'jobs', 'submit', '--url', url, ...args]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /unauthorized/);
    }
    assert.equal(await handshake(url, {}), 401);
    const http = await fetch(`${url.replace(/^ws/, 'http')}/v1/journals`);
    assert.equal(http.status, 401);
    await http.arrayBuffer();
    const appended = await run(['append', 'jobs', 'submit', '--url', url], { WSJOURNAL_TOKEN: 'env-secret-2' });
    assert.equal(appended.code, 0, appended.stderr);
    const tail = await run(['tail', 'jobs', '--no-follow', '--url', url, '--token', 'env-secret-1']);
    assert.equal(tail.code, 0, tail.stderr);
    assert.match(tail.stdout, / submit /);
    assertNoSecret(server.stdout + server.stderr, 'the server');
  });
});

describe('wsjournal serve --token-file', () => {
  test('one token a line with its scopes: each token can do what its scopes say and no more', async () => {
    const file = join(dir, 'tokens');
    await writeFile(
      file,
      ['# who may do what', 'file-secret-read read:jobs.*', '', 'file-secret-append   append:jobs', 'file-secret-all', ''].join('\n'),
      { mode: 0o600 },
    );
    const server = new Child(['serve', '--port', '0', '--store', 'memory:', '--token-file', file]);
    try {
      const url = await server.listening();
      const appended = await run(['append', 'jobs.a', 'submit', '--url', url, '--token', 'file-secret-all']);
      assert.equal(appended.code, 0, appended.stderr);
      const read = await run(['tail', 'jobs.a', '--no-follow', '--url', url, '--token', 'file-secret-read']);
      assert.equal(read.code, 0, read.stderr);
      assert.match(read.stdout, / submit /);
      const outside = await run(['tail', 'other', '--no-follow', '--url', url, '--token', 'file-secret-read']);
      assert.equal(outside.code, 1);
      assert.match(outside.stderr, /FORBIDDEN/);
      const readerAppends = await run(['append', 'jobs.a', 'x', '--url', url, '--token', 'file-secret-read']);
      assert.equal(readerAppends.code, 1);
      assert.match(readerAppends.stderr, /FORBIDDEN/);
      const appender = await run(['append', 'jobs', 'x', '--url', url, '--token', 'file-secret-append']);
      assert.equal(appender.code, 0, appender.stderr);
      assert.equal(await handshake(url, {}), 401);
      for (const output of [appended, read, outside, readerAppends, appender]) assertNoSecret(output.stdout + output.stderr, 'a client');
    } finally {
      await server.stop();
    }
    assertNoSecret(server.stdout + server.stderr, 'the server');
  });

  test('a JSON object of tokens to their scopes, as the server option takes it', async () => {
    const file = join(dir, 'tokens.json');
    await writeFile(file, JSON.stringify({ 'json-secret': ['read:jobs'] }), { mode: 0o600 });
    const server = new Child(['serve', '--port', '0', '--store', 'memory:', '--token-file', file]);
    try {
      const url = await server.listening();
      assert.match(server.stdout, /a token required/);
      // Reading is allowed: the answer is that jobs was never written, not FORBIDDEN.
      const read = await run(['tail', 'jobs', '--no-follow', '--url', url, '--token', 'json-secret']);
      assert.match(read.stderr, /journal "jobs" has never been written/);
      assert.doesNotMatch(read.stderr, /FORBIDDEN/);
      const append = await run(['append', 'jobs', 'x', '--url', url, '--token', 'json-secret']);
      assert.equal(append.code, 1);
      assert.match(append.stderr, /FORBIDDEN/);
    } finally {
      await server.stop();
    }
  });

  test('a file every user may read is refused, naming the fix, before anything listens', async () => {
    if (process.platform === 'win32') return;
    const file = join(dir, 'open-tokens');
    await writeFile(file, 'file-secret-all\n');
    await chmod(file, 0o644);
    const { code, stdout, stderr } = await run(['serve', '--port', '0', '--store', 'memory:', '--token-file', file]);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /can be read by every user of this machine \(mode 0644\); make it private: chmod 600/);
    assertNoSecret(stderr, 'the refusal');
  });

  test('bad files are refused with the line or token at fault, never the token itself', async () => {
    const cases: [string, string, RegExp][] = [
      ['bad-scope', 'file-secret-all read\nfile-secret-read raed:jobs\n', /line 2: "raed:jobs" is not a scope: a scope is read, append or admin/],
      ['bad-glob', 'file-secret-read read:jobs/a\n', /line 1: "read:jobs\/a": after "read:" comes a journal name/],
      ['empty', '# nothing yet\n\n', /holds no token/],
      ['twice', 'file-secret-all\nfile-secret-all read\n', /the same token is given twice: --token-file \S+ line 1 and --token-file \S+ line 2/],
      ['bad-json', '{"json-secret": ["read"', /is not valid JSON/],
      ['json-scope', '{"json-secret": ["read", "delete"]}', /token 1, scope 2: "delete" is not a scope/],
    ];
    for (const [name, text, message] of cases) {
      const file = join(dir, name);
      await writeFile(file, text, { mode: 0o600 });
      const { code, stderr } = await run(['serve', '--port', '0', '--store', 'memory:', '--token-file', file]);
      assert.notEqual(code, 0, name);
      assert.match(stderr, message, name);
      assertNoSecret(stderr, name);
    }
    const missing = await run(['serve', '--port', '0', '--store', 'memory:', '--token-file', join(dir, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read --token-file \S+: ENOENT/);
  });

  test('a token both in WSJOURNAL_TOKENS and the file is refused, naming both places only', async () => {
    const file = join(dir, 'dup');
    await writeFile(file, 'env-secret-1 read\n', { mode: 0o600 });
    const { code, stderr } = await run(['serve', '--port', '0', '--store', 'memory:', '--token-file', file], { WSJOURNAL_TOKENS: 'env-secret-1' });
    assert.equal(code, 2);
    assert.match(stderr, /the same token is given twice: WSJOURNAL_TOKENS item 1 and --token-file \S+ line 1/);
    assertNoSecret(stderr, 'the refusal');
  });
});

describe('wsjournal serve: --token, --origin, WSJOURNAL_TOKEN', () => {
  test('--token still works and warns that ps shows it; the warning does not show it', async () => {
    const server = new Child(['serve', '--port', '0', '--store', 'memory:', '--token', 'env-secret-1', '--log-format', 'json']);
    try {
      const url = await server.listening();
      assert.equal(await handshake(url, { Authorization: 'Bearer env-secret-1' }), 101);
      assert.equal(await handshake(url, {}), 401);
      assert.match(server.stderr, /--token is visible to every user of this machine \(ps\); prefer WSJOURNAL_TOKENS or --token-file/);
    } finally {
      await server.stop();
    }
    assertNoSecret(server.stderr, 'the server log');
  });

  test('--origin lets browsers in from the origins listed only; a bad one is a usage error', async () => {
    const server = new Child(['serve', '--port', '0', '--store', 'memory:', '--origin', 'https://ok.example', '--origin', 'http://localhost:3000']);
    try {
      const url = await server.listening();
      assert.equal(await handshake(url, {}, 'https://ok.example'), 101);
      assert.equal(await handshake(url, {}, 'http://localhost:3000'), 101);
      assert.equal(await handshake(url, {}, 'https://evil.example'), 403);
      assert.equal(await handshake(url, {}), 101, 'a client that sends no Origin is not a browser');
    } finally {
      await server.stop();
    }
    const bad = await run(['serve', '--port', '0', '--store', 'memory:', '--origin', 'https://ok.example/path']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--origin must be an origin like https:\/\/app\.example/);
  });

  test('WSJOURNAL_TOKEN alone (the clients\' variable) does not protect the server, and serve says so', async () => {
    const server = new Child(['serve', '--port', '0', '--store', 'memory:', '--log-format', 'json'], { WSJOURNAL_TOKEN: 'env-secret-2' });
    try {
      const url = await server.listening();
      assert.doesNotMatch(server.stdout, /required/);
      assert.equal(await handshake(url, {}), 101);
      assert.match(server.stderr, /WSJOURNAL_TOKEN is set, but it is the clients' variable: serve reads WSJOURNAL_TOKENS; this server requires no token/);
    } finally {
      await server.stop();
    }
    assertNoSecret(server.stderr, 'the server log');
  });
});
