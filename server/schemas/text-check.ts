/**
 * Accept-only checks of a context's JSON text against a flat schema, without `JSON.parse`:
 * the fast path of validation at append. A check answers `true` only when Ajv, given the
 * parsed context, would accept it; `false` means "not sure", and the context goes to Ajv,
 * which accepts or refuses it with its details. So a refusal always comes from Ajv, and a
 * check that gives up costs one pass over the text more than Ajv alone.
 *
 * A schema gets a check when it is an object schema of at most MAX_PROPERTIES `properties`,
 * `required` names among them, `additionalProperties` a boolean, `minProperties` and
 * `maxProperties`; and each property's schema is `true` or made of `type`, `enum` and `const`
 * of primitives, `minLength`, `maxLength`, a `pattern` proved linear (the same RegExp Ajv runs
 * for it, see validator-core.ts), `minimum`, `maximum`, `exclusiveMinimum` and
 * `exclusiveMaximum` (annotations aside). These keywords mean the same in draft-07 and
 * 2020-12. Any other keyword gives no check: Ajv validates every context of that schema.
 *
 * A check reads the text itself, whatever it holds: the append decoder runs it on a context
 * before reading that context its own way (append-decoder.ts), and skips its own reading when
 * the check passes. So a check passes only compact JSON that the decoder's own reading would
 * pass, ending at the same index: no control character or lone surrogate in a string, no
 * leading zero, no `-0`. It gives up on: a key or string value with a backslash escape (its
 * value is not its text), a key seen twice (JSON.parse keeps the last), an unknown key when the
 * counts of properties are bounded, whitespace, and anything else it does not read. Numbers are
 * read as JSON.parse reads them (`Number` of the token), so `1.0` is an integer, as Ajv finds
 * it. Values the check does not look into, and number tokens other than short plain integers,
 * are read with the append decoder's own readers.
 */
import { ANNOTATIONS } from './inline-schema.js';
import { linearNativePattern } from './linear-pattern.js';
import { numberEnd, plainRunEnd, SHORT_RUN, valueEnd } from '../append-decoder.js';
import { QUOTE, BACKSLASH, COMMA, COLON, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, MINUS, DOT, ZERO, NINE } from '../json-chars.js';

/**
 * Reads the JSON text of a context at `start` in `text` (a frame's text, say, which the context
 * is a slice of: reading it there is faster than reading the slice). Returns the index after the
 * context when it is an object that certainly passes the schema, read as the append decoder
 * reads one (see above); -1 to let the decoder and Ajv decide. Never throws.
 */
export type TextCheck = (text: string, start: number) => number;

/** Properties at most: each has a bit in a 32-bit mask of those seen. */
export const MAX_PROPERTIES = 30;

/** JSON types as bits; `number` is INTEGER | FRACTION. */
const STRING = 1;
const INTEGER = 2;
const FRACTION = 4;
const BOOLEAN = 8;
const NULL = 16;
const OBJECT = 32;
const ARRAY = 64;
const ANY = 127;
const TYPE_BITS: Record<string, number> = {
  string: STRING,
  integer: INTEGER,
  number: INTEGER | FRACTION,
  boolean: BOOLEAN,
  null: NULL,
  object: OBJECT,
  array: ARRAY,
};

interface Property {
  readonly name: string;
  /** The name's UTF-16 units. */
  readonly units: readonly number[];
  readonly bit: number;
  readonly rule: Rule;
}

