/** What every scenario gets from the orchestrator, and helpers for the lines it records. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Recorder } from './results.js';

export interface ScenarioContext {
  readonly quick: boolean;
  readonly recorder: Recorder;
  /** Node flags for a wsjournal process of `role` (server, consumer): `--cpu-prof` into a folder per role when profiling, else none. */
  readonly profileArgv: (role: string) => string[];
  /** False with --wsjournal-only: skip Socket.IO, NATS and Redis, keep wsjournal on LMDB and its baselines. */
  readonly others: boolean;
  /** Why Redis or NATS cannot be used (those parts are skipped), or undefined. */
  readonly redisReason: string | undefined;
  readonly natsReason: string | undefined;
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(purpose: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `wsjbench-${purpose}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Events per second, rounded. */
export function rate(events: number, ms: number): number {
  return Math.round((events * 1000) / ms);
}

/** Prints why a part was skipped (to stderr) and records it. */
export function skip(context: ScenarioContext, scenario: string, reason: string): void {
  console.error(`[bench] skipping ${scenario}: ${reason}`);
  context.recorder.record({ scenario, skipped: reason });
}

/** Progress for the person watching, on stderr. */
export function log(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}
