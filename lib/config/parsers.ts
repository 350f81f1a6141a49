/**
 * The parsers a setting's text goes through, and the error they throw. Pure.
 */

/** Thrown for a setting that cannot be used; the message names the setting and what it accepts. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Milliseconds in each unit of a duration, in the order a duration writes them: d, h, m, s, ms. */
const DURATION_UNITS_MS = [86_400_000, 3_600_000, 60_000, 1000, 1];

/**
 * Parses a Prometheus-style duration such as `500ms`, `15s`, `2m` or `1h30m` into milliseconds: units from
 * largest to smallest, each at most once. Returns `undefined` for anything else, and for zero.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(text.trim());
  if (!match || text.trim() === "") return undefined;
  const total = DURATION_UNITS_MS.reduce((sum, unit, i) => sum + Number(match[i + 1] ?? 0) * unit, 0);
  return total > 0 && Number.isSafeInteger(total) ? total : undefined;
}

/** Formats milliseconds back into the shortest duration string `parseDuration` accepts. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
