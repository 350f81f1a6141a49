/**
 * The disk usage collector with a scripted `/system/df`: readings swapped in whole once per successful collection,
 * the last one kept through failures, each failure reported, and the log told once per run of failures.
 */
import assert from "node:assert/strict";
import type { DiskUsage } from "../../../lib/docker/disk_usage.ts";
import { DiskUsageDecoder } from "../../../lib/docker/disk_usage.ts";
import { DiskUsageCollector, readingOf } from "../../../lib/resources/disk_usage.ts";
import { createLogger, type Logger } from "../../../lib/shared/logger.ts";

function recordingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const logger = createLogger("debug", (line) => out.push(line), () => 0);
  return { logger, lines: () => out.map((line) => JSON.parse(line)) };
}

const USAGE: DiskUsage = {
  images: [
    { dangling: true, sizeBytes: 10 },
    { dangling: false, sizeBytes: 100 },
    { dangling: true, sizeBytes: 5 },
  ],
  containers: [{ id: "b", sizeRwBytes: 7 }, { id: "a", sizeRwBytes: 0 }],
  volumes: [
    { name: "web-data", sizeBytes: 2048, containers: 1 },
    { name: "cache", sizeBytes: undefined, containers: undefined },
  ],
  buildCacheBytes: 0,
};

Deno.test("readingOf() counts and sums images by whether they dangle, and sorts volumes by name", () => {
  const reading = readingOf(USAGE);
  assert.deepEqual(reading.images, { dangling: { count: 2, bytes: 15 }, tagged: { count: 1, bytes: 100 } });
  assert.deepEqual([...reading.writableLayers], [["b", 7], ["a", 0]]);
  assert.deepEqual(reading.volumes.map((v) => v.name), ["cache", "web-data"]);
  assert.equal(reading.buildCacheBytes, 0);
});

Deno.test("readingOf() sums Docker's recorded answer: one dangling image, one tagged", () => {
  const decoder = new DiskUsageDecoder(false);
  decoder.push(Deno.readFileSync(new URL("../../testdata/docker_system_df.json", import.meta.url)));
  const reading = readingOf(decoder.end());
  assert.deepEqual(reading.images, {
    dangling: { count: 1, bytes: 1985478 },
    tagged: { count: 1, bytes: 1985479 },
  });
});

Deno.test("DiskUsageCollector keeps the last good reading through failures, reporting each and logging once", async () => {
  const answers: (DiskUsage | Error)[] = [USAGE, new Error("timed out"), new Error("timed out again"), {
    ...USAGE,
    buildCacheBytes: 99,
  }];
  const errors: unknown[] = [];
  const { logger, lines } = recordingLogger();
  let clock = 0;
  const collector = new DiskUsageCollector({
    diskUsage: () => {
      clock += 250;
      const answer = answers.shift()!;
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
    intervalMs: 300_000,
    onError: (error) => errors.push(error),
    logger,
    now: () => clock,
  });
  // Through a function: TypeScript would take the getter to stay as first asserted.
  const reading = () => collector.reading;
  assert.equal(reading(), undefined);
  await collector.collect();
  assert.equal(collector.generation, 1);
  assert.equal(collector.lastDurationMs, 250);
  const first = reading();
  await collector.collect();
  await collector.collect();
  assert.equal(collector.generation, 1);
  assert.equal(reading(), first);
  assert.deepEqual(errors.map((e) => (e as Error).message), ["timed out", "timed out again"]);
  await collector.collect();
  assert.equal(collector.generation, 2);
  assert.equal(reading()?.buildCacheBytes, 99);
  assert.deepEqual(lines().map((l) => [l.level, l.msg]), [
    ["warn", "cannot collect disk usage; keeping the last reading"],
    ["info", "collecting disk usage again"],
  ]);
});

Deno.test("DiskUsageCollector.run() waits until ready, then collects once an interval, one at a time", async () => {
  let ready = false;
  let calls = 0;
  let inFlight = 0;
  let release = () => {};
  const controller = new AbortController();
  const collector = new DiskUsageCollector({
    diskUsage: async () => {
      calls++;
      inFlight++;
      await new Promise<void>((resolve) => (release = resolve));
      inFlight--;
      return USAGE;
    },
    // Shorter than a collection takes here: the next starts only once the last has ended.
    intervalMs: 1,
    onError: () => {},
    logger: recordingLogger().logger,
    now: () => 0,
    ready: () => ready,
  });
  const running = collector.run(controller.signal);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(calls, 0);
  ready = true;
  while (calls === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(inFlight, 1);
  release();
  while (calls < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(inFlight, 1);
  assert.equal(collector.generation, 1);
  controller.abort();
  release();
  await running;
});
