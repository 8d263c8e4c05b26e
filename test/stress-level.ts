/**
 * Long tests scale with `WSJOURNAL_STRESS`: `npm test` runs them at their
 * everyday count, `npm run test:stress` (which sets it) at the full count.
 */
export const STRESS = process.env['WSJOURNAL_STRESS'] === '1';

/** `everyday` under `npm test`, `full` under `npm run test:stress`. */
export function stressCount(everyday: number, full: number): number {
  return STRESS ? full : everyday;
}
