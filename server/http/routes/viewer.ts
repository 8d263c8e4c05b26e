/**
 * The viewer (SPEC section 10), unless the server was made with `ui: false`:
 * - `GET /` answers the page to a browser (a request that accepts `text/html`);
 *   scripts still get the server's description (root.ts);
 * - `GET /ui/{file}`: the page's script and stylesheet, named by their content,
 *   cached for a year, sent brotli- or gzip-compressed when the client accepts it.
 *
 * Both need no token: the page asks for one itself, and sends it with every
 * request it makes. Every answer carries a Content-Security-Policy that allows
 * only the server's own script, style and connections (no inline script or
 * style, no other host), and is not to be framed.
 */
import negotiate from '@fastify/accept-negotiator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../../../src/errors.js';
import { HttpError } from '../http-errors.js';
import { loadViewerFiles, type ViewerFile, type ViewerFiles } from '../viewer-files.js';
import type { RoutePlugin } from './index.js';

/** What the page may load and where it may connect: its own server only. `'self'` covers its WebSocket (CSP level 3). */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  // The address may carry ?token= for a moment: never sent on to another site.
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

const CODINGS = ['br', 'gzip', 'identity'];

const AssetParams = z.strictObject({ file: z.string().max(128) });
const AssetQuery = z.looseObject({});

/** The built viewer, or undefined (with the reason logged) when the package holds none. */
export async function viewerFiles(log: { warn(object: object, message: string): void } | undefined): Promise<ViewerFiles | undefined> {
  try {
    return await loadViewerFiles();
  } catch (error) {
    log?.warn({ err: error }, 'the viewer is not built (npm run build); GET / answers JSON only');
    return undefined;
  }
}

/** True when the client asks for a page (a browser navigating), not for data. */
export function acceptsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return /\btext\/html\b/i.test(accept);
}

/** Sends one of the viewer's files with its type, caching and security headers, compressed where accepted. */
export function sendViewerFile(request: FastifyRequest, reply: FastifyReply, file: ViewerFile): FastifyReply {
  void reply.headers(HEADERS).header('Content-Type', file.type).header('Cache-Control', file.cacheControl);
  if (file.encoded.size === 0) return reply.send(file.body);
  void reply.header('Vary', 'Accept-Encoding');
  const coding = negotiate(request.headers['accept-encoding'] ?? 'identity', CODINGS);
  const encoded = coding === null ? undefined : file.encoded.get(coding);
  if (encoded === undefined) return reply.send(file.body);
  return reply.header('Content-Encoding', coding!).send(encoded);
}

export const viewerRoutes: RoutePlugin = async (app, { context }) => {
  if (!context.ui) return;
  const files = await viewerFiles(app.log);
  if (files === undefined) return;
  app.get<{ Params: z.output<typeof AssetParams> }>(
    '/ui/:file',
    { config: { public: true }, schema: { params: AssetParams, querystring: AssetQuery } },
    async (request, reply) => {
      const file = files.assets.get(request.params.file);
      if (file === undefined) throw new HttpError(404, ErrorCode.NOT_FOUND, `the viewer has no file ${request.params.file}`);
      return sendViewerFile(request, reply, file);
    },
  );
};
