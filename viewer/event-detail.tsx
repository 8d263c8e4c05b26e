/** One event in full: its JSON, its time to the microsecond, and the schema it was checked against, if any. */
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { formatIsoMicros, formatTime } from './format.js';
import { useServices } from './services.js';
import type { EventEntry } from './types.js';

export interface EventDetailProps {
  event: EventEntry;
  onClose(): void;
}

export function EventDetail({ event, onClose }: EventDetailProps) {
  const id = useId();
  const heading = useRef<HTMLHeadingElement>(null);
  const [copied, setCopied] = useState(false);
  const json = JSON.stringify(event, null, 2);
  const schema = useSchema(event.schema);

  // Opening an event moves the focus to it, so that a screen reader reads it next.
  useEffect(() => {
    heading.current?.focus();
    setCopied(false);
  }, [event.seq]);

  return (
    <aside
      class="event-detail"
      aria-labelledby={`${id}-title`}
      data-testid="event-detail"
      onKeyDown={(key) => {
        if (key.key === 'Escape') onClose();
      }}
    >
      <div class="detail-head">
        <h2 id={`${id}-title`} tabIndex={-1} ref={heading}>
          Event {event.seq}: {event.name}
        </h2>
        <button type="button" class="quiet" onClick={onClose} aria-label="Close the event's details">
          Close
        </button>
      </div>
      <dl class="facts">
        <dt>Time</dt>
        <dd>
          {formatTime(event.timestamp)} <span class="hint">(this browser's zone)</span>
        </dd>
        <dt>UTC</dt>
        <dd>{formatIsoMicros(event.timestamp)}</dd>
        <dt>Timestamp</dt>
        <dd>{event.timestamp}</dd>
        <dt>Schema</dt>
        <dd data-testid="event-schema">{event.schema ? `${event.schema.id}, version ${event.schema.version}` : 'none'}</dd>
      </dl>
      <h3>JSON</h3>
      <pre class="json" data-testid="event-json" tabIndex={0} aria-label={`The JSON of event ${event.seq}`}>
        {json}
      </pre>
      {event.schema && (
        <>
          <h3>Schema</h3>
          {schema.state === 'ready' ? (
            <pre class="json" data-testid="schema-json" tabIndex={0} aria-label={`The schema ${event.schema.id}, version ${event.schema.version}`}>
              {JSON.stringify(schema.body, null, 2)}
            </pre>
          ) : (
            <p class={schema.state === 'error' ? 'error' : 'hint'} data-testid="schema-state">
              {schema.state === 'loading' ? 'Loading the schema…' : schema.message}
            </p>
          )}
        </>
      )}
      <div class="detail-actions">
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard?.writeText(json).then(
              () => setCopied(true),
              () => setCopied(false),
            );
          }}
        >
          Copy JSON
        </button>
        <span role="status" class="hint">
          {copied ? 'Copied.' : ''}
        </span>
      </div>
    </aside>
  );
}

type SchemaState = { state: 'loading' } | { state: 'ready'; body: Record<string, unknown> } | { state: 'error'; message: string };

/** The body of the schema an event names, asked of the server once per schema. */
function useSchema(ref: EventEntry['schema']): SchemaState {
  const { schemas } = useServices();
  const [state, setState] = useState<SchemaState>({ state: 'loading' });
  const key = ref ? `${ref.version} ${ref.id}` : '';
  useEffect(() => {
    if (!ref) return;
    let current = true;
    setState({ state: 'loading' });
    schemas.get(ref).then(
      (body) => {
        if (!current) return;
        setState(body ? { state: 'ready', body } : { state: 'error', message: 'The server has no such schema.' });
      },
      (error: Error) => {
        if (current) setState({ state: 'error', message: `Could not load the schema: ${error.message}` });
      },
    );
    return () => {
      current = false;
    };
  }, [key, schemas]);
  return state;
}
