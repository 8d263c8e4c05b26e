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
  const fields = Object.entries(rest)
    .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`)
    .join(' ');
  const where = typeof source === 'string' ? ` [${source}]` : '';
  return `${time} ${String(level).toUpperCase().padEnd(8)}${where} ${String(message)}${fields === '' ? '' : ` ${fields}`}`;
}
