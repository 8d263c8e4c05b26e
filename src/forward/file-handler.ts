/** The `file` handler: each event as a line of JSON, appended to a file. */
import { AppendOnlyFile } from '#platform';
import type { JournalEvent } from '../journal-event.js';
import type { EventHandler } from './handler.js';

/**
 * Appends one `JSON.stringify(event)` line per event (the `JournalEvent.toJSON()` shape,
 * `{"timestamp","context","name","seq"}`) to a file, created if missing and never
 * truncated. A batch goes in one write; `flush()` fdatasyncs the file, so what a
 * forwarder's checkpoint has passed survives a power loss. Node.js only.
 *
 * Configured as `file=PATH`.
 */
export class FileHandler implements EventHandler {
  readonly name = 'file';
  readonly #file: AppendOnlyFile;
  readonly #config: string;

  constructor(path: string) {
    if (typeof path !== 'string' || path === '') throw new TypeError('the file handler needs a path');
    this.#config = path;
    this.#file = new AppendOnlyFile(path);
  }

  /** The file's absolute path. */
  get path(): string {
    return this.#file.path;
  }

  send(event: JournalEvent): Promise<void> {
    return this.#file.append(`${JSON.stringify(event)}\n`);
  }

  sendBatch(events: readonly JournalEvent[]): Promise<void> {
    let text = '';
    for (const event of events) text += `${JSON.stringify(event)}\n`;
    return this.#file.append(text);
  }

  flush(): Promise<void> {
    return this.#file.sync();
  }

  encodeConfig(): string {
    return this.#config;
  }

  close(): Promise<void> {
    return this.#file.close();
  }
}
