#!/usr/bin/env node
/**
 * The `wsjournal` command: dispatches to a subcommand, prints its errors as
 * one line on stderr, and exits with its status (0 ok, 1 failure, 2 usage).
 * Subcommands are loaded on demand, so `tail` and `append` never load the
 * server's native store.
 */
import { readFileSync } from 'node:fs';
import { CliError, EXIT_FAILURE, EXIT_USAGE, UsageError, type Command } from './args.js';
import { oneLine } from './one-line.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  serve: { summary: 'run a journal server', load: () => import('./serve.js') },
  tail: { summary: "print a journal's events, then follow live ones", load: () => import('./tail.js') },
  append: { summary: 'append an event, or JSON lines from standard input', load: () => import('./append.js') },
  schema: { summary: 'register JSON Schemas (add FILE...), or list them (list)', load: () => import('./schema.js') },
  query: { summary: "print a journal's events that match filters (HTTP API)", load: () => import('./query.js') },
  journals: { summary: 'list the journals and their heads (HTTP API)', load: () => import('./journals.js') },
  forward: { summary: "give a journal's events to handlers (files, webhooks, …)", load: () => import('./forward.js') },
  export: { summary: "write a journal's events as JSON lines", load: () => import('./export.js') },
  import: { summary: 'append exported events, or keep their seqs (--preserve)', load: () => import('./import.js') },
  log: { summary: 'log one event (level, message, fields) as a JournalLogger does', load: () => import('./log.js') },
  report: { summary: "count a journal's events per hour, day, week or month (HTTP API)", load: () => import('./report.js') },
  spans: { summary: 'busy time between paired events per key and period (HTTP API)', load: () => import('./spans.js') },
  trim: { summary: "remove a journal's oldest events now (HTTP API, admin)", load: () => import('./trim.js') },
  archive: { summary: "move a journal's oldest events into archive files (HTTP API, admin)", load: () => import('./archive.js') },
  purge: { summary: 'delete older archive files (HTTP API, admin)', load: () => import('./purge.js') },
  backup: { summary: "have the server write an online copy of its store (HTTP API, admin)", load: () => import('./backup.js') },
};

const USAGE = `Usage: wsjournal COMMAND [options]

Named, append-only, time-ordered event journals over WebSockets.

Commands:
${Object.entries(COMMANDS)
  .map(([name, { summary }]) => `  ${name.padEnd(18)}${summary}`)
  .join('\n')}
  help [COMMAND]    show this help, or a command's

Options:
  -h, --help        show this help
  --version         print the version

Run "wsjournal COMMAND --help" for a command's options.
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    process.stderr.write(USAGE);
    return EXIT_USAGE;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = args[0];
    if (topic === undefined) {
      process.stdout.write(USAGE);
      return 0;
    }
    return dispatch(topic, ['--help']);
  }
  if (name === '--version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  return dispatch(name, args);
}

async function dispatch(name: string, args: string[]): Promise<number> {
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (entry === undefined) {
    const what = name.startsWith('-') ? 'option' : 'command';
    process.stderr.write(`wsjournal: unknown ${what} ${JSON.stringify(name)}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const { command } = await entry.load();
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`wsjournal ${name}: ${error.message}\nTry "wsjournal ${name} --help".\n`);
      return EXIT_USAGE;
    }
    if (error instanceof CliError) {
      process.stderr.write(`wsjournal ${name}: ${oneLine(error.message)}\n`);
      return error.exitCode;
    }
    process.stderr.write(`wsjournal ${name}: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    return EXIT_FAILURE;
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/** Resolves once everything written to `stream` so far has been handed to the OS. */
function flush(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || !stream.writable) return Promise.resolve();
  return new Promise((resolve) => stream.write('', () => resolve()));
}

// A reader that goes away (EPIPE) is not an error of ours; commands that care watch for it too.
process.stdout.on('error', () => {});

const status = await main(process.argv.slice(2));
await Promise.all([flush(process.stdout), flush(process.stderr)]);
// Explicit, so that nothing left open (standard input, a socket in its closing handshake) holds the exit.
process.exit(status);
