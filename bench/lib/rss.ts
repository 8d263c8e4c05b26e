/** Samples this process's resident set size, to report its peak. */
export class RssSampler {
  #max = process.memoryUsage.rss();
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(intervalMs = 50) {
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.#max) this.#max = rss;
  }

  /** The peak so far, in MB (2^20 bytes), to 0.1 MB. */
  get maxMB(): number {
    this.sample();
    return Math.round((this.#max / 2 ** 20) * 10) / 10;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
