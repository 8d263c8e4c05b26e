/**
 * Which JSON Schema `pattern`s may run on JavaScript's own (backtracking) RegExp engine without
 * ever taking more than linear time, so that the common ones (`^f[0-9a-z]+$`, `^\d{4}-\d{2}$`)
 * run at native speed and only the rest on re2js, a linear-time engine ~20× slower per test.
 *
 * A pattern is accepted only when it is, in a strict subset of the syntax, deterministic:
 * - anchored at its start with `^`, optionally at its end with `$`;
 * - a sequence of single-character atoms (a literal, an escape such as `\d`, `.`, or a
 *   character class), each optionally quantified (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`,
 *   greedy or lazy): no groups, alternation, back-references or look-arounds;
 * - every atom whose count may vary is followed by the end of the pattern, by `$`, or by an
 *   atom that must match at least once and shares no character with it.
 *
 * For such a pattern the engine never has two ways to go on: a character given back by a
 * quantifier can never start the atom that follows, so every backtracking step fails at once,
 * and the `^` leaves one start position. Anything outside the subset answers `undefined`.
 */

/** Inclusive ranges of code points, sorted and disjoint. */
type CharSet = readonly (readonly [number, number])[];

interface Atom {
  readonly set: CharSet;
  readonly min: number;
  readonly max: number;
}

const MAX_CODE_POINT = 0x10ffff;
const DIGIT: CharSet = [[0x30, 0x39]];
const WORD: CharSet = normalize([[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]]);
/** What `\s` matches: ECMAScript's WhiteSpace and LineTerminator. */
const SPACE: CharSet = normalize([
  [0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a],
  [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff],
]);
/** What `.` matches without the `s` flag: everything but line terminators. */
const DOT: CharSet = complement(normalize([[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]]));
const CLASS_ESCAPES: Readonly<Record<string, CharSet>> = {
  d: DIGIT, D: complement(DIGIT), w: WORD, W: complement(WORD), s: SPACE, S: complement(SPACE),
};
const CONTROL_ESCAPES: Readonly<Record<string, number>> = { n: 0x0a, r: 0x0d, t: 0x09, f: 0x0c, v: 0x0b };
/** Characters that stand for themselves after a backslash (with the `u` flag, only syntax characters and `/`). */
const SYNTAX = new Set('^$\\.*+?()[]{}|/-');

/**
 * The pattern as a native `RegExp` (with the `u` flag, as Ajv compiles patterns) when it can be
 * proved to run in linear time; `undefined` when it cannot, and re2js should run it.
 */
export function linearNativePattern(pattern: string): RegExp | undefined {
  const atoms = parse(pattern);
  if (atoms === undefined) return undefined;
  for (let i = 0; i < atoms.length; i++) {
    const atom = atoms[i]!;
    if (atom.min === atom.max) continue;
    const next = atoms[i + 1];
    if (next === undefined) continue;
    if (next.min < 1 || intersects(atom.set, next.set)) return undefined;
  }
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return undefined;
  }
}

/** The atoms of a pattern in the subset, the trailing `$` as an atom matching no character; `undefined` outside it. */
function parse(pattern: string): Atom[] | undefined {
  const chars = Array.from(pattern);
  if (chars[0] !== '^') return undefined;
  const atoms: Atom[] = [];
  let i = 1;
  while (i < chars.length) {
    const c = chars[i]!;
    let set: CharSet | undefined;
    if (c === '$') {
      if (i !== chars.length - 1) return undefined;
      atoms.push({ set: [], min: 1, max: 1 });
      return atoms;
    }
    if (c === '\\') {
      set = escape(chars[i + 1]);
      i += 2;
    } else if (c === '.') {
      set = DOT;
      i += 1;
    } else if (c === '[') {
      const parsed = charClass(chars, i + 1);
      if (parsed === undefined) return undefined;
      [set, i] = parsed;
    } else if ('^*+?()]{}|'.includes(c)) {
      return undefined;
    } else {
      const code = c.codePointAt(0)!;
      set = [[code, code]];
      i += 1;
    }
    if (set === undefined) return undefined;
    const quantified = quantifier(chars, i);
    if (quantified === undefined) return undefined;
    const [min, max, end] = quantified;
    atoms.push({ set, min, max });
    i = end;
  }
  return atoms;
}

