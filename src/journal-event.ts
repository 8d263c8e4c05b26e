/** What a journal holds: one named, timestamped event with its context. */
import type { SchemaRef } from './protocol.js';

/** An entry as the server sends it; every field optional so an empty entry makes the sentinel. */
export interface EventEntryInit {
  name?: string | undefined;
  timestamp?: number | undefined;
  context?: object | undefined;
  seq?: number | undefined;
  schema?: SchemaRef | undefined;
}

/**
 * One journal event. The empty event (no name) is the sentinel that marks the
 * end of history.
 *
 * @example
 * new JournalEvent({ name: 'submit', timestamp: 1.5, context: { id: 7 } }).toString()
 * // '1.50000 submit id=7'  (an empty context leaves the trailing space: '1.50000 submit ')
 */
export class JournalEvent {
  /** The event's name; `undefined` only for the empty (sentinel) event. */
  readonly name: string | undefined;
  /** Seconds since the epoch, as assigned by the server; now if the entry had none. */
  readonly timestamp: number;
  /** The event's fields; `{}` if none. */
  readonly context: Record<string, unknown>;
  /** The event's position in its journal, 1-based; `undefined` for the sentinel. */
  readonly seq: number | undefined;
  /** The registered schema the server checked `context` against, if the event named one. */
  readonly schema: SchemaRef | undefined;

  constructor(entry: EventEntryInit = {}) {
    this.name = entry.name;
    this.timestamp = entry.timestamp ?? Date.now() / 1000;
    this.context = (entry.context ?? {}) as Record<string, unknown>;
    this.seq = entry.seq;
    this.schema = entry.schema;
  }

  /** `k=v,k2=v2` with keys sorted; values that are not strings are JSON-encoded; `""` if empty. */
  get contextString(): string {
    const keys = Object.keys(this.context).sort();
    return keys
      .map((key) => {
        const value = this.context[key];
        return `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
      })
      .join(',');
  }

  /** True for the empty event, the sentinel. */
  isEmpty(): boolean {
    return this.name === undefined;
  }

  /** `"<timestamp> <name> <context>"`, or `"<timestamp> End of historical data stream"` for the sentinel. */
  toString(): string {
    const ts = this.timestamp.toFixed(5);
    if (this.isEmpty()) return `${ts} End of historical data stream`;
    return `${ts} ${this.name} ${this.contextString}`;
  }

  toJSON(): { name?: string; timestamp: number; context: Record<string, unknown>; seq?: number; schema?: SchemaRef } {
    const json: { name?: string; timestamp: number; context: Record<string, unknown>; seq?: number; schema?: SchemaRef } = {
      timestamp: this.timestamp,
      context: this.context,
    };
    if (this.name !== undefined) json.name = this.name;
    if (this.seq !== undefined) json.seq = this.seq;
    if (this.schema !== undefined) json.schema = this.schema;
    return json;
  }
}
