/** The token a WebSocket handshake or an HTTP request presents: `Authorization: Bearer …`, else `?token=`. */
import type { IncomingMessage } from 'node:http';

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(header);
    return match?.[1]?.trim();
  }
  const query = new URL(req.url ?? '/', 'ws://localhost').searchParams.get('token');
  return query ?? undefined;
}
