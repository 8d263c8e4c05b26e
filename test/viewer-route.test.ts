/**
 * The viewer's files as the server serves them: the page at `GET /` for a
 * browser (JSON still for a script), its bundle under `/ui/` with the right
 * types, caching and compression, a Content-Security-Policy with no inline
 * script or style and no other host, no token needed for the page itself,
 * and none of it with `ui: false`.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { WebSocket } from 'ws';
import { JournalServer } from '../server/journal-server.js';
import { startServer } from './helpers.js';

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

function httpUrl(server: JournalServer, path: string): string {
  return `${server.url.replace(/^ws/, 'http')}${path}`;
}

/** The script and stylesheet the page names. */
function assetsOf(html: string): { script: string; stylesheet: string } {
  const script = /<script type="module" src="\/ui\/([\w.-]+\.js)"><\/script>/.exec(html)?.[1];
  const stylesheet = /<link rel="stylesheet" href="\/ui\/([\w.-]+\.css)" \/>/.exec(html)?.[1];
  assert.ok(script && stylesheet, `the page names its script and stylesheet:\n${html}`);
  return { script, stylesheet };
}

describe('the viewer route', () => {
  const servers: JournalServer[] = [];
  after(async () => {
    for (const server of servers) await server.close();
  });
  const start = async (options: ConstructorParameters<typeof JournalServer>[0] = {}) => {
    const server = await startServer(options);
    servers.push(server);
    return server;
  };

  it('serves the page to a browser at GET /, with a CSP that forbids inline script and other hosts, and no caching', async () => {
    const server = await start();
    const response = await fetch(httpUrl(server, '/'), { headers: HTML });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'scripts from the server only: no unsafe-inline, no other host');
    assert.match(csp, /style-src 'self'(;|$)/);
    assert.match(csp, /connect-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe|https?:|\*/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
    const html = await response.text();
    assetsOf(html);
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)/, 'no inline script');
    assert.doesNotMatch(html, /<style|\sstyle=/, 'no inline style');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from another host');
  });

  it('serves the bundle under /ui/ with its type, cached for good, compressed as the client accepts', async () => {
    const server = await start();
    const { script, stylesheet } = assetsOf(await (await fetch(httpUrl(server, '/'), { headers: HTML })).text());
    const plain = await fetch(httpUrl(server, `/ui/${script}`), { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(plain.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.equal(plain.headers.get('vary'), 'Accept-Encoding');
    const body = Buffer.from(await plain.arrayBuffer());
    assert.ok(body.length > 10_000, 'the whole bundle');
    // fetch would decompress on its own; read the raw bytes with Node's http.
    for (const [coding, decode] of [
      ['br', brotliDecompressSync],
      ['gzip', gunzipSync],
    ] as const) {
      const { headers, raw } = await rawGet(httpUrl(server, `/ui/${script}`), { 'accept-encoding': `${coding}, identity;q=0.5` });
      assert.equal(headers['content-encoding'], coding);
      assert.ok(raw.length < body.length / 2, `${coding} is smaller`);
      assert.deepEqual(decode(raw), body, `${coding} decodes to the same bundle`);
    }
    const css = await fetch(httpUrl(server, `/ui/${stylesheet}`));
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    const missing = await fetch(httpUrl(server, '/ui/..%2Fmanifest.json'));
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  it('still answers a script at GET / with the server’s description', async () => {
    const server = await start();
    const response = await fetch(httpUrl(server, '/'), { headers: { accept: 'application/json' } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(response.headers.get('vary'), 'Accept');
    const body = (await response.json()) as { name: string; viewer?: string };
    assert.equal(body.name, 'wsjournal');
    assert.equal(typeof body.viewer, 'string');
  });

  it('needs no token for the page and its files, while the API still does', async () => {
    const server = await start({ tokens: ['t0ken'] });
    const page = await fetch(httpUrl(server, '/'), { headers: HTML });
    assert.equal(page.status, 200);
    const { script } = assetsOf(await page.text());
    assert.equal((await fetch(httpUrl(server, `/ui/${script}`))).status, 200);
    assert.equal((await fetch(httpUrl(server, '/v1/journals'))).status, 401);
  });

  it('serves no page with ui: false', async () => {
    const server = await start({ ui: false });
    const response = await fetch(httpUrl(server, '/'), { headers: HTML });
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await response.json()) as { viewer?: string };
    assert.equal(body.viewer, undefined);
    assert.equal((await fetch(httpUrl(server, '/ui/viewer.js'))).status, 404);
  });

  it('lets the page it serves connect when origins are restricted: its own origin is always allowed', async () => {
    const server = await start({ origins: ['https://app.example'] });
    const own = server.url.replace(/^ws/, 'http');
    const handshake = (origin: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(server.url, { origin });
        ws.once('open', () => {
          ws.close();
          resolve(101);
        });
        ws.once('unexpected-response', (_request, response) => {
          resolve(response.statusCode ?? 0);
          ws.terminate();
        });
        ws.once('error', () => resolve(-1));
      });
    assert.equal(await handshake(own), 101, 'the server’s own origin');
    assert.equal(await handshake('https://app.example'), 101, 'a listed origin');
    assert.equal(await handshake('http://evil.example'), 403, 'any other origin');
    assert.equal(await handshake(own.replace('127.0.0.1', 'localhost')), 403, 'another host name is another origin');
  });

  it('refuses a ui option that is not a boolean', () => {
    assert.throws(() => new JournalServer({ ui: 'no' as unknown as boolean }), { name: 'TypeError', message: /options\.ui/ });
  });
});

/** A GET whose body is read as sent, not decompressed. */
async function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: Record<string, string | string[] | undefined>; raw: Buffer }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    request(url, { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ headers: response.headers, raw: Buffer.concat(chunks) }));
      response.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}
