/**
 * The periods of a report: hours, days, ISO weeks (Monday to Monday) and months of an IANA
 * time zone, as instants in microseconds since the epoch. Every boundary is computed by
 * Luxon, which reads the zone's rules through `Intl`: a day is midnight to midnight of the
 * zone, 23 or 25 hours long across a daylight-saving change; a day whose midnight does not
 * exist (a change at 00:00) starts at the first instant it has. Nothing here adds or
 * subtracts offsets by hand.
 */
import { DateTime, IANAZone } from 'luxon';
import { firstMicrosFrom } from '../encode.js';

export const PERIODS = ['hour', 'day', 'week', 'month'] as const;
export type PeriodUnit = (typeof PERIODS)[number];

/** A span of time, `[start, end)`, in microseconds since the epoch. */
export interface Period {
  readonly start: number;
  readonly end: number;
}

/** Longest zone name taken (the longest IANA name is about 30 characters). */
const MAX_ZONE_LENGTH = 64;
/** IANA names: `Europe/Berlin`, `America/Argentina/Buenos_Aires`, `Etc/GMT+5`, `UTC`; never a bare offset like `+01:00`. */
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;
/** A period's usual length in ms: only a guard, should a zone's rules ever give a period that does not move forward. */
const NOMINAL_MS: Readonly<Record<PeriodUnit, number>> = { hour: 3_600_000, day: 86_400_000, week: 604_800_000, month: 2_592_000_000 };

/** Whether `name` is an IANA time zone this runtime knows. */
export function isTimeZone(name: string): boolean {
  return name.length <= MAX_ZONE_LENGTH && ZONE_NAME.test(name) && IANAZone.isValidZone(name);
}

/** Most characters of a `from` or `to` given as an ISO 8601 date or time. */
const MAX_INSTANT_LENGTH = 64;
/** Seconds since the epoch, as timestamps are written. */
const SECONDS = /^\d{1,16}(\.\d{1,16})?([eE][+-]?\d{1,3})?$/;

/**
 * An instant given as seconds since the epoch (`1711843200.25`) or as an ISO 8601 date or
 * date-time (`2024-03-31`, `2024-03-31T02:30`, `2024-03-31T00:00:00Z`); one without an
 * offset is a wall time of `zone`. Microseconds since the epoch (an instant in seconds is
 * rounded up to the first whole microsecond at or after it), or undefined when the text is
 * neither.
 */
export function parseInstant(text: string, zone: string): number | undefined {
  if (text.length > MAX_INSTANT_LENGTH) return undefined;
  if (SECONDS.test(text)) {
    const seconds = Number(text);
    return Number.isFinite(seconds) ? Math.ceil(seconds * 1e6 - 1e-3) : undefined;
  }
  const parsed = DateTime.fromISO(text, { zone });
  return parsed.isValid ? parsed.toMillis() * 1000 : undefined;
}

/**
 * Periods of one unit in one zone. `periodOf` remembers the period after the last one it
 * gave, so that a scan moving from one period into the next (the usual case) costs one
 * boundary computation, not two.
 */
export class Calendar {
  readonly unit: PeriodUnit;
  readonly zone: string;
  /** Whether the zone is UTC itself, written `Z` in ISO times. */
  readonly #utc: boolean;
  #lastIso: [micros: number, text: string] = [Number.NaN, ''];
  #following: Period | undefined;

  /** `zone` must pass {@link isTimeZone}. */
  constructor(unit: PeriodUnit, zone: string) {
    if (!PERIODS.includes(unit)) throw new RangeError(`unit must be one of ${PERIODS.join(', ')}`);
    if (!isTimeZone(zone)) throw new RangeError(`zone must be an IANA time zone, got ${JSON.stringify(zone)}`);
    this.unit = unit;
    this.zone = zone;
    this.#utc = /^(Etc\/)?(UTC|UCT|Universal|Zulu)$/i.test(zone);
  }

  /** The period that holds the instant `micros`. */
  periodOf(micros: number): Period {
    const following = this.#following;
    if (following !== undefined && micros >= following.start && micros < following.end) {
      this.#following = { start: following.end, end: this.#endOf(following.end) };
      return following;
    }
    const at = DateTime.fromMillis(Math.floor(micros / 1000), { zone: this.zone });
    const start = at.startOf(this.unit).toMillis() * 1000;
    const period = { start, end: this.#endOf(start) };
    this.#following = { start: period.end, end: this.#endOf(period.end) };
    return period;
  }

  /** The period that holds `micros`, cut by `from` and `to` (microseconds, each optional) where it reaches past them. */
  window(micros: number, from: number | undefined, to: number | undefined): Period {
    const period = this.periodOf(micros);
    const start = from !== undefined && from > period.start ? from : period.start;
    const end = to !== undefined && to < period.end ? to : period.end;
    return start === period.start && end === period.end ? period : { start, end };
  }

  /** The instant as ISO 8601 in the zone, its fraction of a second to the microsecond when it has one: `2024-03-31T00:00:00+01:00`. */
  iso(micros: number): string {
    const [last, text] = this.#lastIso;
    if (last === micros) return text;
    const ms = Math.floor(micros / 1000);
    const at = DateTime.fromMillis(ms, { zone: this.zone });
    const fraction = at.millisecond * 1000 + (micros - ms * 1000);
    const seconds = fraction === 0 ? '' : `.${String(fraction).padStart(6, '0').replace(/0+$/, '')}`;
    const offset = this.#utc ? 'Z' : at.toFormat('ZZ');
    const iso = `${at.toFormat("yyyy-MM-dd'T'HH:mm:ss")}${seconds}${offset}`;
    this.#lastIso = [micros, iso];
    return iso;
  }

  /** The end of the period that starts at `startMicros`: the start of the next one. */
  #endOf(startMicros: number): number {
    const startMs = startMicros / 1000;
    const end = DateTime.fromMillis(startMs, { zone: this.zone })
      .plus({ [this.unit]: 1 })
      .startOf(this.unit)
      .toMillis();
    // A period always moves time forward, whatever the zone's rules say.
    return (end > startMs ? end : startMs + NOMINAL_MS[this.unit]) * 1000;
  }
}
