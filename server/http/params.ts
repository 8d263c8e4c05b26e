/** zod schemas of the request parts routes share: path parameters and query-string values (always strings on the wire). */
import { z } from 'zod';
import { JOURNAL_NAME } from '../../src/protocol.js';

/** `{journal}` in a path. */
export const JournalParams = z.strictObject({ journal: z.string().regex(JOURNAL_NAME, 'invalid journal name') });

/** A timestamp in a query string: seconds since the epoch, a decimal number >= 0. */
export const TimestampParam = z
  .string()
  .regex(/^\d{1,16}(\.\d{1,16})?([eE][+-]?\d{1,3})?$/, 'must be a timestamp in seconds, like 1700000000.25')
  .transform(Number)
  .pipe(z.number().min(0).finite());

/** A non-negative integer in a query string or path. */
export const IntegerParam = z
  .string()
  .regex(/^\d{1,16}$/, 'must be a non-negative integer')
  .transform(Number)
  .pipe(z.int().min(0));

/** The bearer token may come as `?token=`: the app checks it; routes accept and ignore it. */
export const TokenParam = z.string().optional();

/** Query-string parameters every route takes. */
export const COMMON_QUERY = { token: TokenParam };
