/**
 * Report rows as an HTTP body: JSON `{"rows":[…]}` or CSV (RFC 4180 quoting by csv-stringify,
 * a header line, `\n` line ends, no byte-order mark). Both are streams that write a few
 * hundred rows at a time, so a large answer is serialised over several turns of the event
 * loop, as the socket takes it.
 */
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { formatMicros } from '../encode.js';
import type { CountRow } from './count-report.js';
import type { Group } from './report-table.js';
import type { SpanRow } from './span-report.js';

/** How the rows of one kind of report are written. */
export interface RowFormat<Row> {
  /** The CSV header. */
  readonly columns: readonly string[];
  /** One row as JSON. */
  json(row: Row): string;
  /** One row's CSV cells, in `columns` order. */
  cells(row: Row): string[];
}

/** Rows per chunk written. */
const CHUNK_ROWS = 256;

/** A group as a CSV cell: strings as they are, `null` as an empty cell, other values as their JSON. */
function cell(group: Group): string {
  return typeof group.value === 'string' ? group.value : group.value === null ? '' : group.text;
}

export const COUNT_ROWS: RowFormat<CountRow> = {
  columns: ['start', 'end', 'group', 'count'],
  json: (row) => `{"start":"${row.start}","end":"${row.end}","group":${row.group.text},"count":${row.count}}`,
  cells: (row) => [row.start, row.end, cell(row.group), String(row.count)],
};

export const SPAN_ROWS: RowFormat<SpanRow> = {
  columns: ['start', 'end', 'key', 'spans', 'busySeconds', 'utilization'],
  json: (row) =>
    `{"start":"${row.start}","end":"${row.end}","key":${row.key.text},"spans":${row.spans},"busySeconds":${formatMicros(row.busyMicros)},"utilization":${row.utilization}}`,
  cells: (row) => [row.start, row.end, cell(row.key), String(row.spans), formatMicros(row.busyMicros), String(row.utilization)],
};

/** The rows as `{"rows":[…]}`, a stream of text chunks. */
export function jsonBody<Row>(rows: readonly Row[], format: RowFormat<Row>): Readable {
  return Readable.from(
    (function* chunks() {
      yield '{"rows":[';
      for (let first = 0; first < rows.length; first += CHUNK_ROWS) {
        const chunk = rows.slice(first, first + CHUNK_ROWS).map(format.json).join(',');
        yield first === 0 ? chunk : `,${chunk}`;
      }
      yield ']}';
    })(),
  );
}

/** The rows as CSV with a header line, a stream. */
export function csvBody<Row>(rows: readonly Row[], format: RowFormat<Row>): Readable {
  const records = Readable.from(
    (function* records() {
      for (const row of rows) yield format.cells(row);
    })(),
  );
  const csv = stringify({ header: true, columns: [...format.columns], bom: false });
  records.on('error', (error) => csv.destroy(error));
  return records.pipe(csv);
}
