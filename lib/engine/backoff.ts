/** Capped exponential backoff with jitter, for reconnecting to the engine. Pure. */

/** Backoff settings in milliseconds. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** The default: 250 ms, doubling, at most 10 s between attempts. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 10_000 };

/**
 * The delay before retry number `attempt` (0 for the first retry): `initialMs * 2^attempt`, capped at `maxMs`,
 * then scaled by a factor in [0.5, 1) from `random` so that many exporters do not retry in step.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.5 + random / 2));
}
