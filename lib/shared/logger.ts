/** Structured logging: one JSON object per line, to a sink (stderr in production). */

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

/** Fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** What modules log through; built by `createLogger` in main.ts, or a recording stub in tests. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Builds a logger that writes lines like
 * `{"ts":"2026-11-25T15:00:00.000Z","level":"info","msg":"connected to Docker","engine":"20.10.24"}`
 * for every message at or above `level`.
 */
export function createLogger(level: LogLevel, write: (line: string) => void, now: () => number): Logger {
  const log = (at: LogLevel) => (msg: string, fields: LogFields = {}) => {
    if (RANK[at] < RANK[level]) return;
    const entry: LogFields = { ts: new Date(now()).toISOString(), level: at, msg };
    for (const [key, value] of Object.entries(fields)) {
      entry[key] = value instanceof Error ? value.message : value;
    }
    write(JSON.stringify(entry));
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
