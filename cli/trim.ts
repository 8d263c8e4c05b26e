/** `wsjournal trim`: removes a journal's oldest events on the server now (HTTP API, admin). */
import type { Command } from './args.js';
import { removalCommand } from './remove-events.js';

export const command: Command = removalCommand(
  { verb: 'trim', counted: 'trimmed' },
  `Removes the oldest events of JOURNAL on the server: those with a timestamp
before TS (seconds since the epoch) or a seq before N (N itself is kept).
The newest event is always kept. Consumers whose start lies before what is
kept are told ('truncated'). Prints "trimmed <count>".`,
);
