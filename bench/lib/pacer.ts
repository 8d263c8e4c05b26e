/**
 * Sends `total` items at `rate` per second: every millisecond timer tick it
 * sends the items that are due, so the rate holds on average and no item
 * waits more than a tick (about 1 ms) past its slot.
 */
export function pace(total: number, rate: number, send: (index: number) => void): Promise<{ ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    let sent = 0;
    const tick = (): void => {
      const elapsed = performance.now() - started;
      const due = Math.min(total, Math.floor((elapsed * rate) / 1000) + 1);
      while (sent < due) send(sent++);
      if (sent < total) setTimeout(tick, 1);
      else resolve({ ms: performance.now() - started });
    };
    tick();
  });
}
