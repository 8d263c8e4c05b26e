/**
 * A journal's charts from the report and spans routes: events per period
 * stacked by name, level or a context key, and utilization per key, with the
 * period, time zone and range chosen on the page (and kept in the address),
 * and the CSV of what is shown.
 */
import { useEffect, useId, useMemo, useState } from 'preact/hooks';
import { ApiError, type ReportQuery, type SpansQuery } from './api.js';
import { BarChart } from './bar-chart.js';
import { reportChart, spansChart, type ChartData, type Period } from './chart-data.js';
import { formatCount, localTimeZone, timeZones } from './format.js';
import { journalHref } from './route.js';
import { useServices } from './services.js';

export interface ChartsViewProps {
  journal: string;
  params: URLSearchParams;
}

const RANGES = { '1h': 3600, '24h': 86_400, '7d': 7 * 86_400, '30d': 30 * 86_400, '365d': 365 * 86_400, all: 0 } as const;
type Range = keyof typeof RANGES;
const RANGE_LABELS: Record<Range, string> = {
  '1h': 'the last hour',
  '24h': 'the last 24 hours',
  '7d': 'the last 7 days',
  '30d': 'the last 30 days',
  '365d': 'the last year',
  all: 'all time',
};
const PERIODS: Period[] = ['hour', 'day', 'week', 'month'];

/** The chart's settings, as kept in the address. */
interface Settings {
  kind: 'events' | 'utilization';
  period: Period;
  tz: string;
  range: Range;
  by: string;
  start: string;
  stop: string;
  key: string;
}

function settingsFrom(params: URLSearchParams): Settings {
  const period = params.get('period') as Period | null;
  const range = params.get('range') as Range | null;
  return {
    kind: params.get('kind') === 'utilization' ? 'utilization' : 'events',
    period: period && PERIODS.includes(period) ? period : 'hour',
    tz: knownZone(params.get('tz')) ?? localTimeZone(),
    range: range && range in RANGES ? range : '24h',
    by: params.get('by') || 'name',
    start: params.get('start') ?? 'start',
    stop: params.get('stop') ?? 'stop',
    key: params.get('key') ?? 'context.run',
  };
}

/** `zone` when the browser knows it as an IANA time zone. */
function knownZone(zone: string | null): string | undefined {
  if (!zone) return undefined;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone;
  } catch {
    return undefined;
  }
}

function bounds(range: Range): { from?: string; to?: string } {
  const seconds = RANGES[range];
  if (seconds === 0) return {};
  const now = Date.now();
  return { from: new Date(now - seconds * 1000).toISOString(), to: new Date(now).toISOString() };
}

type Loaded = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; data: ChartData; path: string; csvPath: string };

