import assert from "node:assert/strict";
import { createProcessReader } from "../../../lib/metrics/process.ts";

Deno.test("createProcessReader() reuses a reading until it is maxAgeMs old, then reads the process again", () => {
  let nowMs = 1_000;
  const read = createProcessReader({ maxAgeMs: 100, now: () => nowMs });
  const first = read();
  assert.ok(first.residentMemoryBytes > 0);
  assert.ok(first.cpuSeconds > 0);
  nowMs += 99;
  assert.equal(read(), first, "scrapes that come together share one reading");
  nowMs += 1;
  // Burn some CPU so that a new reading cannot equal the old one.
  const until = performance.now() + 20;
  while (performance.now() < until) Math.sqrt(Math.random());
  const second = read();
  assert.notEqual(second, first);
  assert.ok(second.cpuSeconds > first.cpuSeconds, `${second.cpuSeconds} > ${first.cpuSeconds}`);
});
