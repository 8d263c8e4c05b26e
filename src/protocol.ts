/**
 * The wire protocol: JSON text frames, one zod schema per frame, a
 * discriminated union on `type` per direction. The server validates every
 * frame it receives with {@link ClientFrame}; the client validates every frame
 * it decodes with {@link ServerFrame}. Types are inferred from the schemas.
 */
import { z } from 'zod';

/** Journal names: `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`. */
export const JOURNAL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * True when `text` holds no lone UTF-16 surrogate: a string that survives UTF-8 (the store's,
 * and the socket's) unchanged. Names, keys and filters must be; `"a\ud800"` is refused.
 */
export function isWellFormed(text: string): boolean {
  const native = (text as { isWellFormed?: () => boolean }).isWellFormed;
  return native !== undefined ? native.call(text) : !LONE_SURROGATE.test(text);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const WELL_FORMED = 'must not hold a lone UTF-16 surrogate';

const RequestId = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const JournalName = z.string().regex(JOURNAL_NAME, 'invalid journal name');
const Context = z.record(z.string(), z.unknown());
const Timestamp = z.number().min(0).finite();

/**
 * A schema's `$id`: a URI or URN (a scheme, a colon, then URI characters only), at most 512
 * characters. Having no quote, backslash or control character, it is its own JSON string body.
 */
export const SCHEMA_ID = /^[A-Za-z][A-Za-z0-9+.-]{0,30}:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]{1,480}$/;

/** Names a registered schema: its `$id` and its `version` (a positive integer). */
export const SchemaRef = z.strictObject({
  id: z.string().regex(SCHEMA_ID, 'a schema id is a URI or URN of at most 512 characters'),
  version: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
});
export type SchemaRef = z.infer<typeof SchemaRef>;

/** An event as it travels from the server: `{ name, timestamp, context, seq }`, and `schema` when it named one. */
export const EventEntry = z.object({
  name: z.string().min(1),
  timestamp: Timestamp,
  context: Context,
  seq: z.int().min(1),
  schema: SchemaRef.optional(),
});
export type EventEntry = z.infer<typeof EventEntry>;

/**
 * An event as a producer sends it; the server assigns `timestamp` and `seq`, except in an
 * append with `preserve`, where every event carries its own (and no other append may).
 */
export const NewEventEntry = z.strictObject({
  name: z.string().min(1, 'event name must be a non-empty string').refine(isWellFormed, WELL_FORMED),
  context: Context.optional(),
  /** The registered schema the server checks `context` against before storing the event. */
  schema: SchemaRef.optional(),
  seq: z.int().min(1).optional(),
  timestamp: Timestamp.optional(),
});
export type NewEventEntry = z.infer<typeof NewEventEntry>;

/** Names (and schema ids) one subscription filter lists at most. */
export const MAX_FILTER_NAMES = 100;
/** The longest event name a subscription's `names` filter lists. */
export const MAX_FILTER_NAME_LENGTH = 256;

/**
 * Subscription filters understood by every journal: only events whose name, or whose schema's
 * `$id`, is listed; at most MAX_FILTER_NAMES of each (names of at most MAX_FILTER_NAME_LENGTH).
 */
export const SubscribePayload = z.looseObject({
  names: z
    .array(z.string().min(1).max(MAX_FILTER_NAME_LENGTH).refine(isWellFormed, WELL_FORMED))
    .min(1)
    .max(MAX_FILTER_NAMES)
    .optional(),
  schemas: z.array(z.string().min(1).max(512).refine(isWellFormed, WELL_FORMED)).min(1).max(MAX_FILTER_NAMES).optional(),
});

export const SubscribeFrame = z.strictObject({
  type: z.literal('subscribe'),
  id: RequestId,
  journal: JournalName,
  full: z.boolean().default(true),
  since: Timestamp.default(0),
  payload: SubscribePayload.default({}),
});
export type SubscribeFrame = z.infer<typeof SubscribeFrame>;

export const CancelFrame = z.strictObject({
  type: z.literal('cancel'),
  id: RequestId,
});
export type CancelFrame = z.infer<typeof CancelFrame>;

export const AppendFrame = z.strictObject({
  type: z.literal('append'),
  id: RequestId,
  journal: JournalName,
  events: z.array(NewEventEntry).min(1, 'an append needs at least one event'),
  /**
   * Optional batch key chosen by the client. A batch resent with a key the
   * server has already stored is acknowledged again, not stored twice.
   */
  key: z.string().min(1).max(128).refine(isWellFormed, WELL_FORMED).optional(),
  /**
   * Store each event with the `seq` and `timestamp` it carries (how `wsjournal import
   * --preserve` moves a journal between stores). The batch must continue the journal:
   * seqs and timestamps strictly increasing, the first above the journal's head; else
   * it is refused with `OUT_OF_ORDER` and nothing is stored.
   */
  preserve: z.boolean().optional(),
});
export type AppendFrame = z.infer<typeof AppendFrame>;

/** Registers a JSON Schema (section 6 of the contract); answered by `registered` or `error`. */
export const RegisterFrame = z.strictObject({
  type: z.literal('register'),
  id: RequestId,
  schema: z.record(z.string(), z.unknown()),
});
export type RegisterFrame = z.infer<typeof RegisterFrame>;

/** Lists registered schemas in `$id`, then `version`, order, from after `after`; answered by `schemas`. */
export const ListSchemasFrame = z.strictObject({
  type: z.literal('schemas'),
  id: RequestId,
  after: SchemaRef.optional(),
  limit: z.int().min(1).max(1000).optional(),
});
export type ListSchemasFrame = z.infer<typeof ListSchemasFrame>;

/** Every frame a client may send. */
export const ClientFrame = z.discriminatedUnion('type', [SubscribeFrame, CancelFrame, AppendFrame, RegisterFrame, ListSchemasFrame]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type ClientFrameInput = z.input<typeof ClientFrame>;

export const Head = z.object({ seq: z.int().min(0), timestamp: Timestamp });
export type Head = z.infer<typeof Head>;

export const SubscribedFrame = z.object({
  type: z.literal('subscribed'),
  id: RequestId,
  head: Head,
});
export type SubscribedFrame = z.infer<typeof SubscribedFrame>;

/** History pages and live batches; the sentinel is a response with `events: []`. */
export const ResponseFrame = z.looseObject({
  type: z.literal('response'),
  id: RequestId,
  events: z.array(EventEntry),
});
export type ResponseFrame = z.infer<typeof ResponseFrame>;

/**
 * Retention removed events after the subscription's `since` (or resume point): sent once,
 * before the first history page; history goes on from `first`, the oldest event kept.
 */
export const TruncatedFrame = z.looseObject({
  type: z.literal('truncated'),
  id: RequestId,
  first: Head,
});
export type TruncatedFrame = z.infer<typeof TruncatedFrame>;

/** The subscription ended: after a cancel, or with `code` when the server ended it. */
export const EndFrame = z.object({
  type: z.literal('end'),
  id: RequestId,
  code: z.string().optional(),
  message: z.string().optional(),
});
export type EndFrame = z.infer<typeof EndFrame>;

export const AckFrame = z.object({
  type: z.literal('ack'),
  id: RequestId,
  seqs: z.array(z.int().min(1)),
  timestamps: z.array(Timestamp),
});
export type AckFrame = z.infer<typeof AckFrame>;

/**
 * One reason a request was refused: `index` is the event's position in its append, `path` a
 * JSON pointer into that event's context (`""` for the context itself).
 */
export const ErrorDetail = z.object({
  index: z.int().min(0).optional(),
  path: z.string(),
  message: z.string(),
});
export type ErrorDetail = z.infer<typeof ErrorDetail>;

export const ErrorFrame = z.object({
  type: z.literal('error'),
  id: RequestId.optional(),
  code: z.string(),
  message: z.string(),
  details: z.array(ErrorDetail).optional(),
});
export type ErrorFrame = z.infer<typeof ErrorFrame>;

/** A schema was registered (`created`) or was registered already with the same body. */
export const RegisteredFrame = z.object({
  type: z.literal('registered'),
  id: RequestId,
  schema: SchemaRef,
  created: z.boolean(),
});
export type RegisteredFrame = z.infer<typeof RegisteredFrame>;

/** A page of registered schemas; `next` is where the following page starts, absent after the last. */
export const SchemasFrame = z.object({
  type: z.literal('schemas'),
  id: RequestId,
  schemas: z.array(z.record(z.string(), z.unknown())),
  next: SchemaRef.optional(),
});
export type SchemasFrame = z.infer<typeof SchemasFrame>;

/** A server's limits, as its `hello` tells them; keys the client does not know are ignored. */
export const ServerLimits = z.looseObject({
  /** The largest frame the server reads, bytes; a larger one closes the connection with 1009. */
  maxFrameSize: z.int().min(1),
  /** The most events in one append. */
  maxEventsPerAppend: z.int().min(1),
  /** The largest event, bytes of its name and its context's JSON. */
  maxEventSize: z.int().min(1),
});
export type ServerLimits = z.infer<typeof ServerLimits>;

/**
 * The server's first frame on a connection: `{"type":"hello","version":1,"limits":{…}}`.
 * Optional (older servers send none); unknown keys are ignored.
 */
export const HelloFrame = z.looseObject({
  type: z.literal('hello'),
  version: z.int().min(1),
  limits: ServerLimits,
});
export type HelloFrame = z.infer<typeof HelloFrame>;

/** Every frame a server may send. */
export const ServerFrame = z.discriminatedUnion('type', [
  HelloFrame,
  SubscribedFrame,
  ResponseFrame,
  TruncatedFrame,
  EndFrame,
  AckFrame,
  ErrorFrame,
  RegisteredFrame,
  SchemasFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
/** The frames that answer a request, routed by their `id`: every server frame but `hello`. */
export type RequestFrame = Exclude<ServerFrame, HelloFrame>;

/** The known frame types of each direction, to tell an unknown `type` from a bad frame. */
export const CLIENT_FRAME_TYPES: ReadonlySet<string> = new Set(['subscribe', 'cancel', 'append', 'register', 'schemas']);

/**
 * True when `value` satisfies {@link EventEntry}: the same rules, checked by
 * hand, because history replay decodes millions of entries and this is the
 * client's hot path. `test/protocol.test.ts` holds the two to agreement.
 */
export function isEventEntry(value: unknown): value is EventEntry {
  if (typeof value !== 'object' || value === null) return false;
  const { name, timestamp, context, seq, schema } = value as Record<string, unknown>;
  return (
    (schema === undefined || isSchemaRef(schema)) &&
    typeof name === 'string' &&
    name.length > 0 &&
    typeof timestamp === 'number' &&
    timestamp >= 0 &&
    Number.isFinite(timestamp) &&
    typeof seq === 'number' &&
    Number.isSafeInteger(seq) &&
    seq >= 1 &&
    typeof context === 'object' &&
    context !== null &&
    !Array.isArray(context)
  );
}

const APPEND_KEYS: ReadonlySet<string> = new Set(['type', 'id', 'journal', 'events', 'key', 'preserve']);
const NEW_EVENT_KEYS: ReadonlySet<string> = new Set(['name', 'context', 'schema', 'seq', 'timestamp']);

/**
 * `value` as an {@link AppendFrame} when it satisfies that schema, checked by
 * hand because appends are the server's hot path; `undefined` otherwise, and
 * the caller asks zod for the reason. `value` is a parsed JSON object.
 * `test/protocol.test.ts` holds the two to agreement.
 */
export function asAppendFrame(value: Record<string, unknown>): AppendFrame | undefined {
  for (const key of Object.keys(value)) if (!APPEND_KEYS.has(key)) return undefined;
  const { type, id, journal, events, key, preserve } = value;
  if (type !== 'append' || typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) return undefined;
  if (typeof journal !== 'string' || !JOURNAL_NAME.test(journal)) return undefined;
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 128 || !isWellFormed(key))) return undefined;
  if (preserve !== undefined && typeof preserve !== 'boolean') return undefined;
  if (!Array.isArray(events) || events.length === 0) return undefined;
  for (const event of events) if (!isNewEventEntry(event)) return undefined;
  return value as AppendFrame;
}

function isNewEventEntry(value: unknown): value is NewEventEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  for (const key of Object.keys(value)) if (!NEW_EVENT_KEYS.has(key)) return false;
  const { name, context, schema, seq, timestamp } = value as Record<string, unknown>;
  if (typeof name !== 'string' || name.length === 0 || !isWellFormed(name)) return false;
  if (schema !== undefined && !isSchemaRef(schema)) return false;
  if (seq !== undefined && !(typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 1)) return false;
  if (timestamp !== undefined && !(typeof timestamp === 'number' && timestamp >= 0 && Number.isFinite(timestamp))) return false;
  return context === undefined || (typeof context === 'object' && context !== null && !Array.isArray(context));
}

/**
 * Schema ids already found to match SCHEMA_ID: a replay names the same few schemas millions of
 * times, and a Set lookup costs less than the pattern. Emptied when it reaches 1,000.
 */
const knownSchemaIds = new Set<string>();

function isSchemaId(id: string): boolean {
  if (knownSchemaIds.has(id)) return true;
  if (!SCHEMA_ID.test(id)) return false;
  if (knownSchemaIds.size >= 1000) knownSchemaIds.clear();
  knownSchemaIds.add(id);
  return true;
}

/** True when `value` satisfies {@link SchemaRef} (no other key, an id matching SCHEMA_ID, a positive safe integer version). */
export function isSchemaRef(value: unknown): value is SchemaRef {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  let keys = 0;
  for (const key in value) {
    if (key !== 'id' && key !== 'version') return false;
    keys++;
  }
  const { id, version } = value as Record<string, unknown>;
  return (
    keys === 2 &&
    typeof id === 'string' &&
    isSchemaId(id) &&
    typeof version === 'number' &&
    Number.isSafeInteger(version) &&
    version >= 1
  );
}

/**
 * Parses and validates one frame from the server. Throws (a `SyntaxError` or
 * a `ZodError`) when the text is not a valid {@link ServerFrame}.
 */
export function decodeServerFrame(text: string): ServerFrame {
  const json: unknown = JSON.parse(text);
  // The frames of live traffic, responses and acks, are checked by hand; zod decodes the rest
  // and explains a refusal. `test/protocol.test.ts` holds both paths to agreement.
  if (typeof json === 'object' && json !== null) {
    const frame = json as Record<string, unknown>;
    if (frame['type'] === 'response' && isRequestId(frame['id']) && Array.isArray(frame['events']) && frame['events'].every(isEventEntry)) {
      return frame as ResponseFrame;
    }
    if (frame['type'] === 'ack' && isAckFrame(frame)) return frame as AckFrame;
  }
  return ServerFrame.parse(json);
}

const ACK_KEYS: ReadonlySet<string> = new Set(['type', 'id', 'seqs', 'timestamps']);

/** An ack with no field beyond AckFrame's, so that the object itself is what zod would return. */
function isAckFrame(frame: Record<string, unknown>): boolean {
  // An extra field would make zod's result (which drops it) differ from the frame: let zod decode it.
  for (const key of Object.keys(frame)) if (!ACK_KEYS.has(key)) return false;
  const { id, seqs, timestamps } = frame;
  return (
    isRequestId(id) &&
    Array.isArray(seqs) &&
    seqs.every((seq) => typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 1) &&
    Array.isArray(timestamps) &&
    timestamps.every((timestamp) => typeof timestamp === 'number' && timestamp >= 0 && Number.isFinite(timestamp))
  );
}

function isRequestId(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