export function ChartsView({ journal, params }: ChartsViewProps) {
  const { api, unauthorized } = useServices();
  const id = useId();
  const settings = useMemo(() => settingsFrom(params), [params.toString()]);
  const [draft, setDraft] = useState(settings);
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' });
  const [refresh, setRefresh] = useState(0);
  const zones = useMemo(() => timeZones(), []);
  useEffect(() => setDraft(settings), [settings]);

  useEffect(() => {
    const abort = new AbortController();
    setLoaded({ state: 'loading' });
    const { from, to } = bounds(settings.range);
    const common = { period: settings.period, tz: settings.tz, from, to };
    const load = async (): Promise<Loaded> => {
      if (settings.kind === 'events') {
        const query: ReportQuery = { ...common, by: settings.by };
        const rows = await api.report(journal, query, abort.signal);
        return { state: 'ready', data: reportChart(rows, settings.period, settings.tz), path: api.reportPath(journal, query, 'json'), csvPath: api.reportPath(journal, query, 'csv') };
      }
      const query: SpansQuery = { ...common, start: settings.start, stop: settings.stop, key: settings.key };
      const rows = await api.spans(journal, query, abort.signal);
      return { state: 'ready', data: spansChart(rows, settings.period, settings.tz), path: api.spansPath(journal, query, 'json'), csvPath: api.spansPath(journal, query, 'csv') };
    };
    load().then(
      (result) => {
        if (!abort.signal.aborted) setLoaded(result);
      },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        if (error instanceof ApiError && error.status === 401) unauthorized(error.message);
        setLoaded({ state: 'error', message: error instanceof ApiError ? `${error.code}: ${error.message}` : String(error) });
      },
    );
    return () => abort.abort();
  }, [api, journal, settings, refresh, unauthorized]);

  const [zoneError, setZoneError] = useState<string | undefined>(undefined);
  const apply = (event: Event) => {
    event.preventDefault();
    if (knownZone(draft.tz) === undefined) {
      setZoneError(`${JSON.stringify(draft.tz)} is not a time zone this browser knows (like UTC or Europe/Paris)`);
      return;
    }
    setZoneError(undefined);
    const next: Record<string, string> = { kind: draft.kind, period: draft.period, tz: draft.tz, range: draft.range };
    if (draft.kind === 'events') next['by'] = draft.by;
    else Object.assign(next, { start: draft.start, stop: draft.stop, key: draft.key });
    const hash = journalHref('charts', journal, next);
    if (location.hash === hash) setRefresh((n) => n + 1);
    else location.hash = hash;
  };

  const download = async () => {
    if (loaded.state !== 'ready') return;
    try {
      const text = await api.text(loaded.csvPath);
      const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = `${journal}-${settings.kind === 'events' ? 'report' : 'spans'}-${settings.period}.csv`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      setLoaded({ state: 'error', message: error instanceof ApiError ? `${error.code}: ${error.message}` : String(error) });
    }
  };

  const title =
    settings.kind === 'events'
      ? `Events per ${settings.period} by ${settings.by}, ${RANGE_LABELS[settings.range]} (${settings.tz})`
      : `Utilization per ${settings.period} by ${settings.key} (${settings.start} → ${settings.stop}), ${RANGE_LABELS[settings.range]} (${settings.tz})`;

  return (
    <section class="charts-view" aria-labelledby={`${id}-title`}>
      <div class="view-head">
        <h1 id={`${id}-title`}>{journal}: charts</h1>
        <a class="button-link" href={journalHref('journal', journal)}>
          Events
        </a>
      </div>
      <form class="chart-form" onSubmit={apply} aria-label="What to chart">
        <div class="field">
          <label for={`${id}-kind`}>Chart</label>
          <select id={`${id}-kind`} value={draft.kind} onChange={(e) => setDraft({ ...draft, kind: e.currentTarget.value as Settings['kind'] })}>
            <option value="events">Events per period</option>
            <option value="utilization">Utilization (spans)</option>
          </select>
        </div>
        <div class="field">
          <label for={`${id}-period`}>Period</label>
          <select id={`${id}-period`} value={draft.period} onChange={(e) => setDraft({ ...draft, period: e.currentTarget.value as Period })}>
            {PERIODS.map((period) => (
              <option key={period} value={period}>
                {period}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for={`${id}-tz`}>Time zone</label>
          <input
            id={`${id}-tz`}
            list={`${id}-zones`}
            value={draft.tz}
            onInput={(e) => setDraft({ ...draft, tz: e.currentTarget.value })}
            aria-invalid={zoneError !== undefined ? 'true' : 'false'}
            aria-describedby={`${id}-tz-error`}
          />
          <datalist id={`${id}-zones`}>
            {zones.map((zone) => (
              <option key={zone} value={zone} />
            ))}
          </datalist>
        </div>
        <div class="field">
          <label for={`${id}-range`}>Range</label>
          <select id={`${id}-range`} value={draft.range} onChange={(e) => setDraft({ ...draft, range: e.currentTarget.value as Range })}>
            {(Object.keys(RANGES) as Range[]).map((range) => (
              <option key={range} value={range}>
                {RANGE_LABELS[range]}
              </option>
            ))}
          </select>
        </div>
        {draft.kind === 'events' ? (
          <div class="field">
            <label for={`${id}-by`}>Stacked by</label>
            <input id={`${id}-by`} value={draft.by} list={`${id}-bys`} onInput={(e) => setDraft({ ...draft, by: e.currentTarget.value })} aria-describedby={`${id}-by-hint`} />
            <datalist id={`${id}-bys`}>
              <option value="name" />
              <option value="level" />
            </datalist>
            <span id={`${id}-by-hint`} class="visually-hidden">
              name, level, or context.KEY
            </span>
          </div>
        ) : (
          <>
            <div class="field">
              <label for={`${id}-start`}>Start event</label>
              <input id={`${id}-start`} value={draft.start} onInput={(e) => setDraft({ ...draft, start: e.currentTarget.value })} />
            </div>
            <div class="field">
              <label for={`${id}-stop`}>Stop event</label>
              <input id={`${id}-stop`} value={draft.stop} onInput={(e) => setDraft({ ...draft, stop: e.currentTarget.value })} />
            </div>
            <div class="field">
              <label for={`${id}-key`}>Key</label>
              <input id={`${id}-key`} value={draft.key} onInput={(e) => setDraft({ ...draft, key: e.currentTarget.value })} />
            </div>
          </>
        )}
        <div class="field buttons">
          <button type="submit">Show</button>
          <button type="button" onClick={() => void download()} disabled={loaded.state !== 'ready'} data-testid="csv">
            Download CSV
          </button>
        </div>
        <p id={`${id}-tz-error`} class="error field-error" role="alert">
          {zoneError ?? ''}
        </p>
      </form>
      <p role="status" class="status" data-testid="chart-status">
        {loaded.state === 'loading'
          ? 'Loading…'
          : loaded.state === 'ready'
            ? `${formatCount(loaded.data.periods.length)} period${loaded.data.periods.length === 1 ? '' : 's'} shown${
                loaded.data.hidden > 0 ? `; ${formatCount(loaded.data.hidden)} more keys not drawn (see the CSV)` : ''
              }.`
            : ''}
      </p>
      {loaded.state === 'error' && (
        <p role="alert" class="error">
          Could not draw the chart: {loaded.message}
        </p>
      )}
      {loaded.state === 'ready' &&
        (loaded.data.periods.length === 0 ? (
          <p>No events in this range.</p>
        ) : (
          <BarChart
            title={title}
            periods={loaded.data.periods}
            groups={loaded.data.groups}
            mode={settings.kind === 'events' ? 'stacked' : 'grouped'}
            {...(settings.kind === 'utilization' ? { max: 1 } : {})}
            formatValue={settings.kind === 'events' ? (value) => formatCount(Math.round(value)) : (value) => `${Math.round(value * 100)}%`}
          />
        ))}
    </section>
  );
}
