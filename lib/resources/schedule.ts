/** Running a collection again and again in the background, and waiting between two. */

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** How often `collectEvery` looks whether it may start. */
const READY_POLL_MS = 100;

/**
 * Runs `collect` until `signal` aborts: once `ready` (checked every 100 ms), every `intervalMs()` from the start of one
 * run to the start of the next, never two at once (one that takes longer than the interval is followed at once).
 */
export async function collectEvery(options: {
  signal: AbortSignal;
  ready?: () => boolean;
  intervalMs: () => number;
  now: () => number;
  collect: () => Promise<void>;
}): Promise<void> {
  const { signal, now } = options;
  const ready = options.ready ?? (() => true);
  while (!signal.aborted && !ready()) await sleep(READY_POLL_MS, signal);
  while (!signal.aborted) {
    const started = now();
    await options.collect();
    await sleep(Math.max(0, options.intervalMs() - (now() - started)), signal);
  }
}
