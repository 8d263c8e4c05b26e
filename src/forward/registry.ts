/**
 * Handlers by name (after e3's `EventManager`): the registry of handler factories, the
 * built-in ones, and the `name=config|name2=config` form in which a set of handlers is
 * passed between processes through an environment variable.
 */
import { environment, setEnvironment } from '#platform';
import { ErrorCode, JournalError } from '../errors.js';
import { FileHandler } from './file-handler.js';
import type { EventHandler } from './handler.js';
import { JournalHandler } from './journal-handler.js';
import { StdoutHandler } from './stdout-handler.js';
import { WebhookHandler } from './webhook-handler.js';

/** Makes a handler from its configuration string (what its `encodeConfig()` returns). */
export type HandlerFactory = (config: string) => EventHandler;

/** The variable `loadHandlersFromEnv` and `handlerConfigAsEnv` use unless told otherwise. */
export const HANDLERS_VARIABLE = 'WSJOURNAL_HANDLERS';

/** A handler name: a letter, then letters, digits, `_`, `.` or `-` (never `=` nor `|`). */
const HANDLER_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

const factories = new Map<string, HandlerFactory>([
  ['file', (config) => new FileHandler(config)],
  ['webhook', (config) => new WebhookHandler(config)],
  ['stdout', (config) => new StdoutHandler(config)],
  ['journal', (config) => JournalHandler.fromConfig(config)],
]);

/**
 * Registers (or replaces) the factory of handlers named `name`. The handlers it makes must
 * have that `name`.
 *
 * @example
 * registerHandler('syslog', (config) => new SyslogHandler(config));
 * process.env.WSJOURNAL_HANDLERS = 'syslog=udp://127.0.0.1:514|stdout';
 * const handlers = loadHandlersFromEnv();
 */
export function registerHandler(name: string, factory: HandlerFactory): void {
  if (typeof name !== 'string' || !HANDLER_NAME.test(name)) {
    throw new TypeError(`a handler name is a letter then up to 63 letters, digits, _, . or -; got ${JSON.stringify(name)}`);
  }
  if (typeof factory !== 'function') throw new TypeError('factory must be a function');
  factories.set(name, factory);
}

/** The names handlers are registered under. */
export function handlerNames(): string[] {
  return [...factories.keys()];
}

/** A handler of the registered kind `name`, from its configuration. Throws `INVALID_HANDLER`. */
export function createHandler(name: string, config = ''): EventHandler {
  const factory = typeof name === 'string' ? factories.get(name) : undefined;
  if (factory === undefined) {
    throw new JournalError(ErrorCode.INVALID_HANDLER, `no handler is registered as ${JSON.stringify(name)} (known: ${handlerNames().join(', ')})`);
  }
  let handler: EventHandler;
  try {
    handler = factory(config);
  } catch (error) {
    throw new JournalError(ErrorCode.INVALID_HANDLER, `${name}=${config}: ${(error as Error).message}`, { cause: error });
  }
  if (handler?.name !== name || typeof handler.send !== 'function' || typeof handler.encodeConfig !== 'function') {
    throw new JournalError(ErrorCode.INVALID_HANDLER, `the factory registered as ${JSON.stringify(name)} made no handler named so with send() and encodeConfig()`);
  }
  return handler;
}

/**
 * The handlers a `name=config|name2=config` string describes (`name` alone for an empty
 * config). The config is everything after the first `=`; blank entries are skipped.
 * Throws `INVALID_HANDLER`, naming the entry, for an unknown name or a bad config.
 */
export function parseHandlers(value: string): EventHandler[] {
  if (typeof value !== 'string') throw new TypeError('value must be a string');
  const handlers: EventHandler[] = [];
  for (const entry of value.split('|')) {
    if (entry.trim() === '') continue;
    const equals = entry.indexOf('=');
    const name = (equals === -1 ? entry : entry.slice(0, equals)).trim();
    handlers.push(createHandler(name, equals === -1 ? '' : entry.slice(equals + 1)));
  }
  return handlers;
}

/**
 * The handlers configured in the environment variable `variable`, in e3's format:
 * `"file=/var/log/a.jsonl|webhook=http://h/x|stdout"`. None when it is unset or empty.
 */
export function loadHandlersFromEnv(variable = HANDLERS_VARIABLE): EventHandler[] {
  const value = environment(variable);
  if (value === undefined) return [];
  try {
    return parseHandlers(value);
  } catch (error) {
    if (error instanceof JournalError) throw new JournalError(error.code, `${variable}: ${error.message}`, { cause: error.cause });
    throw error;
  }
}

/**
 * Sets the environment variable `variable` to the `name=config|…` form of `handlers`, so that
 * processes started from here (or `loadHandlersFromEnv`) make the same handlers, and returns
 * its value. A config holding `|` cannot be written in that form: RangeError.
 */
export function handlerConfigAsEnv(handlers: readonly EventHandler[], variable = HANDLERS_VARIABLE): string {
  const value = handlers
    .map((handler) => {
      const config = handler.encodeConfig();
      if (config.includes('|')) throw new RangeError(`the ${handler.name} handler's config ${JSON.stringify(config)} holds "|", which the environment form cannot carry`);
      return config === '' ? handler.name : `${handler.name}=${config}`;
    })
    .join('|');
  setEnvironment(variable, value);
  return value;
}
