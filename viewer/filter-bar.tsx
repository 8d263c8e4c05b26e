/**
 * The journal's filter, applied on the server: event names, and a selector
 * (a MongoDB-style query on name, timestamp, seq and context). A selector that
 * is not a JSON object is refused here; one the server refuses says why.
 */
import { useEffect, useId, useState } from 'preact/hooks';
import type { EventFilter } from './types.js';

export interface FilterBarProps {
  filter: EventFilter;
  /** The server's refusal of the current selector, if any. */
  serverError: string | undefined;
  onApply(filter: EventFilter): void;
}

/** Reads a filter from the address (`names=a,b&where={…}`); a malformed `where` is ignored there and shown in the form. */
export function filterFromParams(params: URLSearchParams): { filter: EventFilter; whereError?: string } {
  const names = (params.get('names') ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const whereText = params.get('where') ?? '';
  const filter: EventFilter = {};
  if (names.length > 0) filter.names = names;
  if (whereText.trim() === '') return { filter };
  const parsed = parseSelector(whereText);
  if (typeof parsed === 'string') return { filter, whereError: parsed };
  filter.where = parsed;
  return { filter };
}

/** A selector from its text, or why it is not one. */
export function parseSelector(text: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a selector is a JSON object, like {"context.level": "error"}';
  return value as Record<string, unknown>;
}

export function FilterBar({ filter, serverError, onApply }: FilterBarProps) {
  const id = useId();
  const [names, setNames] = useState((filter.names ?? []).join(', '));
  const [where, setWhere] = useState(filter.where ? JSON.stringify(filter.where) : '');
  const [localError, setLocalError] = useState<string | undefined>(undefined);
  useEffect(() => {
    setNames((filter.names ?? []).join(', '));
    setWhere(filter.where ? JSON.stringify(filter.where) : '');
    setLocalError(undefined);
  }, [filter]);
  const error = localError ?? serverError;

  return (
    <form
      class="filter-bar"
      aria-label="Filter the events"
      onSubmit={(event) => {
        event.preventDefault();
        const next: EventFilter = {};
        const list = names
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== '');
        if (list.length > 0) next.names = list;
        if (where.trim() !== '') {
          const parsed = parseSelector(where);
          if (typeof parsed === 'string') {
            setLocalError(parsed);
            return;
          }
          next.where = parsed;
        }
        setLocalError(undefined);
        onApply(next);
      }}
    >
      <div class="field">
        <label for={`${id}-names`}>Names</label>
        <input
          id={`${id}-names`}
          name="names"
          type="text"
          placeholder="submit, finish"
          value={names}
          onInput={(event) => setNames(event.currentTarget.value)}
          aria-describedby={`${id}-names-hint`}
        />
        <span id={`${id}-names-hint`} class="visually-hidden">
          Event names, separated by commas; empty for every name.
        </span>
      </div>
      <div class="field grow">
        <label for={`${id}-where`}>Selector</label>
        <input
          id={`${id}-where`}
          name="where"
          type="text"
          spellcheck={false}
          placeholder='{"context.userid": 1000}'
          value={where}
          onInput={(event) => setWhere(event.currentTarget.value)}
          aria-invalid={error !== undefined ? 'true' : 'false'}
          aria-describedby={`${id}-where-error`}
        />
      </div>
      <div class="field buttons">
        <button type="submit">Apply</button>
        <button
          type="button"
          class="quiet"
          onClick={() => {
            setNames('');
            setWhere('');
            setLocalError(undefined);
            onApply({});
          }}
        >
          Clear
        </button>
      </div>
      <p id={`${id}-where-error`} class="error field-error" role="alert" data-testid="filter-error">
        {error ?? ''}
      </p>
    </form>
  );
}
