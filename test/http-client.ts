/** Plain HTTP requests to a test server, as a client without the library would make them. */
import type { JournalServer } from '../server/journal-server.js';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  readonly json: any;
}

export interface RequestOptions {
  /** Sent as JSON unless it is a string. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** The HTTP base URL of a listening server. */
export function httpUrl(server: JournalServer): string {
  return server.url.replace(/^ws:/, 'http:');
}

export async function request(server: JournalServer, method: string, path: string, options: RequestOptions = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${httpUrl(server)}${path}`, { method, headers, body: body ?? null });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** GET `path` and return the answer. */
export function get(server: JournalServer, path: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return request(server, 'GET', path, { headers });
}

/** `?where=` for a selector. */
export function where(selector: unknown): string {
  return `where=${encodeURIComponent(JSON.stringify(selector))}`;
}