/** The set an escape outside a class stands for, `undefined` for one outside the subset. */
function escape(c: string | undefined): CharSet | undefined {
  if (c === undefined) return undefined;
  const known = CLASS_ESCAPES[c];
  if (known !== undefined) return known;
  const control = CONTROL_ESCAPES[c];
  if (control !== undefined) return [[control, control]];
  if (SYNTAX.has(c)) {
    const code = c.codePointAt(0)!;
    return [[code, code]];
  }
  return undefined;
}

/** A character class starting after its `[`: its set and the index after its `]`. */
function charClass(chars: readonly string[], start: number): [CharSet, number] | undefined {
  let i = start;
  const negated = chars[i] === '^';
  if (negated) i += 1;
  const ranges: [number, number][] = [];
  for (;;) {
    const c = chars[i];
    if (c === undefined) return undefined;
    if (c === ']') break;
    const low = classChar(chars, i);
    if (low === undefined) return undefined;
    if (typeof low[0] !== 'number') {
      ranges.push(...(low[0] as CharSet).map(([a, b]) => [a, b] as [number, number]));
      i = low[1];
      continue;
    }
    i = low[1];
    if (chars[i] === '-' && chars[i + 1] !== undefined && chars[i + 1] !== ']') {
      const high = classChar(chars, i + 1);
      if (high === undefined || typeof high[0] !== 'number' || high[0] < low[0]) return undefined;
      ranges.push([low[0], high[0]]);
      i = high[1];
    } else {
      ranges.push([low[0], low[0]]);
    }
  }
  if (ranges.length === 0) return undefined;
  const set = normalize(ranges);
  return [negated ? complement(set) : set, i + 1];
}

/** One member of a class: a code point, or the set of a class escape; with the index after it. */
function classChar(chars: readonly string[], i: number): [number | CharSet, number] | undefined {
  const c = chars[i]!;
  if (c === '[') return undefined;
  if (c !== '\\') return [c.codePointAt(0)!, i + 1];
  const e = chars[i + 1];
  if (e === undefined) return undefined;
  const known = CLASS_ESCAPES[e];
  if (known !== undefined) return [known, i + 2];
  const control = CONTROL_ESCAPES[e];
  if (control !== undefined) return [control, i + 2];
  if (SYNTAX.has(e)) return [e.codePointAt(0)!, i + 2];
  return undefined;
}

/** The quantifier at `i`, if any: `[min, max, index after it]`; `undefined` for one outside the subset. */
function quantifier(chars: readonly string[], i: number): [number, number, number] | undefined {
  const c = chars[i];
  let min = 1;
  let max = 1;
  let end = i;
  if (c === '*' || c === '+' || c === '?') {
    min = c === '+' ? 1 : 0;
    max = c === '?' ? 1 : Infinity;
    end = i + 1;
  } else if (c === '{') {
    const close = chars.indexOf('}', i);
    if (close < 0) return undefined;
    const match = /^(\d{1,6})(,(\d{0,6}))?$/.exec(chars.slice(i + 1, close).join(''));
    if (match === null) return undefined;
    min = Number(match[1]);
    max = match[2] === undefined ? min : match[3] === '' ? Infinity : Number(match[3]);
    if (max < min) return undefined;
    end = close + 1;
  } else {
    return [1, 1, i];
  }
  // A lazy quantifier matches the same strings and is as deterministic.
  if (chars[end] === '?') end += 1;
  if (chars[end] === '*' || chars[end] === '+' || chars[end] === '?' || chars[end] === '{') return undefined;
  return [min, max, end];
}

function normalize(ranges: readonly (readonly [number, number])[]): CharSet {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [low, high] of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && low <= last[1] + 1) last[1] = Math.max(last[1], high);
    else merged.push([low, high]);
  }
  return merged;
}

function complement(set: CharSet): CharSet {
  const result: [number, number][] = [];
  let next = 0;
  for (const [low, high] of set) {
    if (low > next) result.push([next, low - 1]);
    next = high + 1;
  }
  if (next <= MAX_CODE_POINT) result.push([next, MAX_CODE_POINT]);
  return result;
}

function intersects(a: CharSet, b: CharSet): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [aLow, aHigh] = a[i]!;
    const [bLow, bHigh] = b[j]!;
    if (aLow <= bHigh && bLow <= aHigh) return true;
    if (aHigh < bHigh) i++;
    else j++;
  }
  return false;
}
