/**
 * A structured logger that writes to a journal (after MADSci's EventClient):
 * each call appends an event named `log` whose context is `{ level, levelno,
 * message, source?, …bound context, …fields }`. A logging call never throws
 * and never waits for the server: events wait in bounded memory, or in a
 * spool directory on disk, until the server has stored them.
 */
import { EventEmitter } from 'eventemitter3';
import { JournalConnection } from '../connection.js';
import type { JournalError } from '../errors.js';
import { JournalProducer } from '../journal-producer.js';
import { checkJournalName, checkOptionalString, checkOptions, checkPositive, checkUrls, isPlainObject } from '../validate.js';
import { defaultLineSink, formatLine, type ConsoleFormat, type LineSink } from './console-output.js';
import { levelNumber, LOG_LEVELS, type LogLevel } from './levels.js';
import { utf8Length } from '../utf8.js';
import { BoundContext, describeError, safeString, truncateEvent } from './log-event.js';
import { MemorySender } from './memory-sender.js';
import type { Sender } from './sender.js';
import { Spool } from './spool.js';
import { SpoolSender } from './spool-sender.js';

export interface JournalLoggerOptions {
  /** What logs (a program, a component, a node): `source` in every event's context. */
  source?: string;
  /** Fields merged into every event's context; a call's own fields win. */
  context?: object;
  /** The least level logged; calls below it do nothing. A name or a number. @default 'info' */
  level?: LogLevel | number;
  /** Also print each event logged, on standard error: `pretty` for people, `json` for tools. @default false */
  console?: ConsoleFormat;
  /**
   * Events kept while they are not yet acknowledged, those in flight included.
   * Past it, the oldest not yet sent is dropped and counted in `dropped`. @default 10000
   */
  maxBuffered?: number;
  /**
   * A directory: every event is written there first and sent from there, so
   * that nothing is lost while the server is away, nor when the process dies.
   * One logger at a time per directory (a second one throws SPOOL_LOCKED).
   */
  spool?: string;
  /** Bytes the spool may hold; past it, the oldest eighth is deleted and its events counted in `dropped`. @default 67108864 */
  spoolMaxBytes?: number;
  /** Bearer token for the server (only with a URL). */
  token?: string;
  /** Seconds `close()` waits for events not yet acknowledged (without a spool, those left are counted in `dropped`). @default 5 */
  closeTimeout?: number;
}

/** What a logger emits. */
export interface JournalLoggerEvents {
  /** A failure the logging calls do not throw: an event refused by the server, a spool that cannot be written, a connection closed for good. */
  error: [error: JournalError];
}

const KNOWN_OPTIONS = ['source', 'context', 'level', 'console', 'maxBuffered', 'spool', 'spoolMaxBytes', 'token', 'closeTimeout'] as const;
/** The server's default largest event; events past it are cut to fit. */
const MAX_EVENT_SIZE = 64 * 1024;
/** `{"name":"log","context":` and the closing `}` less the name itself: what the server does not count in an event's size. */
const ENVELOPE = 22;

/** What a logger and the views `bind`/`unbind` made from it share. */
interface Core {
  readonly root: JournalLogger;
  readonly minLevel: number;
  readonly source: string | undefined;
  readonly console: ConsoleFormat;
  readonly print: LineSink;
  readonly sender: Sender;
  readonly producer: JournalProducer;
  readonly connection: JournalConnection;
  readonly ownsConnection: boolean;
  readonly closeTimeout: number;
  /** Events lost before they reached the sender (an unexpected failure, or logged after close). */
  lost: number;
  closing: Promise<void> | undefined;
}

/** Passed by `bind`/`unbind` to make a view on an existing logger. */
class View {
  constructor(
    readonly core: Core,
    readonly context: Record<string, unknown>,
  ) {}
}

/**
 * @example
 * const log = new JournalLogger('ws://127.0.0.1:7707', 'lab', { source: 'liquid-handler', spool: './spool' });
 * const run = log.bind({ workflow_id: 'wf-17', node: 'ot2-1' });
 * run.info('aspirate', { volume_ul: 50 });
 * run.exception('transfer failed', error);
 * await log.close();
 */
export class JournalLogger extends EventEmitter<JournalLoggerEvents> {
  readonly journal: string;
  readonly #core: Core;
  readonly #bound: BoundContext;

