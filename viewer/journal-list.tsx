/**
 * The journals: each with its head, the time of its last event and its recent
 * rate, refreshed every few seconds while the tab is visible.
 */
import { useEffect, useId, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { formatAgo, formatCount, formatRate, formatTime } from './format.js';
import { RateTracker } from './rate-tracker.js';
import { journalHref } from './route.js';
import { useServices } from './services.js';
import { Sparkline } from './sparkline.js';
import type { JournalInfo } from './types.js';

/** Seconds between refreshes. */
const REFRESH = 2;
/** Most rows drawn; past it the page asks to narrow the search. */
const MAX_ROWS = 500;

export function JournalList() {
  const { api, unauthorized } = useServices();
  const id = useId();
  const [journals, setJournals] = useState<JournalInfo[] | undefined>(undefined);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [search, setSearch] = useState('');
  const tracker = useRef(new RateTracker(60));

  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = async () => {
      timer = undefined;
      if (document.visibilityState !== 'hidden') {
        try {
          const { journals: list, more: beyond } = await api.journals(abort.signal);
          tracker.current.record(list, performance.now() / 1000);
          setJournals(list);
          setMore(beyond);
          setError(undefined);
        } catch (caught) {
          if (abort.signal.aborted) return;
          if (caught instanceof ApiError && caught.status === 401) {
            unauthorized(caught.message);
            return;
          }
          setError(caught instanceof ApiError ? `${caught.code}: ${caught.message}` : String(caught));
        }
      }
      if (!abort.signal.aborted) timer = setTimeout(refresh, REFRESH * 1000);
    };
    void refresh();
    return () => {
      abort.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [api, unauthorized]);

  const shown = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const matching = (journals ?? []).filter((journal) => journal.name.toLowerCase().includes(needle));
    return { rows: matching.slice(0, MAX_ROWS), total: matching.length };
  }, [journals, search]);
  const now = Date.now() / 1000;

  return (
    <section aria-labelledby={`${id}-title`} class="journals">
      <div class="view-head">
        <h1 id={`${id}-title`}>Journals</h1>
        <div class="field">
          <label for={`${id}-search`}>Find a journal</label>
          <input id={`${id}-search`} type="search" value={search} onInput={(event) => setSearch(event.currentTarget.value)} />
        </div>
      </div>
      {error !== undefined && (
        <p role="alert" class="error">
          Could not list the journals: {error}
        </p>
      )}
      <p role="status" class="status">
        {journals === undefined
          ? 'Loading the journals…'
          : `${more ? 'The first ' : ''}${formatCount(journals.length)} journal${journals.length === 1 ? '' : 's'}${more ? ' by name' : ''}${
              shown.total > shown.rows.length ? `; showing the first ${formatCount(shown.rows.length)} of ${formatCount(shown.total)} matching` : ''
            }`}
      </p>
      {journals !== undefined && journals.length === 0 && <p>No journal has any event yet.</p>}
      {shown.rows.length > 0 && (
        <table class="journal-table" data-testid="journal-table">
          <caption class="visually-hidden">Journals, their newest event and their rate, refreshed every {REFRESH} seconds</caption>
          <thead>
            <tr>
              <th scope="col">Journal</th>
              <th scope="col" class="num">
                Events (head seq)
              </th>
              <th scope="col">Last event</th>
              <th scope="col">Rate</th>
            </tr>
          </thead>
          <tbody>
            {shown.rows.map((journal) => {
              const rates = tracker.current.rates(journal.name);
              const current = rates[rates.length - 1];
              return (
                <tr key={journal.name} data-journal={journal.name}>
                  <th scope="row">
                    <a href={journalHref('journal', journal.name)}>{journal.name}</a>
                  </th>
                  <td class="num" data-testid="head-seq">
                    {formatCount(journal.head.seq)}
                  </td>
                  <td>
                    {journal.head.seq === 0 ? (
                      '—'
                    ) : (
                      <time dateTime={new Date(journal.head.timestamp * 1000).toISOString()} title={formatTime(journal.head.timestamp)}>
                        {formatAgo(journal.head.timestamp, now)}
                      </time>
                    )}
                  </td>
                  <td class="rate">
                    <Sparkline values={rates} interval={REFRESH} />
                    <span class="rate-value">{current === undefined ? '…' : formatRate(current)}</span>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
