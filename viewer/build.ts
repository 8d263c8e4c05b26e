/**
 * Bundles the viewer into static files at build time (`npm run build` runs
 * it after tsc), in `dist/viewer/public/`, which the server serves at `GET /`:
 *
 * - `index.html`, naming the bundle's files (served with `no-cache`);
 * - `ui/viewer-HASH.js` (the page, Preact and the client library in one ES
 *   module) and `ui/viewer-HASH.css`, named by their content so that they can
 *   be cached for good, each also as `.br` and `.gz`;
 * - `manifest.json`, the bundle's files and sizes.
 *
 * Nothing is fetched from another host when the page runs.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { build } from 'esbuild';

/** Where the page's sources are: `viewer/` at the package root (this file runs from `dist/viewer/`). */
const SOURCE = new URL('../../viewer/', import.meta.url);
/** Where the bundle goes by default. */
export const PUBLIC_DIR = new URL('./public/', import.meta.url);

export interface BuildViewerOptions {
  /** @default dist/viewer/public */
  outdir?: URL;
  /** @default true */
  minify?: boolean;
}

/** What was written: each file of `ui/` and its size in bytes, uncompressed. */
export interface ViewerManifest {
  script: string;
  stylesheet: string;
  sizes: Record<string, number>;
}

/** Writes the bundle; resolves with its manifest. */
export async function buildViewer(options: BuildViewerOptions = {}): Promise<ViewerManifest> {
  const outdir = options.outdir ?? PUBLIC_DIR;
  await rm(outdir, { recursive: true, force: true });
  await mkdir(new URL('./ui/', outdir), { recursive: true });
  const result = await build({
    entryPoints: [
      { in: fileURLToPath(new URL('./main.tsx', SOURCE)), out: 'viewer' },
      { in: fileURLToPath(new URL('./styles.css', SOURCE)), out: 'viewer' },
    ],
    entryNames: '[name]-[hash]',
    outdir: fileURLToPath(new URL('./ui/', outdir)),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: options.minify ?? true,
    // Loaded only under Node (src/connection.ts); a browser uses its global WebSocket.
    external: ['ws'],
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
  });
  const manifest: ViewerManifest = { script: '', stylesheet: '', sizes: {} };
  for (const [path, output] of Object.entries(result.metafile.outputs)) {
    const name = basename(path);
    manifest.sizes[name] = output.bytes;
    if (name.endsWith('.js')) manifest.script = name;
    if (name.endsWith('.css')) manifest.stylesheet = name;
    const file = new URL(`./ui/${name}`, outdir);
    const body = await readFile(file);
    await writeFile(new URL(`./ui/${name}.br`, outdir), await promisify(brotliCompress)(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
    await writeFile(new URL(`./ui/${name}.gz`, outdir), await promisify(gzip)(body, { level: 9 }));
  }
  const template = await readFile(new URL('./index.html', SOURCE), 'utf8');
  const html = template.replace('%VIEWER_JS%', manifest.script).replace('%VIEWER_CSS%', manifest.stylesheet);
  await writeFile(new URL('./index.html', outdir), html);
  await writeFile(new URL('./manifest.json', outdir), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildViewer();
}
