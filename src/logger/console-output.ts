/**
 * Development output of a logger: each event as a line on standard error
 * (`console.error` where there is no `process.stderr`, as in browsers),
 * `pretty` for people or `json` for tools.
 */

/** How a logger prints its events: `pretty`, `json`, or not at all. */
export type ConsoleFormat = 'pretty' | 'json' | false;

/** Writes one line; never throws. */
export type LineSink = (line: string) => void;

/** Standard error in Node, `console.error` elsewhere. */
export function defaultLineSink(): LineSink {
  const stderr = (globalThis as { process?: { stderr?: { write?: (text: string) => unknown } } }).process?.stderr;
  if (typeof stderr?.write === 'function') {
    return (line) => {
      try {
        stderr.write!(`${line}\n`);
      } catch {
        // A closed stderr must not make a logging call throw.
      }
    };
  }
  return (line) => {
    try {
      globalThis.console?.error(line);
    } catch {
      // As above.
    }
  };
}

/**
 * The line for `event` (the JSON text of a log event, `{"name":"log","context":{…}}`):
 * `json` prints `{"time":"…",…context}`; `pretty` prints
 * `2026-01-02T03:04:05.678Z WARNING [source] message key=value …`.
 */
export function formatLine(format: 'pretty' | 'json', event: string, now: Date): string {
  const time = now.toISOString();
  // The context starts after `{"name":"log","context":` and ends before the last `}`.
  const context = event.slice(event.indexOf('"context":') + 10, -1);
  if (format === 'json') return `{"time":"${time}",${context.slice(1)}`;
  const { level, message, source, levelno: _levelno, ...rest } = JSON.parse(context) as Record<string, unknown>;
  // An exception's stack, and its causes', go on the lines below, as Node prints them.
  const exception = rest['exception'];
  const stack = stackLines(exception);
  if (stack !== undefined) delete rest['exception'];
  const fields = Object.entries(rest)
    .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`)
    .join(' ');
  const where = typeof source === 'string' ? ` [${source}]` : '';
  const line = `${time} ${String(level).toUpperCase().padEnd(8)}${where} ${String(message)}${fields === '' ? '' : ` ${fields}`}`;
  return stack === undefined ? line : `${line}\n${stack}`;
}

/** The stack of an `exception` field and of its causes, indented, or undefined when it has none. */
function stackLines(exception: unknown): string | undefined {
  const lines: string[] = [];
  for (let error = exception as { stack?: unknown; cause?: unknown } | undefined, depth = 0; error && depth < 8; depth++) {
    if (typeof error.stack !== 'string') break;
    lines.push(`${depth === 0 ? '' : '[cause]: '}${error.stack}`);
    error = error.cause as typeof error;
  }
  return lines.length === 0 ? undefined : lines.join('\n').replace(/^/gm, '    ');
}
