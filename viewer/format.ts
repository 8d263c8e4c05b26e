/** How values read on the page: times, counts, an event's context in one line. */

const numberFormat = new Intl.NumberFormat('en-US');

/** `1,234,567` */
export function formatCount(value: number): string {
  return numberFormat.format(value);
}

/** `2025-06-01 12:34:56.789` in the browser's zone, or in `timeZone`. */
export function formatTime(seconds: number, timeZone?: string): string {
  const date = new Date(seconds * 1000);
  const parts = partsOf(date, timeZone);
  const ms = String(date.getUTCMilliseconds()).padStart(3, '0');
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}.${ms}`;
}

/** A time as an ISO string in UTC with microseconds, as the server keeps it. */
export function formatIsoMicros(seconds: number): string {
  const whole = Math.floor(seconds);
  const micros = Math.round((seconds - whole) * 1e6);
  const iso = new Date(whole * 1000).toISOString().replace('.000Z', '');
  return `${iso}.${String(Math.min(micros, 999_999)).padStart(6, '0')}Z`;
}

/** `just now`, `42 s ago`, `5 min ago`, `3 h ago`, `2 d ago`. */
export function formatAgo(seconds: number, now: number = Date.now() / 1000): string {
  const age = Math.max(0, now - seconds);
  if (age < 1) return 'just now';
  if (age < 60) return `${Math.floor(age)} s ago`;
  if (age < 3600) return `${Math.floor(age / 60)} min ago`;
  if (age < 86_400) return `${Math.floor(age / 3600)} h ago`;
  return `${Math.floor(age / 86_400)} d ago`;
}

/** Events per second with sensible precision. */
export function formatRate(perSecond: number): string {
  if (perSecond === 0) return '0/s';
  if (perSecond < 1) return `${perSecond.toFixed(2)}/s`;
  if (perSecond < 100) return `${perSecond.toFixed(1)}/s`;
  return `${formatCount(Math.round(perSecond))}/s`;
}

/** `k=v, k2=v2` with keys sorted and values JSON where not strings, cut at `max` characters. */
export function contextLine(context: Record<string, unknown>, max = 240): string {
  let line = '';
  for (const key of Object.keys(context).sort()) {
    const value = context[key];
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    line += `${line === '' ? '' : ' '}${key}=${text}`;
    if (line.length > max) return `${line.slice(0, max - 1)}…`;
  }
  return line;
}

/**
 * What the search box means: all digits (optionally `#`) is a seq; otherwise
 * a time: seconds since the epoch with a fraction, or a date and time that
 * `Date` understands (an ISO string without a zone is local time).
 */
export function parseJump(text: string): { seq: number } | { time: number } | undefined {
  const value = text.trim();
  if (value === '') return undefined;
  const seq = /^#?(\d+)$/.exec(value);
  if (seq) {
    const n = Number(seq[1]);
    return Number.isSafeInteger(n) && n >= 1 ? { seq: n } : undefined;
  }
  if (/^\d+\.\d*$/.test(value)) return { time: Number(value) };
  // "2025-06-01 12:00" reads as local time, like the times in the list.
  const ms = Date.parse(value.replace(/^(\d{4}-\d{2}-\d{2}) (\d)/, '$1T$2'));
  return Number.isNaN(ms) ? undefined : { time: ms / 1000 };
}

/** Every time zone the browser knows, for the zone picker. */
export function timeZones(): string[] {
  const withSupported = Intl as typeof Intl & { supportedValuesOf?: (key: string) => string[] };
  const zones = withSupported.supportedValuesOf?.('timeZone') ?? [];
  return zones.includes('UTC') ? zones : ['UTC', ...zones];
}

/** The browser's own zone. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function partsOf(date: Date, timeZone: string | undefined): Record<string, string> {
  const key = timeZone ?? '';
  let formatter = formatters.get(key);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-CA', {
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      ...(timeZone ? { timeZone } : {}),
    });
    formatters.set(key, formatter);
  }
  const parts: Record<string, string> = {};
  for (const part of formatter.formatToParts(date)) parts[part.type] = part.value;
  return parts;
}
