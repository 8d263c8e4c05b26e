/**
 * Result lines: one JSON object per scenario, printed to stdout and appended
 * to `bench/results/<YYYY-MM-DD>[-quick][-profile].jsonl`, each carrying the machine it
 * was measured on, so runs can be compared across commits.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './machine.js';

/** `bench/results/` in the source tree (this file runs from `dist/bench/lib/`). */
export const RESULTS_DIR = fileURLToPath(new URL('../../../bench/results/', import.meta.url));

export interface ResultLine {
  scenario: string;
  [field: string]: unknown;
}

export class Recorder {
  readonly file: string;
  readonly #common: Record<string, unknown>;

  /** `profile`: the figures were taken under `--cpu-prof`, so they go to a file of their own. */
  constructor(quick: boolean, profile = false) {
    mkdirSync(RESULTS_DIR, { recursive: true });
    const date = new Date().toISOString().slice(0, 10);
    this.file = `${RESULTS_DIR}${date}${quick ? '-quick' : ''}${profile ? '-profile' : ''}.jsonl`;
    this.#common = { run: new Date().toISOString(), commit: gitCommit(), quick, ...(profile ? { profiled: true } : {}) };
  }

  /** Prints the line and appends it, with run, commit and machine info, to the results file. */
  record(line: ResultLine): void {
    const full = { ...line, ...this.#common, machine: machineInfo() };
    const text = JSON.stringify(full);
    process.stdout.write(`${text}\n`);
    appendFileSync(this.file, `${text}\n`);
  }
}

function gitCommit(): string | undefined {
  try {
    const cwd = fileURLToPath(new URL('../../../', import.meta.url));
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'server'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return `${head.trim()}${dirty.trim() === '' ? '' : '+dirty'}`;
  } catch {
    return undefined;
  }
}

/** Rounds to `digits` significant-ish decimals for readable lines. */
export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
