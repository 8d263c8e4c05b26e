/** `wsjournal schema add FILE…` and `wsjournal schema list`: the server's schema registry. */
import { readFile } from 'node:fs/promises';
import { JournalError } from '../src/errors.js';
import type { SchemaRef } from '../src/protocol.js';
import { SchemaRequests } from '../src/schema-requests.js';
import { CliError, parseCommandLine, UsageError, type Command } from './args.js';
import { CliConnection, DEFAULT_URL, LineWriter, tokenOption } from './io.js';

const USAGE = `Usage: wsjournal schema add FILE... [options]
       wsjournal schema list [options]

add   registers each FILE, a JSON Schema with "$id" and "version", in order,
      and prints "registered ID VERSION" (or "unchanged ID VERSION" when the
      same schema was registered already). A file that cannot be read or is
      refused (SCHEMA_CONFLICT, INVALID_SCHEMA) is reported, and the others
      are still registered.
list  prints each registered schema as "ID VERSION TITLE", in $id, then
      version, order; with --json, each schema whole, one JSON line each.

Options:
  --json          list: print the schemas themselves, one per line
  --url URL       the server (default: ${DEFAULT_URL})
  --token T       bearer token, if the server asks for one
                  (default: $WSJOURNAL_TOKEN)
  -h, --help      show this help

Exit status: 0 on success; 1 when a file was not registered, or on a
connection error; 2 on bad arguments.
`;

const OPTIONS = {
  json: { type: 'boolean' },
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

/** Schemas per page while listing. */
const PAGE = 100;

/** Seconds a registration or a page of the list waits for the server's answer, as an append does. */
const REQUEST_TIMEOUT_S = 30;

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [action, ...files] = positionals;
  if (action === undefined) throw new UsageError('missing add or list');
  if (action !== 'add' && action !== 'list') throw new UsageError(`unknown action ${JSON.stringify(action)}; use add or list`);
  if (action === 'add' && files.length === 0) throw new UsageError('missing FILE');
  if (action === 'list' && files.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(files[0])}`);
  if (action === 'add' && values.json === true) throw new UsageError('--json applies to list');
  const client = new CliConnection(values.url ?? DEFAULT_URL, { token: tokenOption(values.token), reconnect: true, maxReconnectAttempts: 5 });
  const requests = new SchemaRequests(client.connection, REQUEST_TIMEOUT_S);
  try {
    return action === 'add' ? await add(requests, client, files) : await list(requests, client, values.json === true);
  } finally {
    requests.close(new JournalError('CLOSED', 'the command is done'));
    await client.close();
  }
}

async function add(requests: SchemaRequests, client: CliConnection, files: readonly string[]): Promise<number> {
  let failed = 0;
  for (const file of files) {
    let schema: unknown;
    try {
      schema = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      process.stderr.write(`wsjournal schema: ${file}: ${(error as Error).message}\n`);
      failed++;
      continue;
    }
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      process.stderr.write(`wsjournal schema: ${file}: a schema file holds one JSON object\n`);
      failed++;
      continue;
    }
    try {
      const { id, version, created } = await requests.register(schema);
      process.stdout.write(`${created ? 'registered' : 'unchanged'} ${id} ${version}\n`);
    } catch (error) {
      // The server could not be reached at all: the other files would fail the same way.
      if (!client.opened) throw new CliError(client.describe(error));
      process.stderr.write(`wsjournal schema: ${file}: ${client.describe(error)}\n`);
      failed++;
    }
  }
  return failed === 0 ? 0 : 1;
}

async function list(requests: SchemaRequests, client: CliConnection, json: boolean): Promise<number> {
  const out = new LineWriter(process.stdout, () => {});
  let after: SchemaRef | undefined;
  do {
    let page;
    try {
      page = await requests.list(after, PAGE);
    } catch (error) {
      throw new CliError(client.describe(error));
    }
    for (const schema of page.schemas) {
      const line = json ? JSON.stringify(schema) : `${String(schema['$id'])} ${String(schema['version'])}${typeof schema['title'] === 'string' ? ` ${schema['title']}` : ''}`;
      await out.write(line);
      // A reader that went away (as \`head\` does) wants no more.
      if (out.broken) return 0;
    }
    after = page.next;
  } while (after !== undefined);
  out.dispose();
  return 0;
}

export const command: Command = { usage: USAGE, run };
