/** `wsjournal archive`: moves a journal's oldest events into the server's archive files (HTTP API, admin). */
import type { Command } from './args.js';
import { removalCommand } from './remove-events.js';

export const command: Command = removalCommand(
  { verb: 'archive', counted: 'archived' },
  `Moves the oldest events of JOURNAL out of the server's store into gzip'd
archive files under its data directory: those with a timestamp before TS
(seconds since the epoch) or a seq before N (N itself is kept). The newest
event always stays. Archived events are read with "wsjournal export
--archived" or GET .../events?archived=true. Prints "archived <count>".`,
);