/** The check of a schema given as its JSON, or undefined when it has none (see above). Never throws. */
export function textCheckOf(json: string): TextCheck | undefined {
  try {
    return objectCheck(JSON.parse(json) as unknown);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function objectCheck(schema: unknown): TextCheck | undefined {
  // Any object passes: it is read as the decoder reads a context (valueEnd counts the object as depth 1).
  if (schema === true) return (text, start) => (text.charCodeAt(start) === OPEN_BRACE ? valueEnd(text, start, 0) : -1);
  if (!isObject(schema)) return undefined;
  let properties: Property[] = [];
  let requiredMask = 0;
  let additional = true;
  let minProperties = 0;
  let maxProperties = Infinity;
  for (const [keyword, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword)) continue;
    switch (keyword) {
      case 'type':
        if (!((typeBits(value) ?? 0) & OBJECT)) return undefined;
        break;
      case 'properties': {
        if (!isObject(value)) return undefined;
        const entries = Object.entries(value);
        if (entries.length > MAX_PROPERTIES) return undefined;
        properties = [];
        for (const [name, subschema] of entries) {
          const rule = ruleOf(subschema);
          // Ajv reads a property as `data[name]`: a name Object.prototype has is there in every context.
          // A name is matched against the key's text, which must hold it unescaped (see plainName).
          if (rule === undefined || name in Object.prototype || !plainName(name)) return undefined;
          properties.push({ name, units: Array.from(name, (_, j) => name.charCodeAt(j)), bit: 1 << properties.length, rule });
        }
        break;
      }
      case 'additionalProperties':
        if (typeof value !== 'boolean') return undefined;
        additional = value;
        break;
      case 'minProperties':
        if (!isCount(value)) return undefined;
        minProperties = value;
        break;
      case 'maxProperties':
        if (!isCount(value)) return undefined;
        maxProperties = value;
        break;
      case 'required':
        if (!Array.isArray(value)) return undefined;
        break;
      default:
        return undefined;
    }
  }
  const required = schema['required'];
  if (Array.isArray(required)) {
    for (const name of required) {
      const property = properties.find((candidate) => candidate.name === name);
      if (property === undefined) return undefined;
      requiredMask |= property.bit;
    }
  }
  const counted = minProperties > 0 || maxProperties !== Infinity;
  // The order the last context listed its properties in: the next key is looked for there first.
  const order = properties.map((_, at) => at);
  return (text, start) => {
    if (text.charCodeAt(start) !== OPEN_BRACE) return -1;
    let i = start + 1;
    let seen = 0;
    let unknown = 0;
    let position = 0;
    if (text.charCodeAt(i) === CLOSE_BRACE) {
      i++;
    } else {
      for (;;) {
        if (text.charCodeAt(i) !== QUOTE) return -1;
        // The key the last context had here, matched in place; else the key is read and looked up.
        let at = position < order.length ? order[position]! : -1;
        let keyEnd = at >= 0 ? keyAt(properties[at]!.units, text, i + 1) : -1;
        if (keyEnd < 0) {
          keyEnd = i + 1;
          let c = text.charCodeAt(keyEnd);
          // Up to an escape, a control character, a surrogate or the end of the text, where the check gives up.
          while (c !== QUOTE && c !== BACKSLASH && c >= 0x20 && c < 0xd800) c = text.charCodeAt(++keyEnd);
          if (c !== QUOTE) return -1;
          at = find(properties, text, i + 1, keyEnd);
        }
        i = keyEnd + 1;
        if (text.charCodeAt(i++) !== COLON) return -1;
        if (at >= 0) {
          const property = properties[at]!;
          if (seen & property.bit) return -1;
          seen |= property.bit;
          if (position < order.length) order[position] = at;
          i = checkValue(property.rule, text, i);
        } else {
          if (!additional) return -1;
          unknown++;
          i = valueEnd(text, i, 1);
        }
        if (i < 0) return -1;
        position++;
        const c = text.charCodeAt(i++);
        if (c === CLOSE_BRACE) break;
        if (c !== COMMA) return -1;
      }
    }
    if ((seen & requiredMask) !== requiredMask) return -1;
    if (!counted) return i;
    // A key unknown to the schema may repeat, and JSON.parse counts it once.
    if (unknown > 0) return -1;
    const count = bitCount(seen);
    return count >= minProperties && count <= maxProperties ? i : -1;
  };
}

/**
 * True when a key's text is `name` itself: no character that JSON escapes or that the decoder
 * refuses unescaped (a quote, a backslash, a control character, a surrogate).
 */
function plainName(name: string): boolean {
  for (let j = 0; j < name.length; j++) {
    const c = name.charCodeAt(j);
    if (c < 0x20 || c === QUOTE || c === BACKSLASH || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return true;
}

/** The index of the closing quote when the key starting at `start` is the name of `units`, else -1. */
function keyAt(units: readonly number[], text: string, start: number): number {
  const end = start + units.length;
  if (text.charCodeAt(end) !== QUOTE) return -1;
  for (let j = 0; j < units.length; j++) if (units[j] !== text.charCodeAt(start + j)) return -1;
  return end;
}

/** The index in `properties` of the key `text[start, end)`, or -1. */
function find(properties: readonly Property[], text: string, start: number, end: number): number {
  for (let at = 0; at < properties.length; at++) if (keyAt(properties[at]!.units, text, start) === end) return at;
  return -1;
}

function bitCount(mask: number): number {
  let count = 0;
  for (let rest = mask; rest !== 0; rest &= rest - 1) count++;
  return count;
}

/** A `type` keyword's bits, or undefined when it is not one or a list of JSON Schema's types. */
function typeBits(value: unknown): number | undefined {
  const names = Array.isArray(value) ? value : [value];
  let bits = 0;
  for (const name of names) {
    const bit = typeof name === 'string' && Object.hasOwn(TYPE_BITS, name) ? TYPE_BITS[name]! : undefined;
    if (bit === undefined) return undefined;
    bits |= bit;
  }
  return names.length === 0 ? undefined : bits;
}

/** What a property's schema asks of its value. */
interface Rule {
  /** The JSON types allowed, as bits; 0 allows nothing (the schema `false`). */
  types: number;
  /** Any value passes (the schema `true`, or annotations alone): it is skipped unread. */
  any: boolean;
  minLength: number;
  maxLength: number;
  pattern: RegExp | undefined;
  /** `enum` and `const`, each a list of the values allowed (every list must hold the value); undefined without either. */
  allowed: (readonly unknown[])[] | undefined;
  minimum: number;
  maximum: number;
  exclusiveMinimum: number;
  exclusiveMaximum: number;
}

function ruleOf(schema: unknown): Rule | undefined {
  if (typeof schema !== 'boolean' && !isObject(schema)) return undefined;
  const rule: Rule = {
    types: schema === false ? 0 : ANY,
    any: schema === true,
    minLength: 0,
    maxLength: Infinity,
    pattern: undefined,
    allowed: undefined,
    minimum: -Infinity,
    maximum: Infinity,
    exclusiveMinimum: -Infinity,
    exclusiveMaximum: Infinity,
  };
  if (typeof schema === 'boolean') return rule;
  let constrained = false;
  for (const [keyword, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword)) continue;
    constrained = true;
    switch (keyword) {
      case 'type': {
        const bits = typeBits(value);
        if (bits === undefined) return undefined;
        rule.types = bits;
        break;
      }
      case 'minLength':
      case 'maxLength':
        if (!isCount(value)) return undefined;
        rule[keyword] = value;
        break;
      case 'pattern':
        if (typeof value !== 'string') return undefined;
        rule.pattern = linearNativePattern(value);
        if (rule.pattern === undefined) return undefined;
        break;
      case 'enum':
        if (!Array.isArray(value) || !value.every(isPrimitive)) return undefined;
        (rule.allowed ??= []).push(value);
        break;
      case 'const':
        if (!isPrimitive(value)) return undefined;
        (rule.allowed ??= []).push([value]);
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
        rule[keyword] = value;
        break;
      default:
        return undefined;
    }
  }
  rule.any = !constrained;
  return rule;
}

function isPrimitive(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/** The value at `i`: the index after it when it certainly passes `rule`, else -1. */
function checkValue(rule: Rule, text: string, i: number): number {
  if (rule.any) return valueEnd(text, i, 1);
  const c = text.charCodeAt(i);
  if (c === QUOTE) return checkString(rule, text, i + 1);
  if (c === MINUS || (c >= ZERO && c <= NINE)) return checkNumber(rule, text, i);
  if (c === 0x74 /* t */ || c === 0x66 /* f */) {
    const value = c === 0x74;
    const end = i + (value ? 4 : 5);
    if (!(rule.types & BOOLEAN) || !text.startsWith(value ? 'true' : 'false', i) || !allows(rule, value)) return -1;
    return end;
  }
  if (c === 0x6e /* n */) {
    if (!(rule.types & NULL) || !text.startsWith('null', i) || !allows(rule, null)) return -1;
    return i + 4;
  }
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    // Only primitives are listed in `enum` and `const`: an object or array is never among them.
    if (!(rule.types & (c === OPEN_BRACE ? OBJECT : ARRAY)) || rule.allowed !== undefined) return -1;
    return valueEnd(text, i, 1);
  }
  return -1;
}

/** The string whose text starts at `start` (after its quote). */
function checkString(rule: Rule, text: string, start: number): number {
  if (!(rule.types & STRING)) return -1;
  let i = start;
  // JSON Schema counts code points: a surrogate pair is one.
  let pairs = 0;
  let c = text.charCodeAt(i);
  for (let n = 0; c !== QUOTE; n++) {
    // An escape, a control character, or the end of the text (NaN).
    if (c === BACKSLASH || !(c >= 0x20)) return -1;
    if (c >= 0xd800 && c <= 0xdfff) {
      // A pair is read; a lone surrogate is left to the decoder, which refuses it.
      const low = text.charCodeAt(i + 1);
      if (c >= 0xdc00 || !(low >= 0xdc00 && low <= 0xdfff)) return -1;
      pairs++;
      i++;
    } else if (n >= SHORT_RUN) {
      // Past the first few characters, a run with nothing to look at is skipped in one step.
      i = plainRunEnd(text, i + 1) - 1;
    }
    c = text.charCodeAt(++i);
  }
  const length = i - start - pairs;
  if (length < rule.minLength || length > rule.maxLength) return -1;
  if (rule.pattern !== undefined || rule.allowed !== undefined) {
    const value = text.slice(start, i);
    if (rule.pattern !== undefined && !rule.pattern.test(value)) return -1;
    if (!allows(rule, value)) return -1;
  }
  return i + 1;
}

/** The number token at `i`, its value as JSON.parse reads it. */
function checkNumber(rule: Rule, text: string, i: number): number {
  let end = i;
  const negative = text.charCodeAt(end) === MINUS;
  if (negative) end++;
  const digits = end;
  let magnitude = 0;
  let c = text.charCodeAt(end);
  for (; c >= ZERO && c <= NINE; c = text.charCodeAt(++end)) magnitude = magnitude * 10 + (c - ZERO);
  // A plain integer of up to 15 digits is exact as read; a longer one, or one with a fraction or
  // an exponent, is read to its end by the append decoder and its value by Number.
  const plain = c !== DOT && c !== 0x65 /* e */ && c !== 0x45; /* E */
  if (!plain || end - i > 15) {
    end = numberEnd(text, i);
  } else if ((text.charCodeAt(digits) === ZERO && end - digits > 1) || (negative && magnitude === 0)) {
    // A leading zero, or -0 (or a lone minus, read as -0): the decoder refuses them (numberEnd).
    return -1;
  }
  if (end <= i) return -1;
  const value = plain && end - i <= 15 ? (text.charCodeAt(i) === MINUS ? -magnitude : magnitude) : Number(text.slice(i, end));
  if (!Number.isFinite(value)) return -1;
  if (!(rule.types & (Number.isInteger(value) ? INTEGER : FRACTION))) return -1;
  if (value < rule.minimum || value > rule.maximum || value <= rule.exclusiveMinimum || value >= rule.exclusiveMaximum) return -1;
  return allows(rule, value) ? end : -1;
}

function allows(rule: Rule, value: unknown): boolean {
  const { allowed } = rule;
  if (allowed === undefined) return true;
  for (let at = 0; at < allowed.length; at++) if (!allowed[at]!.includes(value)) return false;
  return true;
}
