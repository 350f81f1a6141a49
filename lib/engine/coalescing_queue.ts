/**
 * A work queue keyed by id with bounded concurrency, where asking again for a key that is already
 * waiting costs nothing, and asking for a key that is running queues exactly one more run after it.
 * This keeps inspects in order per container and bounded toward the engine during event bursts.
 */
export class CoalescingQueue {
  #waiting = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  #running = new Set<string>();
  #order: string[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly work: (key: string) => Promise<void>,
  ) {}

  /** Runs waiting or in progress (a key running with another run queued behind it counts twice). */
  get size(): number {
    return this.#waiting.size + this.#running.size;
  }

  /** Schedules a run for `key`; resolves when a run that started after this call has finished. */
  schedule(key: string): Promise<void> {
    const waiting = this.#waiting.get(key);
    if (waiting) return waiting.promise;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.#waiting.set(key, { promise, resolve });
    if (!this.#running.has(key)) this.#order.push(key);
    this.#pump();
    return promise;
  }

  /** Whether a run for `key` is in progress now. */
  isRunning(key: string): boolean {
    return this.#running.has(key);
  }

  /**
   * Drops the run waiting for `key`, if any, resolving its promise; a run in progress goes on. For a key whose work
   * has become pointless (an inspect of a container just destroyed), so that it does not wait in line before others.
   */
  cancel(key: string): void {
    const waiting = this.#waiting.get(key);
    if (!waiting) return;
    this.#waiting.delete(key);
    waiting.resolve();
  }

  #pump(): void {
    while (this.#running.size < this.concurrency && this.#order.length > 0) {
      const key = this.#order.shift()!;
      const waiting = this.#waiting.get(key);
      if (!waiting || this.#running.has(key)) continue;
      this.#waiting.delete(key);
      this.#running.add(key);
      this.work(key).catch(() => {}).finally(() => {
        this.#running.delete(key);
        waiting.resolve();
        if (this.#waiting.has(key)) this.#order.push(key);
        this.#pump();
      });
    }
  }
}
