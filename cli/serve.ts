/** `wsjournal serve`: runs a JournalServer until SIGINT/SIGTERM. */
import type { JournalServer, JournalServerOptions } from '../server/journal-server.js';
import { INTEGER_OPTIONS } from '../server/integer-options.js';
import type { JournalStore } from '../server/store.js';
import { JournalError } from '../src/errors.js';
import { checkArgument, checkPositionals, CliError, parseCommandLine, parseNumber, UsageError, type Command } from './args.js';
import { LOG_FORMATS, type LogFormat } from './server-logger.js';
import { LOG_LEVEL_NAMES } from '../server/observe/log-levels.js';

const DEFAULT_PORT = 7707;
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_DATA = './data';
const DEFAULT_HEARTBEAT = 30;

/** `text` cut at spaces into lines of at most `width` characters, each indented by `indent` spaces. */
function wrap(text: string, indent: number, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.map((each) => ' '.repeat(indent) + each).join('\n');
}

const USAGE = `Usage: wsjournal serve [options]

Runs a journal server until SIGINT or SIGTERM, then closes every connection
(code 1001) and the store, and exits 0. A second signal exits at once.
Prints "wsjournal listening on ws://HOST:PORT (store: ...)" on standard output
once it listens (the WebSocket endpoint and the HTTP API share the port), and
logs what it does on standard error: startup, refused handshakes, refused
frames, subscriptions it ends, store failures, shutdown; never each event.

Options:
  --port N          TCP port; 0 picks a free one (default: ${DEFAULT_PORT})
  --host H          interface to listen on (default: ${DEFAULT_HOST})
  --data DIR        directory of the embedded LMDB store and of archive
                    files, created if missing (default: ${DEFAULT_DATA})
  --store URL       where journals are kept instead of --data:
                      lmdb:     the embedded durable store at --data (default)
                      memory:   in memory, lost when the server stops
                      redis://HOST:PORT[/DB]  Redis Streams, shared by several
                                servers behind one address
  --token-file FILE require clients to present one of the tokens of FILE:
                    one a line, optionally followed by its scopes
                      TOKEN                      every scope
                      TOKEN read:jobs.* append:jobs
                    (read, append, admin, each optionally :GLOB), # comments;
                    or a JSON object of tokens to scope lists; refused if
                    every user may read it (chmod 600 FILE)
  --token T         require this bearer token (every scope); repeat for
                    several. Visible to every user in ps: prefer
                    WSJOURNAL_TOKENS or --token-file
  --origin O        allow browsers from this origin only (like
                    https://app.example); repeat for several (default: any)
  --no-ui           do not serve the viewer (the web page at GET /)
  --heartbeat S     seconds between pings to detect dead clients; 0 turns
                    them off (default: ${DEFAULT_HEARTBEAT})
  --schemas DIR     register the JSON Schemas of DIR's *.json files (one per
                    file) before listening; a refused one stops the server
  --limit NAME=N    set one of the server's limits (README, Reliability and
                    limits); repeat for several (e.g. --limit
                    maxServerBuffer=268435456). NAME is one of
${wrap(INTEGER_OPTIONS.join(', '), 20, 78)}
  --log-level L     least level logged: ${LOG_LEVEL_NAMES.join(', ')}
                    (default: info)
  --log-format F    json (one JSON object a line, for log collectors) or
                    pretty (for people); default: pretty when standard error
                    is a terminal, json otherwise
  -h, --help        show this help

Environment:
  WSJOURNAL_TOKENS  tokens separated by commas, each with every scope;
                    added to --token and --token-file. With no token from
                    any source, the server needs none.

Exit status: 0 after a clean shutdown; 1 if the port is in use, the store
cannot be opened or the token file cannot be used; 2 on bad arguments.
`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  data: { type: 'string' },
  store: { type: 'string' },
  token: { type: 'string', multiple: true },
  'token-file': { type: 'string' },
  origin: { type: 'string', multiple: true },
  heartbeat: { type: 'string' },
  schemas: { type: 'string' },
  limit: { type: 'string', multiple: true },
  'no-ui': { type: 'boolean' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
} as const;

