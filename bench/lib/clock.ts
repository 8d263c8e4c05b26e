/**
 * The clock every bench process reads: CLOCK_MONOTONIC via `process.hrtime`,
 * one clock for all processes of the machine, so a time taken by the producer
 * can be subtracted from a time taken by a consumer.
 */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
