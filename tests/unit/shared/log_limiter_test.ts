import assert from "node:assert/strict";
import { RateLimitedLog } from "../../../lib/shared/log_limiter.ts";
import type { LogFields } from "../../../lib/shared/logger.ts";

function recorder() {
  const lines: [string, LogFields | undefined][] = [];
  let nowMs = 0;
  return {
    lines,
    advance: (ms: number) => (nowMs += ms),
    log: new RateLimitedLog((msg, fields) => lines.push([msg, fields]), "skipped garbage", 60_000, () => nowMs),
  };
}

Deno.test("RateLimitedLog logs the first occurrence at once and counts the rest until the interval has passed", () => {
  const { lines, advance, log } = recorder();
  log.report({ text: "a" });
  for (let i = 0; i < 1000; i++) log.report({ text: "b" });
  assert.deepEqual(lines, [["skipped garbage", { text: "a" }]]);
  assert.equal(log.unlogged, 1000);
  advance(60_000);
  log.report({ text: "c" });
  assert.deepEqual(lines[1], ["skipped garbage", { text: "c", suppressed: 1000 }]);
  assert.equal(log.unlogged, 0);
});

Deno.test("RateLimitedLog.flush() logs what was not logged yet, and nothing when all was", () => {
  const { lines, log } = recorder();
  log.flush();
  assert.deepEqual(lines, []);
  log.report({ text: "a" });
  log.report({ text: "b" });
  log.report({ text: "c" });
  log.flush();
  assert.deepEqual(lines, [["skipped garbage", { text: "a" }], ["skipped garbage", { text: "c", suppressed: 2 }]]);
  log.flush();
  assert.equal(lines.length, 2);
});
