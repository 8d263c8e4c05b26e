/**
 * The package as a user gets it: `npm pack` (which runs `prepare`, the
 * package build), the tarball's contents, then an install of the tarball into
 * a new project (from npm's cache where it can: --prefer-offline), where a
 * producer and a consumer run through the public entry points, the types
 * resolve under both `node10` and `nodenext`, and `npx wsjournal --help`
 * works. Slow (a build and an install), so it is not one of `npm test`'s files: `npm run test:package` runs it (and CI).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM_TIMEOUT = 240_000;

/** Runs npm with arguments in `cwd`; rejects with its output on failure. */
async function npm(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run('npm', args, { cwd, timeout: NPM_TIMEOUT, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
}

const PROGRAM = `
import { JournalServer } from 'wsjournal/server';
import { EventLogConsumer, JournalProducer } from 'wsjournal';

const server = new JournalServer({ port: 0, dataDir: process.argv[2] });
const { port } = await server.listen();
const url = 'ws://127.0.0.1:' + port;
const producer = new JournalProducer(url, 'jobs');
const ack = await producer.append('submit', { id: 'f3x', userid: 1000 });
const consumer = new EventLogConsumer(url, 'jobs', { includeSentinel: true });
const seen = [];
for await (const event of consumer) {
  if (event === EventLogConsumer.SENTINEL_EVENT) break;
  seen.push(event.toJSON());
}
await producer.close();
await server.close();
console.log(JSON.stringify({ ack, seen }));
`;

const TYPED = `
import { EventLogConsumer, JournalProducer, ErrorCode, type JournalEvent } from 'wsjournal';
import { JournalServer, MemoryStore } from 'wsjournal/server';

const server: JournalServer = new JournalServer({ port: 0, store: new MemoryStore() });
const producer: JournalProducer = new JournalProducer('ws://127.0.0.1:7707', 'jobs');
const consumer = new EventLogConsumer('ws://127.0.0.1:7707', 'jobs');
const code: string = ErrorCode.SLOW_CONSUMER;
const print = (event: JournalEvent): string => event.toString();
export { server, producer, consumer, code, print };
`;

describe('the packed package', { timeout: 2 * NPM_TIMEOUT }, () => {
  let work: string;
  let tarball: string;
  let project: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'wsjournal-package-'));
    const { stdout } = await npm(['pack', '--json', '--pack-destination', work], ROOT);
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
    tarball = join(work, packed.filename);
    project = join(work, 'project');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'uses-wsjournal', version: '1.0.0', private: true, type: 'module' }));
    await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], project);
  });

  after(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('holds the built entry points, a LICENSE, and no source map pointing at sources it lacks', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter((line) => line !== '');
    for (const file of ['package/LICENSE', 'package/README.md', 'package/dist/src/index.js', 'package/dist/src/index.d.ts', 'package/dist/server/index.js', 'package/dist/cli/main.js']) {
      assert.ok(files.includes(file), `${file} is in the tarball`);
    }
    assert.deepEqual(files.filter((file) => file.endsWith('.map')), [], 'no .map files');
    assert.deepEqual(files.filter((file) => /^package\/dist\/(test|bench|examples)\//.test(file)), [], 'no tests, benchmarks or examples');
    const installed = join(project, 'node_modules', 'wsjournal');
    const index = await readFile(join(installed, 'dist', 'src', 'index.js'), 'utf8');
    assert.doesNotMatch(index, /sourceMappingURL/, 'no reference to a map');
    assert.match(await readFile(join(installed, 'LICENSE'), 'utf8'), /MIT License/);
  });

  it('runs a producer and a consumer through wsjournal and wsjournal/server', async () => {
    await writeFile(join(project, 'roundtrip.mjs'), PROGRAM);
    const { stdout } = await run(process.execPath, ['roundtrip.mjs', join(project, 'data')], { cwd: project, timeout: 30_000 });
    const { ack, seen } = JSON.parse(stdout) as { ack: { seq: number; timestamp: number }; seen: { name: string; seq: number; context: object }[] };
    assert.equal(ack.seq, 1);
    assert.deepEqual(
      seen.map(({ name, seq, context }) => ({ name, seq, context })),
      [{ name: 'submit', seq: 1, context: { id: 'f3x', userid: 1000 } }],
    );
  });

  for (const resolution of [
    ['--module', 'nodenext', '--moduleResolution', 'nodenext'],
    ['--module', 'commonjs', '--moduleResolution', 'node10'],
  ]) {
    it(`has types that resolve under moduleResolution ${resolution[3]}`, async () => {
      await writeFile(join(project, 'typed.ts'), TYPED);
      try {
        await run(process.execPath, [TSC, '--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--types', 'node', '--typeRoots', join(ROOT, 'node_modules', '@types'), ...resolution, 'typed.ts'], { cwd: project, timeout: 60_000 });
      } catch (error) {
        assert.fail(`tsc ${resolution.join(' ')}: ${(error as { stdout?: string }).stdout ?? error}`);
      }
    });
  }

  it('installs the wsjournal command: npx wsjournal --help', async () => {
    const { stdout } = await run('npx', ['--no-install', 'wsjournal', '--help'], { cwd: project, timeout: 30_000 });
    assert.match(stdout, /^Usage: wsjournal COMMAND/);
    assert.match(stdout, /tail/);
  });
});
