/**
 * A log line for something that can happen thousands of times a second (garbage from the engine, failed accepts):
 * the first occurrence is logged at once, later ones at most once per interval, each line saying how many went
 * unlogged since the one before. Pure but for the logging function and clock it is given.
 */
import type { LogFields } from "./logger.ts";

/** Logs one kind of repeated event at a bounded rate. */
export class RateLimitedLog {
  #lastMs = -Infinity;
  #unlogged = 0;
  #lastFields: LogFields = {};

  /**
   * `log` writes a line (a logger's `warn`, say), `intervalMs` is the least time between two lines, `now` the clock.
   */
  constructor(
    private readonly log: (msg: string, fields?: LogFields) => void,
    private readonly msg: string,
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  /** Occurrences since the last line that were not logged. */
  get unlogged(): number {
    return this.#unlogged;
  }

  /** One occurrence: logged when the last line is at least `intervalMs` old, else counted for the next line. */
  report(fields: LogFields = {}): void {
    const nowMs = this.now();
    if (nowMs - this.#lastMs < this.intervalMs) {
      this.#unlogged++;
      this.#lastFields = fields;
      return;
    }
    this.#write(fields, nowMs);
  }

  /** Logs the occurrences not logged yet, if any, with the fields of the last of them (at the end of a stream). */
  flush(): void {
    if (this.#unlogged > 0) this.#write(this.#lastFields, this.now());
  }

  #write(fields: LogFields, nowMs: number): void {
    const unlogged = this.#unlogged;
    this.log(this.msg, unlogged > 0 ? { ...fields, suppressed: unlogged } : fields);
    this.#unlogged = 0;
    this.#lastMs = nowMs;
  }
}
