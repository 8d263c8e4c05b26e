/**
 * Typed events from zod: one definition gives the JSON Schema to register (from zod's own
 * conversion), a context checked and typed before it is sent, and a type guard for the events
 * a consumer receives.
 */
import { z } from 'zod';
import { ErrorCode, JournalError, type ErrorDetail } from './errors.js';
import type { JournalEvent } from './journal-event.js';
import { isSchemaRef, type SchemaRef } from './protocol.js';

/** A received event known to be of one definition: its name, its schema, and its context's type. */
export type TypedEvent<Name extends string, Context> = JournalEvent & {
  readonly name: Name;
  readonly context: Context;
  readonly schema: SchemaRef;
};

/** An event ready for `appendMany`: checked by zod, with its schema. */
export interface DefinedEvent<Name extends string = string, Context = Record<string, unknown>> {
  readonly name: Name;
  readonly context: Context;
  readonly schema: SchemaRef;
}

/** What {@link defineEvent} returns. */
export interface EventDefinition<Name extends string = string, Shape extends z.ZodObject = z.ZodObject> {
  readonly name: Name;
  /** The schema's `$id` and `version`, which every event of this definition names. */
  readonly schema: SchemaRef;
  /** The zod object the context is checked with. */
  readonly context: Shape;
  /** The JSON Schema to register: zod's conversion of `context`, with `$id` and `version`. */
  readonly jsonSchema: Record<string, unknown>;
  /**
   * The event as `appendMany` takes it, its context checked by zod (and given zod's output:
   * defaults filled, unknown keys stripped). Throws `JournalError` `INVALID_EVENT`, with
   * `details`, when the context does not pass.
   */
  event(context: z.input<Shape>): DefinedEvent<Name, z.output<Shape>>;
  /** True, narrowing its type, when `event` has this definition's name and names its schema (`$id` and `version`). */
  is(event: JournalEvent | null | undefined): event is TypedEvent<Name, z.output<Shape>>;
}

/**
 * Defines an event type: its name, its schema's `$id` and `version`, and its context as a zod object.
 *
 * @example
 * const Submitted = defineEvent({ name: 'submit', schema: { id: 'urn:example:submit', version: 1 }, context: z.object({ id: z.string() }) });
 * await producer.registerSchema(Submitted.jsonSchema);
 * await producer.append(Submitted, { id: 'f3x' });
 * if (Submitted.is(event)) console.log(event.context.id);
 */
export function defineEvent<const Name extends string, Shape extends z.ZodObject>(definition: {
  name: Name;
  schema: SchemaRef;
  context: Shape;
}): EventDefinition<Name, Shape> {
  if (typeof definition !== 'object' || definition === null) throw new TypeError('definition must be an object');
  const { name, schema, context } = definition;
  if (typeof name !== 'string' || name === '') throw new TypeError('definition.name must be a non-empty string');
  if (!isSchemaRef(schema)) throw new TypeError('definition.schema must be { id, version }: a URI or URN, and a positive integer');
  if (!(context instanceof z.ZodObject)) throw new TypeError('definition.context must be a zod object (z.object({...}))');
  let converted: Record<string, unknown>;
  try {
    converted = z.toJSONSchema(context) as Record<string, unknown>;
  } catch (cause) {
    throw new TypeError(`definition.context cannot be written as a JSON Schema: ${(cause as Error).message}`, { cause });
  }
  const ref: SchemaRef = { id: schema.id, version: schema.version };
  const jsonSchema = { $id: ref.id, version: ref.version, ...converted };
  return {
    name,
    schema: ref,
    context,
    jsonSchema,
    event(value) {
      const parsed = context.safeParse(value);
      if (!parsed.success) {
        const details: ErrorDetail[] = parsed.error.issues.slice(0, 20).map((issue) => ({
          path: issue.path.map((part) => `/${String(part).replaceAll('~', '~0').replaceAll('/', '~1')}`).join(''),
          message: issue.message,
        }));
        const [first] = details;
        throw new JournalError(ErrorCode.INVALID_EVENT, `${name}: ${first?.path || 'the context'}: ${first?.message ?? 'invalid'}`, { details });
      }
      return { name, context: parsed.data, schema: ref };
    },
    is(event): event is TypedEvent<Name, z.output<Shape>> {
      return (
        event !== null &&
        event !== undefined &&
        event.name === name &&
        event.schema !== undefined &&
        event.schema.id === ref.id &&
        event.schema.version === ref.version
      );
    },
  };
}