  constructor(url: string | readonly string[] | JournalConnection, journal: string, options?: JournalLoggerOptions);
  /** @internal */
  constructor(url: View, journal: string);
  constructor(url: string | readonly string[] | JournalConnection | View, journal: string, options: JournalLoggerOptions = {}) {
    super();
    if (url instanceof View) {
      this.journal = journal;
      this.#core = url.core;
      this.#bound = new BoundContext(url.context);
      return;
    }
    checkOptions(options, KNOWN_OPTIONS);
    this.journal = checkJournalName(journal);
    const source = checkOptionalString(options.source, 'options.source');
    if (options.context !== undefined && !isPlainObject(options.context)) throw new TypeError('options.context must be a plain object');
    const minLevel = levelNumber(options.level ?? 'info', 'options.level');
    const format = options.console ?? false;
    if (format !== false && format !== 'pretty' && format !== 'json') {
      throw new TypeError(`options.console must be 'pretty', 'json' or false, got ${JSON.stringify(format)}`);
    }
    const maxBuffered = checkPositive(options.maxBuffered ?? 10_000, 'options.maxBuffered', { integer: true });
    const spoolDir = checkOptionalString(options.spool, 'options.spool');
    const spoolMaxBytes = checkPositive(options.spoolMaxBytes ?? 64 * 1024 * 1024, 'options.spoolMaxBytes', { integer: true });
    if (spoolMaxBytes < 1024 * 1024) throw new RangeError(`options.spoolMaxBytes must be at least 1048576, got ${spoolMaxBytes}`);
    const closeTimeout = checkPositive(options.closeTimeout ?? 5, 'options.closeTimeout');
    const token = checkOptionalString(options.token, 'options.token');
    let connection: JournalConnection;
    const ownsConnection = !(url instanceof JournalConnection);
    if (url instanceof JournalConnection) {
      if (token !== undefined) throw new TypeError('options.token applies only with a URL; set it on the JournalConnection');
      connection = url;
    } else {
      connection = new JournalConnection(checkUrls(url), token === undefined ? {} : { token });
    }
    // The spool is opened last: a bad option must not leave it locked.
    const spool = spoolDir === undefined ? undefined : Spool.open(spoolDir, spoolMaxBytes);
    // The sender waits closeTimeout for acks; appends still in flight after that are not waited for again.
    const producer = new JournalProducer(connection, this.journal, { closeTimeout: Math.min(closeTimeout, 1) });
    this.#bound = new BoundContext({ ...(options.context as Record<string, unknown> | undefined) });
    const report = (error: JournalError): void => {
      this.emit('error', error);
    };
    const context = {
      producer,
      connection,
      maxBuffered,
      droppedWarning: (count: number) => this.#droppedWarning(count),
      report,
    };
    this.#core = {
      root: this,
      minLevel,
      source,
      console: format,
      print: defaultLineSink(),
      sender: spool === undefined ? new MemorySender(context) : new SpoolSender(context, spool),
      producer,
      connection,
      ownsConnection,
      closeTimeout,
      lost: 0,
      closing: undefined,
    };
  }

  /** Events lost so far: dropped past `maxBuffered` or `spoolMaxBytes`, refused by the server, or left unsent at `close()`. */
  get dropped(): number {
    return this.#core.sender.dropped + this.#core.lost;
  }

  debug(message: string, fields?: object): void {
    this.#log('debug', message, fields);
  }

  info(message: string, fields?: object): void {
    this.#log('info', message, fields);
  }

  warning(message: string, fields?: object): void {
    this.#log('warning', message, fields);
  }

  error(message: string, fields?: object): void {
    this.#log('error', message, fields);
  }

  critical(message: string, fields?: object): void {
    this.#log('critical', message, fields);
  }

  alert(message: string, fields?: object): void {
    this.#log('alert', message, fields);
  }

  /** Logs at `error`, with `exception: { name, message, stack, code?, cause?: {…} }` from `error` and its `cause` chain. */
  exception(message: string, error: unknown, fields?: object): void {
    if (LOG_LEVELS.error < this.#core.minLevel) return;
    let all: object;
    try {
      all = { ...fields, exception: describeError(error) };
    } catch {
      all = { exception: { message: safeString(error) } };
    }
    this.#log('error', message, all);
  }

  /** A logger on the same journal, connection and buffer whose events also carry `context`. */
  bind(context: object): JournalLogger {
    if (!isPlainObject(context)) throw new TypeError('context must be a plain object');
    return new JournalLogger(new View(this.#core, { ...this.#bound.values, ...context }), this.journal);
  }

  /** A logger on the same journal whose events no longer carry `keys` of the bound context. */
  unbind(...keys: string[]): JournalLogger {
    const context: Record<string, unknown> = { ...this.#bound.values };
    for (const key of keys) delete context[key];
    return new JournalLogger(new View(this.#core, context), this.journal);
  }

  /**
   * Resolves once every event logged before is acknowledged by the server (or
   * dropped), or, with a spool, written to it and synced while the server is away.
   */
  flush(): Promise<void> {
    return this.#core.sender.flush();
  }

  /**
   * Waits for the events not yet acknowledged (at most `closeTimeout`), then
   * closes the connection the logger made. Events still unsent stay in the
   * spool for the next logger on it; without a spool they are counted in
   * `dropped`. On a view made by `bind`/`unbind`, the same as `flush()`.
   * Idempotent; never rejects.
   */
  close(): Promise<void> {
    const core = this.#core;
    if (core.root !== this) return this.flush();
    core.closing ??= (async () => {
      try {
        await core.sender.close(core.closeTimeout);
        await core.producer.close();
        if (core.ownsConnection) await core.connection.close();
      } catch {
        // Closing never fails the caller: what was not sent is counted in `dropped` or stays in the spool.
      }
    })();
    return core.closing;
  }

  #log(level: LogLevel, message: string, fields: object | undefined): void {
    const core = this.#core;
    const levelno = LOG_LEVELS[level];
    if (levelno < core.minLevel) return;
    try {
      const text = typeof message === 'string' ? message : safeString(message);
      let event = this.#bound.encode(level, levelno, text, core.source, fields);
      const bytes = event.length * 3 > MAX_EVENT_SIZE ? utf8Length(event) - ENVELOPE : 0;
      if (bytes > MAX_EVENT_SIZE) event = truncateEvent(MAX_EVENT_SIZE, this.#bound, level, levelno, text, core.source, bytes) ?? event;
      this.#emit(event);
    } catch {
      core.lost++;
    }
  }

  #emit(event: string): void {
    const core = this.#core;
    if (core.console !== false) core.print(formatLine(core.console, event, new Date()));
    if (core.closing !== undefined) {
      core.lost++;
      return;
    }
    core.sender.push(event);
  }

  #droppedWarning(count: number): string {
    const message = `${count} log event${count === 1 ? ' was' : 's were'} dropped`;
    const event = new BoundContext({}).encode('warning', LOG_LEVELS.warning, message, this.#core?.source, { dropped: count });
    if (this.#core?.console) this.#core.print(formatLine(this.#core.console, event, new Date()));
    return event;
  }
}
