/** The events every scenario sends: Flux job events like `submit` with a small context. */

export const JOURNAL = 'bench';

export interface BenchContext {
  id: string;
  userid: number;
  urgency: number;
  priority: number;
  flags: number;
  [field: string]: unknown;
}

/** The context of event `i`: `{ id: "f3x", userid: 1000, urgency: 16, priority: 42, flags: 0 }`, id varying. */
export function benchContext(i: number): BenchContext {
  return { id: `f${i.toString(36)}`, userid: 1000, urgency: 16, priority: 42, flags: 0 };
}

/** Event `i` as the server puts it on the wire, for baselines that skip the store. */
export function wireEvent(i: number, timestamp: number): string {
  return JSON.stringify({ name: 'submit', timestamp, context: benchContext(i), seq: i + 1 });
}

/** Event `i` as JSON strings of arrays of `size` events: the best case a raw server can send. */
export function wireBatches(count: number, size: number): string[] {
  const batches: string[] = [];
  const start = Date.now() / 1000;
  for (let first = 0; first < count; first += size) {
    const events: string[] = [];
    for (let i = first; i < Math.min(count, first + size); i++) events.push(wireEvent(i, start + i * 1e-6));
    batches.push(`[${events.join(',')}]`);
  }
  return batches;
}

/** The schema of every bench context, as an application would register it: types, required fields, no others, an id pattern. */
export const BENCH_SCHEMA = {
  $id: 'urn:wsjournal:bench:submit',
  version: 1,
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^f[0-9a-z]+$' },
    userid: { type: 'integer', minimum: 0 },
    urgency: { type: 'integer', minimum: 0, maximum: 31 },
    priority: { type: 'integer' },
    flags: { type: 'integer' },
  },
  required: ['id', 'userid', 'urgency', 'priority', 'flags'],
  additionalProperties: false,
};

/** What a bench event names to be checked against {@link BENCH_SCHEMA}. */
export const BENCH_SCHEMA_REF = { id: BENCH_SCHEMA.$id, version: BENCH_SCHEMA.version };
