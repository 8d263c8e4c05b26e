/**
 * Command-line plumbing shared by the subcommands: the two error kinds (bad
 * usage, exit 2; failure at run time, exit 1), option parsing on top of
 * `node:util` parseArgs, and checks for numbers and JSON arguments.
 */
import { parseArgs } from 'node:util';
import { isPlainObject } from '../src/validate.js';

/** Exit status for bad usage (unknown option, bad value, missing argument). */
export const EXIT_USAGE = 2;
/** Exit status for a failure at run time (unreachable server, refused request). */
export const EXIT_FAILURE = 1;

/** Bad usage: printed as one line plus a hint to use `--help`; exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure at run time: printed as one line; exit `exitCode` (1 unless told). */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;

  constructor(message: string, options?: { exitCode?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options?.exitCode ?? EXIT_FAILURE;
  }
}

/** One subcommand: its usage text and its body, which resolves with the exit status. */
export interface Command {
  readonly usage: string;
  run(args: string[]): Promise<number>;
}

/** An option as parseArgs describes it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

type Values<O extends Record<string, OptionSpec>> = {
  [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : string;
};

export interface Parsed<O extends Record<string, OptionSpec>> {
  values: Values<O>;
  positionals: string[];
}

/**
 * Parses `args` against `options` (plus `--help`/`-h`). parseArgs runs
 * non-strict with tokens so that every mistake is reported here in our own
 * words, without reading parseArgs' error messages.
 */
export function parseCommandLine<O extends Record<string, OptionSpec>>(args: string[], options: O): Parsed<O> & { help: boolean } {
  const spec = { ...options, help: { type: 'boolean', short: 'h' } } as Record<string, OptionSpec>;
  const { values, positionals, tokens } = parseArgs({ args, options: spec, allowPositionals: true, strict: false, tokens: true });
  // --help wins over any mistake next to it.
  const help = values['help'] === true;
  delete values['help'];
  if (help) return { values: values as Values<O>, positionals, help };
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const option = spec[token.name];
    if (option === undefined) throw new UsageError(`unknown option ${token.rawName}`);
    if (option.type === 'string' && token.value === undefined) throw new UsageError(`option ${token.rawName} needs a value`);
    if (option.type === 'boolean' && token.value !== undefined) throw new UsageError(`option ${token.rawName} takes no value`);
  }
  return { values: values as Values<O>, positionals, help };
}

/** Throws unless there are between `min` and `max` positional arguments. */
export function checkPositionals(positionals: string[], min: number, max: number, missing: string): void {
  if (positionals.length < min) throw new UsageError(`missing ${missing}`);
  if (positionals.length > max) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[max])}`);
}

/** A number from an option value, or a UsageError naming the option. */
export function parseNumber(
  raw: string,
  option: string,
  { integer = false, min = -Infinity, max = Infinity }: { integer?: boolean; min?: number; max?: number } = {},
): number {
  const value = raw.trim() === '' ? NaN : Number(raw);
  const kind = integer ? 'an integer' : 'a number';
  const range = max === Infinity ? `>= ${min}` : `from ${min} to ${max}`;
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new UsageError(`${option} must be ${kind} ${range}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** A JSON object from an option value, or a UsageError naming the option. */
export function parseJsonObject(raw: string, option: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new UsageError(`${option} is not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(value)) throw new UsageError(`${option} must be a JSON object, like '{"id":1}'`);
  return value;
}

/** A comma-separated list without empty items, or a UsageError naming the option. */
export function parseList(raw: string, option: string): string[] {
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new UsageError(`${option} needs at least one name`);
  return items;
}

/**
 * Runs `construct`, turning the TypeError/RangeError the client's
 * constructors throw for a bad argument into a UsageError.
 */
export function checkArgument<T>(construct: () => T, what: string): T {
  try {
    return construct();
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(`invalid ${what}: ${error.message}`);
    throw error;
  }
}
