/** The `stdout` handler: each event as a line on standard output. */
import { writeStdout } from '#platform';
import type { JournalEvent } from '../journal-event.js';
import { refused, type EventHandler } from './handler.js';

/**
 * Writes each event to standard output (the console in a browser) as a line of JSON, or,
 * configured as `stdout=text`, as `JournalEvent.toString()`. Waits for the stream when it
 * is backed up. Configured as `stdout` or `stdout=text`.
 */
export class StdoutHandler implements EventHandler {
  readonly name = 'stdout';
  readonly format: 'json' | 'text';

  constructor(format: string = 'json') {
    if (format === '') format = 'json';
    if (format !== 'json' && format !== 'text') throw new TypeError(`the stdout handler's format is json or text, got ${JSON.stringify(format)}`);
    this.format = format;
  }

  send(event: JournalEvent): Promise<void> {
    return write(`${this.#line(event)}\n`);
  }

  sendBatch(events: readonly JournalEvent[]): Promise<void> {
    let text = '';
    for (const event of events) text += `${this.#line(event)}\n`;
    return write(text);
  }

  encodeConfig(): string {
    return this.format === 'json' ? '' : this.format;
  }

  #line(event: JournalEvent): string {
    return this.format === 'json' ? JSON.stringify(event) : event.toString();
  }
}

/** Writes to standard output; once it is closed (a reader that went away), nothing can take an event: refused for good. */
async function write(text: string): Promise<void> {
  try {
    await writeStdout(text);
  } catch (error) {
    throw refused(`standard output is closed: ${(error as Error).message}`, error);
  }
}