/** A store the command opened, and how the listening line names it. */
interface OpenedStore {
  store: JournalStore;
  label: string;
}

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  checkPositionals(positionals, 0, 0, '');
  const port = values.port === undefined ? DEFAULT_PORT : parseNumber(values.port, '--port', { integer: true, min: 0, max: 65535 });
  const host = values.host ?? DEFAULT_HOST;
  if (host === '') throw new UsageError('--host must not be empty');
  const heartbeat = values.heartbeat === undefined ? DEFAULT_HEARTBEAT : parseNumber(values.heartbeat, '--heartbeat', { min: 0 });
  if (values.token?.some((token) => token === '')) throw new UsageError('--token must not be empty');
  const origins = values.origin?.map(checkOrigin);
  const logLevel = values['log-level'] ?? 'info';
  if (!(LOG_LEVEL_NAMES as readonly string[]).includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVEL_NAMES.join(', ')}`);
  const logFormat = values['log-format'] ?? (process.stderr.isTTY ? 'pretty' : 'json');
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}`);
  const limits = limitsOf(values.limit ?? []);
  const storeUrl = values.store ?? 'lmdb:';
  if (values.data !== undefined && storeScheme(storeUrl) !== 'lmdb:') {
    throw new UsageError(`--data applies only to the embedded lmdb store, not --store ${storeUrl}`);
  }

  // The server and its stores are loaded once the arguments are known to be good: a mistyped
  // flag is answered at once.
  const [{ JournalServer }, { serverLogger }, { serverTokens, TOKENS_VARIABLE }, { onShutdownSignal }] = await Promise.all([
    import('../server/journal-server.js'),
    import('./server-logger.js'),
    import('./server-tokens.js'),
    import('./io.js'),
  ]);
  const tokens = await serverTokens({ flags: values.token, env: process.env[TOKENS_VARIABLE], file: values['token-file'] });
  const { store, label } = await openStore(storeUrl, values.data ?? DEFAULT_DATA);
  const logger = await serverLogger(logLevel, logFormat as LogFormat);
  if (values.token !== undefined) logger.warn(`--token is visible to every user of this machine (ps); prefer ${TOKENS_VARIABLE} or --token-file`);
  if (tokens === undefined && (process.env['WSJOURNAL_TOKEN'] ?? '') !== '') {
    logger.warn(`WSJOURNAL_TOKEN is set, but it is the clients' variable: serve reads ${TOKENS_VARIABLE}; this server requires no token`);
  }
  let server: JournalServer;
  try {
    // The data directory also holds the archive files (retention and `wsjournal archive`).
    const options: JournalServerOptions = { port, host, store, dataDir: values.data ?? DEFAULT_DATA, heartbeatInterval: heartbeat, logger, ui: values['no-ui'] !== true };
    if (tokens !== undefined) options.tokens = tokens;
    Object.assign(options, limits);
    if (origins !== undefined) options.origins = origins;
    if (values.schemas !== undefined) {
      if (values.schemas === '') throw new UsageError('--schemas must not be empty');
      options.schemas = values.schemas;
    }
    server = checkArgument(() => new JournalServer(options), 'option');
  } catch (error) {
    await store.close();
    throw error;
  }

  // Handlers go in before listening, so a signal that comes early still shuts down cleanly.
  const signalled = new Promise<NodeJS.Signals>((resolve) => onShutdownSignal(resolve));
  try {
    await server.listen();
  } catch (error) {
    await server.close();
    await store.close();
    if (error instanceof JournalError || error instanceof TypeError) throw new CliError(`--schemas: ${error.message}`, { cause: error });
    throw new CliError(listenFailure(error, host, port), { cause: error });
  }
  const auth = tokens === undefined ? '' : `, ${Object.keys(tokens).length === 1 ? 'a token' : 'tokens'} required`;
  process.stdout.write(`wsjournal listening on ${server.url} (store: ${label}${auth})\n`);
  if (values['no-ui'] !== true) process.stdout.write(`viewer: ${server.url.replace(/^ws/, 'http')}/\n`);

  const signal = await signalled;
  logger.info({ signal }, `${signal} received: closing`);
  try {
    await server.close();
    await store.close();
  } catch (error) {
    throw new CliError(`closing failed: ${(error as Error).message}`, { cause: error });
  }
  return 0;
}

