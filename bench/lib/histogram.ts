/**
 * A latency histogram with 10 µs bins up to 2 s (exact values beyond), small
 * enough to send over IPC and merge: a consumer process records millions of
 * deliveries and reports one histogram.
 */
const BIN_MS = 0.01;
const BINS = 200_000;

/** What travels over IPC: `[bin, count]` pairs for the non-empty bins, and the values beyond the last bin. */
export interface HistogramData {
  bins: [number, number][];
  overflow: number[];
  max: number;
}

export class Histogram {
  readonly #counts = new Uint32Array(BINS);
  #overflow: number[] = [];
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Records one latency in milliseconds (negative values, from clock noise, count as 0). */
  record(ms: number): void {
    const value = ms > 0 ? ms : 0;
    const bin = Math.floor(value / BIN_MS);
    if (bin < BINS) this.#counts[bin]!++;
    else this.#overflow.push(value);
    this.#count++;
    this.#sum += value;
    if (value > this.#max) this.#max = value;
  }

  get count(): number {
    return this.#count;
  }

  get max(): number {
    return this.#max;
  }

  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /** The value at percentile `p` (0–100), by nearest rank, to the bin's upper edge. */
  percentile(p: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let bin = 0; bin < BINS; bin++) {
      seen += this.#counts[bin]!;
      if (seen >= rank) return Math.min((bin + 1) * BIN_MS, this.#max);
    }
    const beyond = [...this.#overflow].sort((a, b) => a - b);
    return beyond[rank - seen - 1] ?? this.#max;
  }

  toJSON(): HistogramData {
    const bins: [number, number][] = [];
    this.#counts.forEach((count, bin) => {
      if (count > 0) bins.push([bin, count]);
    });
    return { bins, overflow: this.#overflow, max: this.#max };
  }

  /** Adds another histogram's data (from `toJSON`). */
  merge(data: HistogramData): void {
    for (const [bin, count] of data.bins) {
      this.#counts[bin]! += count;
      this.#count += count;
      this.#sum += count * (bin + 0.5) * BIN_MS;
    }
    for (const value of data.overflow) {
      this.#overflow.push(value);
      this.#count++;
      this.#sum += value;
    }
    if (data.max > this.#max) this.#max = data.max;
  }

  /** p50/p99/p999/max/mean in ms, rounded to µs. */
  summary(): { count: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number; meanMs: number } {
    const round = (ms: number): number => Math.round(ms * 1000) / 1000;
    return {
      count: this.#count,
      p50Ms: round(this.percentile(50)),
      p99Ms: round(this.percentile(99)),
      p999Ms: round(this.percentile(99.9)),
      maxMs: round(this.#max),
      meanMs: round(this.mean),
    };
  }
}
