/**
 * A necessary condition on an event's stored JSON for a selector to match it, checked on the
 * text before it is parsed: most events a selective selector skips are then never parsed.
 *
 * It reads the selector's top-level equalities on context fields (`{"context.shard": 0}`,
 * `{"context.state": {"$eq": "failed"}}`) whose value is a string, a number or a boolean and
 * whose last path segment is a plain name. An event can match such an equality only if its
 * JSON holds that name as a key whose value is the same primitive, or an array or object
 * (which the selector may reach into, and the text alone cannot judge). Text with a
 * backslash is let through whole: without escapes, a quoted name is a key's own text, and a
 * name of letters, digits, `_` and `-` cannot straddle two strings.
 */

/** True when the event may match; false only when it cannot. */
export type TextPrefilter = (json: string) => boolean;

/** A plain key: what a quoted occurrence cannot straddle two strings with. */
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** A string value that JSON writes without escapes. */
const PLAIN_STRING = /^[^"\\\u0000-\u001f]*$/;

const BACKSLASH = '\\';

interface Equality {
  /** `"name"`, quotes included. */
  readonly quoted: string;
  readonly value: string | number | boolean;
}

/** The prefilter of a selector, or undefined when it has no equality the text can judge. */
export function textPrefilter(selector: Record<string, unknown>): TextPrefilter | undefined {
  const equalities: Equality[] = [];
  for (const [path, operand] of Object.entries(selector)) {
    if (!path.startsWith('context.')) continue;
    const name = path.slice(path.lastIndexOf('.') + 1);
    if (!PLAIN_NAME.test(name)) continue;
    const value = isOperatorObject(operand) ? eqOperand(operand) : operand;
    if (typeof value === 'number' ? Number.isFinite(value) : typeof value === 'boolean' || (typeof value === 'string' && PLAIN_STRING.test(value))) {
      equalities.push({ quoted: `"${name}"`, value: value as string | number | boolean });
    }
  }
  if (equalities.length === 0) return undefined;
  return (json) => json.includes(BACKSLASH) || equalities.every((equality) => holds(json, equality));
}

function isOperatorObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).some((key) => key.startsWith('$'));
}

/** The operand of `{"$eq": v}` alone; undefined for any other operator object. */
function eqOperand(operators: Record<string, unknown>): unknown {
  const keys = Object.keys(operators);
  return keys.length === 1 && keys[0] === '$eq' ? operators['$eq'] : undefined;
}

/** Whether some occurrence of the key holds the value, or a value the text cannot judge. */
function holds(json: string, { quoted, value }: Equality): boolean {
  let at = json.indexOf(quoted);
  while (at >= 0) {
    let i = skipSpace(json, at + quoted.length);
    // A quoted name not followed by a colon is a string value, not a key.
    if (json.charCodeAt(i) === COLON) {
      i = skipSpace(json, i + 1);
      const first = json.charCodeAt(i);
      if (first === OPEN_BRACKET || first === OPEN_BRACE) return true;
      const end = tokenEnd(json, i);
      if (tokenEquals(json.slice(i, end), value)) return true;
    }
    at = json.indexOf(quoted, at + quoted.length);
  }
  return false;
}

function tokenEquals(token: string, value: string | number | boolean): boolean {
  if (typeof value === 'string') return token.length === value.length + 2 && token.charCodeAt(0) === QUOTE && token.slice(1, -1) === value;
  if (typeof value === 'boolean') return token === String(value);
  return token.charCodeAt(0) !== QUOTE && Number(token) === value;
}

/** Where the value token starting at `i` ends: after a string's closing quote, or at a delimiter. */
function tokenEnd(json: string, i: number): number {
  if (json.charCodeAt(i) === QUOTE) {
    const close = json.indexOf('"', i + 1);
    return close < 0 ? json.length : close + 1;
  }
  let j = i;
  for (; j < json.length; j++) {
    const c = json.charCodeAt(j);
    if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || c === SPACE || c === TAB || c === LF || c === CR) break;
  }
  return j;
}

function skipSpace(json: string, i: number): number {
  for (;;) {
    const c = json.charCodeAt(i);
    if (c !== SPACE && c !== TAB && c !== LF && c !== CR) return i;
    i++;
  }
}

const QUOTE = 0x22;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
