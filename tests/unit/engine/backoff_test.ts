import assert from "node:assert/strict";
import { backoffDelay, DEFAULT_BACKOFF } from "../../../lib/engine/backoff.ts";

Deno.test("backoffDelay() doubles from initialMs and stops at maxMs", () => {
  const policy = { initialMs: 100, maxMs: 5_000 };
  // random = 1 gives the top of the jitter range: the undisturbed exponential.
  assert.deepEqual(
    Array.from({ length: 9 }, (_, attempt) => backoffDelay(attempt, policy, 1)),
    [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000],
  );
});

Deno.test("backoffDelay() scales by a jitter factor from 0.5 to 1 taken from random", () => {
  const policy = { initialMs: 1000, maxMs: 60_000 };
  const table: Array<[number, number, number]> = [
    [0, 0, 500],
    [0, 0.5, 750],
    [0, 0.999, 1000],
    [3, 0, 4000],
    [3, 0.25, 5000],
    [10, 0, 30_000],
    [10, 0.5, 45_000],
  ];
  for (const [attempt, random, expected] of table) {
    assert.equal(backoffDelay(attempt, policy, random), expected, `attempt ${attempt}, random ${random}`);
  }
});

Deno.test("backoffDelay() stays finite and capped for huge attempt counts", () => {
  for (const attempt of [31, 100, 1_000_000, Number.MAX_SAFE_INTEGER]) {
    assert.equal(backoffDelay(attempt, DEFAULT_BACKOFF, 0), DEFAULT_BACKOFF.maxMs / 2);
    assert.equal(backoffDelay(attempt, DEFAULT_BACKOFF, 0.999999), DEFAULT_BACKOFF.maxMs);
  }
});

Deno.test("DEFAULT_BACKOFF waits 125-250 ms first and never more than 10 s", () => {
  assert.equal(backoffDelay(0, DEFAULT_BACKOFF, 0), 125);
  assert.equal(backoffDelay(0, DEFAULT_BACKOFF, 0.999999), 250);
  assert.equal(backoffDelay(6, DEFAULT_BACKOFF, 0.999999), 10_000);
  assert.equal(backoffDelay(5, DEFAULT_BACKOFF, 0.999999), 8_000);
});

Deno.test("backoffDelay() spreads retries of many exporters over the jitter range", () => {
  const delays = new Set(Array.from({ length: 100 }, (_, i) => backoffDelay(4, DEFAULT_BACKOFF, i / 100)));
  assert.ok(delays.size > 90, `only ${delays.size} distinct delays`);
  assert.equal(Math.min(...delays), 2000);
  assert.ok(Math.max(...delays) < 4000);
});
