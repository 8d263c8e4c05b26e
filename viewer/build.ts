/**
 * Bundles the viewer into static files at build time (`npm run build` runs
 * it after tsc): `index.html`, `ui/viewer.js` (the page, Preact and the
 * client library in one ES module) and `ui/viewer.css`, in
 * `dist/viewer/public/`, which the server serves at `GET /`. Nothing is
 * fetched from another host when the page runs.
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** Where the page's sources are: `viewer/` at the package root (this file runs from `dist/viewer/`). */
const SOURCE = new URL('../../viewer/', import.meta.url);
/** Where the bundle goes. */
export const PUBLIC_DIR = new URL('./public/', import.meta.url);

export interface BuildViewerOptions {
  /** @default dist/viewer/public */
  outdir?: URL;
  /** @default true */
  minify?: boolean;
}

/** Writes the bundle; resolves with its files' sizes in bytes. */
export async function buildViewer(options: BuildViewerOptions = {}): Promise<Record<string, number>> {
  const outdir = options.outdir ?? PUBLIC_DIR;
  const minify = options.minify ?? true;
  await rm(outdir, { recursive: true, force: true });
  await mkdir(new URL('./ui/', outdir), { recursive: true });
  const result = await build({
    entryPoints: [
      { in: fileURLToPath(new URL('./main.tsx', SOURCE)), out: 'ui/viewer' },
      { in: fileURLToPath(new URL('./styles.css', SOURCE)), out: 'ui/viewer' },
    ],
    outdir: fileURLToPath(outdir),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify,
    // Loaded only under Node (src/connection.ts); a browser uses its global WebSocket.
    external: ['ws'],
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
  });
  await copyFile(new URL('./index.html', SOURCE), new URL('./index.html', outdir));
  const sizes: Record<string, number> = {};
  for (const [path, output] of Object.entries(result.metafile.outputs)) sizes[path] = output.bytes;
  return sizes;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildViewer();
}
