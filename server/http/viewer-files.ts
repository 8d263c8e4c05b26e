/**
 * The viewer's files as the server holds them: read once from the package's
 * `dist/viewer/public/` (written by `viewer/build.ts` at build time), each with
 * its type, its caching and its precompressed bodies. A fixed set of names,
 * so a request can only ever name one of them: no path is ever joined from
 * the URL.
 */
import { readFile } from 'node:fs/promises';

/** Where the build writes the bundle, from this file's place in `dist/server/http/`. */
export const VIEWER_PUBLIC = new URL('../../viewer/public/', import.meta.url);

/** One file and how it is served. */
export interface ViewerFile {
  readonly type: string;
  readonly cacheControl: string;
  readonly body: Buffer;
  /** The same body compressed, by content coding (`br`, `gzip`), where the build wrote one. */
  readonly encoded: ReadonlyMap<string, Buffer>;
}

export interface ViewerFiles {
  /** `index.html`. */
  readonly page: ViewerFile;
  /** The bundle's files by name (`viewer-HASH.js`, …), served under `/ui/`. */
  readonly assets: ReadonlyMap<string, ViewerFile>;
}

/** The page names its files; they never change once named, so they may be cached for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

const loaded = new Map<string, Promise<ViewerFiles>>();

/**
 * The built viewer in `dir`, read once per process and directory. Rejects
 * when the viewer was not built (`npm run build` writes it).
 */
export function loadViewerFiles(dir: URL = VIEWER_PUBLIC): Promise<ViewerFiles> {
  let files = loaded.get(dir.href);
  if (files === undefined) {
    files = read(dir);
    loaded.set(dir.href, files);
    // A failed read (not built yet) is tried again by the next server.
    files.catch(() => loaded.delete(dir.href));
  }
  return files;
}

async function read(dir: URL): Promise<ViewerFiles> {
  const manifest = JSON.parse(await readFile(new URL('./manifest.json', dir), 'utf8')) as { script?: unknown; stylesheet?: unknown };
  const names = [manifest.script, manifest.stylesheet];
  if (!names.every((name): name is string => typeof name === 'string' && /^[\w.-]+$/.test(name))) {
    throw new Error(`the viewer's manifest in ${dir.pathname} names no bundle`);
  }
  const assets = new Map<string, ViewerFile>();
  for (const name of names) {
    const url = new URL(`./ui/${name}`, dir);
    const encoded = new Map<string, Buffer>();
    for (const [coding, suffix] of [
      ['br', '.br'],
      ['gzip', '.gz'],
    ] as const) {
      const body = await readFile(new URL(`${url.href}${suffix}`)).catch(() => undefined);
      if (body !== undefined) encoded.set(coding, body);
    }
    const type = TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';
    assets.set(name, { type, cacheControl: IMMUTABLE, body: await readFile(url), encoded });
  }
  const page: ViewerFile = {
    type: TYPES['.html']!,
    // The page names the current bundle: always asked for again, so that a new build shows at once.
    cacheControl: 'no-cache',
    body: await readFile(new URL('./index.html', dir)),
    encoded: new Map(),
  };
  return { page, assets };
}
