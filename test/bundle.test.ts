/**
 * The client library bundles for browsers: what needs Node.js (files, the process) is
 * reached through the `#platform` import, which a bundler resolves to the browser twin.
 * Bundled as an application would, with esbuild, for each platform.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { build } from 'esbuild';

const ENTRY = fileURLToPath(new URL('../src/index.js', import.meta.url));

async function bundle(platform: 'browser' | 'node'): Promise<string> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform,
    target: 'es2022',
    // Loaded only under Node (src/connection.ts); a browser uses its global WebSocket.
    external: ['ws'],
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

describe('the client library bundle', () => {
  it('builds for browsers, with the browser platform module and no Node.js built-in', async () => {
    const text = await bundle('browser');
    assert.doesNotMatch(text, /from "node:|import\("node:|require\("node:/);
    assert.match(text, /needs Node\.js \(a file system\)/, 'the browser twin of src/platform is in');
    assert.match(text, /EventRouter = class|class EventRouter/);
    assert.match(text, /Forwarder = class|class Forwarder/);
  });

  it('builds for Node.js with the Node.js platform module', async () => {
    const text = await bundle('node');
    assert.match(text, /from "node:fs\/promises"/);
    assert.doesNotMatch(text, /needs Node\.js \(a file system\)/);
  });
});
