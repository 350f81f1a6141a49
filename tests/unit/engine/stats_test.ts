import assert from "node:assert/strict";
import { ExporterStats } from "../../../lib/engine/stats.ts";

/** A change to each kind of field an `ExporterStats` holds, keyed by the field's name. */
function changes(stats: ExporterStats): Record<string, () => void> {
  const byName: Record<string, () => void> = {};
  for (const [name, value] of Object.entries(stats)) {
    const field = name as keyof ExporterStats;
    if (value instanceof Map) byName[name] = () => ExporterStats.increment(value, "start");
    else if (typeof value === "number") byName[name] = () => (stats[field] as number)++;
    else if (typeof value === "boolean") byName[name] = () => ((stats[field] as boolean) = !value);
    else if (field === "engine") {
      byName[name] = () =>
        stats.engine = { version: "1", apiVersion: "1.41", os: "linux", kernelVersion: "6", hostname: "h" };
    } else if (value === undefined) byName[name] = () => ((stats[field] as number | undefined) = 1_000);
    else throw new Error(`no change written for field ${name}; add one`);
  }
  return byName;
}

Deno.test("ExporterStats.fingerprint() changes with every field, so cached renderings of them are redone", () => {
  const names = Object.keys(changes(new ExporterStats()));
  assert.ok(names.length >= 10, `found ${names.join(", ")}`);
  for (const name of names) {
    const stats = new ExporterStats();
    const before = stats.fingerprint();
    assert.equal(new ExporterStats().fingerprint(), before, "the same for the same values");
    changes(stats)[name]();
    assert.notEqual(stats.fingerprint(), before, name);
  }
  // A map's second change and a key's count both show.
  const stats = new ExporterStats();
  ExporterStats.increment(stats.eventsByAction, "start");
  const once = stats.fingerprint();
  ExporterStats.increment(stats.eventsByAction, "start");
  assert.notEqual(stats.fingerprint(), once);
});
