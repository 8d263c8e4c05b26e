/**
 * Typed events: two event types defined once with zod, their JSON Schemas
 * registered on the server, events appended with their types checked before
 * they are sent and their contexts checked by the server before they are
 * stored, then read back with their types narrowed by `is()`.
 *
 * Run (after `npm run build`, with `npm start` serving in another terminal):
 *
 *   WSJOURNAL_URL=ws://127.0.0.1:7707 node dist/examples/typed-events.js [JOURNAL]
 *
 * JOURNAL defaults to "typed-jobs". Running it again registers nothing new
 * (the same schemas are already there) and appends two more events.
 */
// In your own project: import { defineEvent, EventLogConsumer, JournalError, JournalProducer } from 'wsjournal';
import { z } from 'zod';
import { defineEvent, EventLogConsumer, JournalError, JournalProducer } from '../src/index.js';

const url = process.env.WSJOURNAL_URL ?? 'ws://127.0.0.1:7707';
const journal = process.argv[2] ?? 'typed-jobs';

// One definition per event type: its name, its schema's $id and version, and
// its context as a zod object. `jsonSchema` is zod's own JSON Schema of the
// context, with the $id and version the server files it under.
const Submitted = defineEvent({
  name: 'submit',
  schema: { id: 'urn:example:job.submitted', version: 1 },
  context: z.object({
    jobid: z.string().regex(/^f[0-9a-z]+$/),
    userid: z.int().min(0),
    urgency: z.int().min(0).max(31).default(16),
  }),
});
const Finished = defineEvent({
  name: 'finish',
  schema: { id: 'urn:example:job.finished', version: 1 },
  context: z.object({ jobid: z.string(), status: z.int(), runtime: z.number().min(0) }),
});

const producer = new JournalProducer(url, journal);
/** The seq of the last event this run appends: where reading back stops. */
let last = 0;
try {
  // Registering is idempotent: the same $id, version and body again changes nothing.
  for (const definition of [Submitted, Finished]) {
    const { id, version, created } = await producer.registerSchema(definition.jsonSchema);
    console.log(`${created ? 'registered' : 'already registered'} ${id} ${version}`);
  }

  // `append(definition, context)` takes the context's zod input type: a
  // missing or mistyped field is a compile-time error in TypeScript, and zod
  // checks the values before anything is sent. The event names its schema,
  // so the server checks the context too before it stores anything.
  const submitted = await producer.append(Submitted, { jobid: 'f3x', userid: 1000 });
  const finished = await producer.append(Finished, { jobid: 'f3x', status: 0, runtime: 2.5 });
  console.log(`appended submit seq=${submitted.seq}, finish seq=${finished.seq}`);
  last = finished.seq;

  // A context that breaks the definition is refused before it is sent.
  try {
    await producer.append(Submitted, { jobid: 'not a job id', userid: 1000 });
  } catch (error) {
    if (!(error instanceof JournalError)) throw error;
    console.log(`refused before sending: ${error.code} ${error.details?.map((detail) => detail.path).join(', ')}`);
  }
} finally {
  await producer.close();
}

// Reading back: `is()` narrows each event to its definition's type, so
// `event.context.userid` is a number here, with no cast.
const consumer = new EventLogConsumer(url, journal);
let seen = 0;
for await (const event of consumer) {
  seen++;
  if (Submitted.is(event)) {
    console.log(`job ${event.context.jobid} submitted by user ${event.context.userid} at urgency ${event.context.urgency}`);
  } else if (Finished.is(event)) {
    console.log(`job ${event.context.jobid} finished with status ${event.context.status} after ${event.context.runtime} s`);
  } else {
    console.log(`another event: ${event.toString()}`);
  }
  // `break` stops the consumer and closes its connection.
  if (event.seq !== undefined && event.seq >= last) break;
}
console.log(`typed-events: done after ${seen} events`);