/** An --origin value: a browser origin (scheme, host, port), as its Origin header says it. */
function checkOrigin(raw: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== raw.replace(/\/$/, '').toLowerCase()) {
    throw new UsageError(`--origin must be an origin like https://app.example (scheme, host and port only), got ${JSON.stringify(raw)}`);
  }
  return url.origin;
}

/** The scheme of a --store URL, like `memory:` or `redis:`. */
function storeScheme(url: string): string {
  try {
    return new URL(url).protocol;
  } catch {
    throw new UsageError(`--store must be a store URL like memory: or redis://host:6379, got ${JSON.stringify(url)}`);
  }
}

/** Opens the store a --store URL names, loading only its module; `dataDir` is for the embedded store. */
async function openStore(url: string, dataDir: string): Promise<OpenedStore> {
  switch (storeScheme(url)) {
    case 'lmdb:':
      try {
        const { LmdbStore } = await import('../server/lmdb-store.js');
        return { store: new LmdbStore({ path: dataDir }), label: `lmdb ${dataDir}` };
      } catch (error) {
        const cause = (error as Error).cause instanceof Error ? `: ${((error as Error).cause as Error).message}` : '';
        throw new CliError(`cannot open the store at ${dataDir}${cause}`, { cause: error });
      }
    case 'memory:': {
      const { MemoryStore } = await import('../server/memory-store.js');
      return { store: new MemoryStore(), label: 'memory' };
    }
    case 'redis:':
    case 'rediss:': {
      const { RedisStore } = await import('../server/redis-store.js');
      try {
        return { store: new RedisStore({ url }), label: `redis ${new URL(url).host}` };
      } catch (error) {
        throw new UsageError(`--store ${url}: ${(error as Error).message}`);
      }
    }
    default:
      throw new UsageError(`--store ${url}: unknown kind of store; expected lmdb:, memory: or redis://`);
  }
}

/** One line saying why listening failed, from the system error code. */
function listenFailure(error: unknown, host: string, port: number): string {
  const address = `${host}:${port}`;
  switch ((error as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return `cannot listen on ${address}: the port is already in use; stop the other server or pick another --port`;
    case 'EACCES':
      return `cannot listen on ${address}: permission denied; pick a port above 1023`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${address}: ${host} is not an address of this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${address}: unknown host ${host}`;
    default:
      return `cannot listen on ${address}: ${(error as Error).message}`;
  }
}

export const command: Command = { usage: USAGE, run };

type LimitName = (typeof INTEGER_OPTIONS)[number];

/** The `--limit NAME=N` flags as server options; a name that is not a limit, or a value that is not a whole number, is a usage error. */
function limitsOf(flags: readonly string[]): Partial<Record<LimitName, number>> {
  const limits: Partial<Record<LimitName, number>> = {};
  for (const flag of flags) {
    const equals = flag.indexOf('=');
    const name = flag.slice(0, Math.max(0, equals));
    if (equals < 0 || !(INTEGER_OPTIONS as readonly string[]).includes(name)) {
      throw new UsageError(`--limit takes NAME=N with NAME one of ${INTEGER_OPTIONS.join(', ')}; got "${flag}"`);
    }
    limits[name as LimitName] = parseNumber(flag.slice(equals + 1), `--limit ${name}`, { integer: true, min: 0 });
  }
  return limits;
}
