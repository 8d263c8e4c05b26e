/** What the commands over the HTTP API share: the client for --url and --token, and one line per failure. */
import { ConnectionError, ErrorCode, JournalError, TimeoutError } from '../src/errors.js';
import { JournalClient } from '../src/journal-client.js';
import { checkArgument, CliError } from './args.js';
import { DEFAULT_URL, tokenOption } from './io.js';

/** A JournalClient for `--url` (a ws:// URL names the same server's HTTP API) and `--token`. */
export function httpClient(url: string | undefined, token: string | undefined, timeout?: number): JournalClient {
  const resolved = tokenOption(token);
  return checkArgument(
    () => new JournalClient(url ?? DEFAULT_URL, { ...(resolved === undefined ? {} : { token: resolved }), ...(timeout === undefined ? {} : { timeout }) }),
    '--url',
  );
}

/** The answer of `call`, a request to `client`; a failure becomes the CliError `requestFailure` makes of it. */
export async function request<T>(client: JournalClient, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw requestFailure(client, error);
  }
}

/** A CliError saying in one line why a request to `client` failed. */
export function requestFailure(client: JournalClient, error: unknown): CliError {
  if (error instanceof TimeoutError) return new CliError(`${client.url} did not answer in time: ${error.message}`, { cause: error });
  if (error instanceof ConnectionError) {
    return new CliError(`cannot reach ${client.url} (${(error.cause as Error | undefined)?.message ?? error.message}); is a wsjournal server running there?`, {
      cause: error,
    });
  }
  if (error instanceof JournalError && error.code === ErrorCode.UNAUTHORIZED) {
    return new CliError(`unauthorized: ${client.url} refused the request; check --token`, { cause: error });
  }
  if (error instanceof JournalError) return new CliError(`${error.code}: ${error.message}`, { cause: error });
  return new CliError(error instanceof Error ? error.message : String(error), { cause: error });
}
