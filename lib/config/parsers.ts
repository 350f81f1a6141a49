/**
 * The parsers the rows of the settings table use. Each takes a setting's text and the name it came by (the flag or
 * the environment variable), and returns the value or throws a `ConfigError` naming that name and what it accepts.
 * Pure.
 */

/** Thrown for a setting that cannot be used; the message names the setting and what it accepts. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Reads a setting's text, given as `value` by `source` (`--port` or `EXPORTER_PORT`); throws a `ConfigError`. */
export type Parser<T> = (value: string, source: string) => T;

/**
 * The error for a value a setting does not take: `source="value"` and then `why`.
 * @example refuse("--port", "abc", "is not a port") // --port="abc" is not a port
 */
export function refuse(source: string, value: string, why: string): ConfigError {
  return new ConfigError(`${source}=${JSON.stringify(value)} ${why}`);
}

/**
 * A whole number from `min` to `max`, written in decimal digits and no more of them than `max` has; `what` names it
 * in the error (`a port`, `a connection limit`).
 */
export function integerIn(what: string, min: number, max: number): Parser<number> {
  const digits = new RegExp(`^\\d{1,${String(max).length}}$`);
  return (value, source) => {
    const number = digits.test(value.trim()) ? Number(value.trim()) : NaN;
    if (!(number >= min && number <= max)) {
      throw refuse(source, value, `is not ${what}; use a number from ${min} to ${max}`);
    }
    return number;
  };
}

/**
 * One of `choices`, ignoring case and surrounding blanks; `what` names it in the error (`a log level`).
 * @example oneOf("a log level", ["debug", "info"])(" INFO ", "--log-level") // "info"
 */
export function oneOf<T extends string>(what: string, choices: readonly T[]): Parser<T> {
  return (value, source) => {
    const choice = value.trim().toLowerCase();
    if (!(choices as readonly string[]).includes(choice)) {
      throw refuse(source, value, `is not ${what}; use ${choices.join(", ")}`);
    }
    return choice as T;
  };
}

/**
 * `true` or `false`, ignoring case and surrounding blanks.
 * @example boolean(" TRUE ", "--flag") // true
 */
export const boolean: Parser<boolean> = (value, source) => {
  const text = value.trim().toLowerCase();
  if (text === "true" || text === "false") return text === "true";
  throw refuse(source, value, "is not a boolean; use true or false");
};

/**
 * An absolute directory where the host's `hostPath` is mounted, without a trailing slash (`/` stays `/`); the error
 * suggests `example`.
 * @example absoluteDirectory("/proc")("/host/proc/", "--proc-root") // "/host/proc"
 */
export function absoluteDirectory(hostPath: string, example = `/host${hostPath}`): Parser<string> {
  return (value, source) => {
    const path = value.trim();
    if (!path.startsWith("/")) {
      throw refuse(
        source,
        value,
        `is not an absolute path; use the directory where the host's ${hostPath} is mounted, such as ${example}`,
      );
    }
    return path.length > 1 ? path.replace(/\/+$/, "") : path;
  };
}

/** `parse`, except that empty text is `undefined`: the setting is unset, and something else decides its value. */
export function optional<T>(parse: Parser<T>): Parser<T | undefined> {
  return (value, source) => value === "" ? undefined : parse(value, source);
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

/** A positive duration (see `parseDuration`), in milliseconds. */
export const duration: Parser<number> = (value, source) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    throw refuse(source, value, "is not a duration; use a positive number with a unit: 500ms, 15s, 2m, 1h30m");
  }
  return ms;
};

/** The longest delay a timer can hold (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A duration a timer waits for: at most `MAX_TIMER_MS`, and at least `minMs`, for the reason `why` gives.
 * @example timerDuration(1000, "the event stream brings changes at once")("15s", "--refresh-interval") // 15000
 */
export function timerDuration(minMs: number, why: string): Parser<number> {
  return (value, source) => {
    const ms = duration(value, source);
    if (ms > MAX_TIMER_MS) {
      throw refuse(source, value, `is too long for a timer; use at most ${Math.floor(MAX_TIMER_MS / 86_400_000)}d`);
    }
    if (ms < minMs) throw refuse(source, value, `is too short; use at least ${formatDuration(minMs)} (${why})`);
    return ms;
  };
}

/**
 * A duration a timer waits for (see `timerDuration`), or 0 for off: `0`, with or without a unit. The other durations
 * refuse 0, which as an interval would mean without pause; here it means never.
 * @example durationOrOff(10_000, "...")("0", "--disk-usage-interval") // 0
 */
export function durationOrOff(minMs: number, why: string): Parser<number> {
  const parse = timerDuration(minMs, why);
  return (value, source) => {
    if (/^0+(?:ms|s|m|h|d)?$/.test(value.trim())) return 0;
    try {
      return parse(value, source);
    } catch (error) {
      if (error instanceof ConfigError) throw new ConfigError(`${error.message}; or 0 to turn it off`);
      throw error;
    }
  };
}
