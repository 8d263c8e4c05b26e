/**
 * What `wsjournal trim` and `wsjournal archive` share: one journal, a bound (`--before TS` or
 * `--before-seq N`), one admin call over HTTP, and the count it answers printed.
 */
import { checkPositionals, parseCommandLine, parseNumber, UsageError, type Command } from './args.js';
import { httpClient, request } from './http.js';
import { DEFAULT_URL } from './io.js';

const OPTIONS = {
  before: { type: 'string' },
  'before-seq': { type: 'string' },
  url: { type: 'string' },
  json: { type: 'boolean' },
  token: { type: 'string' },
} as const;

/** The verb's client call and the key of the count it answers. */
export type Removal =
  | { readonly verb: 'trim'; readonly counted: 'trimmed' }
  | { readonly verb: 'archive'; readonly counted: 'archived' };

/** A command for `removal`, with `description`: the help's paragraph after the usage line. */
export function removalCommand(removal: Removal, description: string): Command {
  const { verb, counted } = removal;
  const usage = `Usage: wsjournal ${verb} JOURNAL (--before TS | --before-seq N) [options]

${description}

Options:
  --before TS       ${verb === 'trim' ? 'remove' : 'archive'} events with a timestamp before TS
  --before-seq N    ${verb === 'trim' ? 'remove' : 'archive'} events with a seq before N
  --url URL         server to ask (default: ${DEFAULT_URL})
  --json            print {"${counted}":N}
  --token T         an admin token, if the server asks for one
                    (default: $WSJOURNAL_TOKEN)
  -h, --help        show this help

Exit status: 0 on success; 1 when the server cannot be reached or refuses;
2 on bad arguments.
`;
  const run = async (args: string[]): Promise<number> => {
    const { values, positionals, help } = parseCommandLine(args, OPTIONS);
    if (help) {
      process.stdout.write(usage);
      return 0;
    }
    checkPositionals(positionals, 1, 1, 'JOURNAL');
    const before = values.before === undefined ? undefined : parseNumber(values.before, '--before', { min: 0 });
    const beforeSeq = values['before-seq'] === undefined ? undefined : parseNumber(values['before-seq'], '--before-seq', { min: 0, integer: true });
    if (before === undefined && beforeSeq === undefined) throw new UsageError(`${verb} needs --before or --before-seq`);
    const bound = { ...(before === undefined ? {} : { before }), ...(beforeSeq === undefined ? {} : { beforeSeq }) };
    const client = httpClient(values.url, values.token);
    const journal = positionals[0]!;
    const count = await request(client, async () => (verb === 'trim' ? (await client.trim(journal, bound)).trimmed : (await client.archive(journal, bound)).archived));
    process.stdout.write(values.json === true ? `${JSON.stringify({ [counted]: count })}\n` : `${counted} ${count}\n`);
    return 0;
  };
  return { usage, run };
}
