/**
 * How long an error the server sends may be, whatever the input: a message and at most a few
 * details, each cut, so that an error never repeats in full what it was sent (an unknown key of
 * 16 KiB, a zod message quoting it). The WebSocket's `error` frames, the HTTP error bodies and
 * the schema checks' details all go through here.
 */
import type { ErrorDetail } from '../src/errors.js';

/** Longest error message, in UTF-16 units. */
export const MAX_ERROR_MESSAGE = 300;
/** Details of one error at most. */
export const MAX_ERROR_DETAILS = 20;
/** Longest path or message of one detail, in UTF-16 units. */
export const MAX_DETAIL_TEXT = 200;

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The message, cut to {@link MAX_ERROR_MESSAGE}. */
export function boundedMessage(message: string): string {
  return cut(message, MAX_ERROR_MESSAGE);
}

/** The first {@link MAX_ERROR_DETAILS} details, each path and message cut to {@link MAX_DETAIL_TEXT}. */
export function boundedDetails(details: readonly ErrorDetail[]): ErrorDetail[] {
  return details.slice(0, MAX_ERROR_DETAILS).map((detail) => ({ ...detail, path: cut(detail.path, MAX_DETAIL_TEXT), message: cut(detail.message, MAX_DETAIL_TEXT) }));
}

/** A detail's path or message cut to {@link MAX_DETAIL_TEXT}. */
export function boundedDetailText(text: string): string {
  return cut(text, MAX_DETAIL_TEXT);
}
