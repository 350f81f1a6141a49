import assert from "node:assert/strict";
import {
  type ContainerRecord,
  ContainerRegistry,
  healthFromStatus,
  MAX_LABEL_KEY_CHARS,
  MAX_LABEL_VALUE_CHARS,
  parseDockerTime,
  recordFromInspect,
  StringPool,
  summaryDiffers,
} from "../../../lib/engine/registry.ts";
import type { ContainerInspect, ContainerSummary } from "../../../lib/docker/api.ts";
import { type EventCounts, NO_EVENTS } from "../../../lib/engine/event_counts.ts";

const TOMBSTONE_MS = 30_000;

/** A hand-driven clock: the registry takes time as arguments, so tests decide what "now" is. */
class Clock {
  constructor(public ms = 1_795_600_000_000) {}
  advance(ms: number): number {
    return (this.ms += ms);
  }
}

function record(id: string, changes: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id,
    name: `name-${id}`,
    image: "busybox:1",
    imageId: "sha256:0123",
    labels: { "com.docker.compose.project": "shop" },
    state: "running",
    createdSeconds: 1_795_599_000,
    startedSeconds: 1_795_599_001.5,
    finishedSeconds: undefined,
    restartCount: 0,
    exitCode: 0,
    oomKilled: false,
    health: "none",
    failingStreak: 0,
    events: NO_EVENTS,
    ...changes,
  };
}

function readInspect(name: string): ContainerInspect {
  return JSON.parse(Deno.readTextFileSync(new URL(`../../testdata/${name}`, import.meta.url)));
}

/** Unix seconds of a UTC wall time plus a fraction, computed without parsing any string. */
function utcSeconds(y: number, mo: number, d: number, h: number, mi: number, s: number, fraction: number): number {
  return Date.UTC(y, mo - 1, d, h, mi, s) / 1000 + fraction;
}

function assertClose(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-6, `${what}: ${actual} is not ${expected}`);
}

Deno.test("ContainerRegistry.upsert() of an equal record keeps the record it had, and takes a changed one", () => {
  // The scrape cache keeps a family's text while its records are the same objects.
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  const first = record("a");
  registry.upsert(first, 1);
  registry.upsert(record("a"), 2);
  assert.equal(registry.get("a"), first, "the same object");
  assert.equal(registry.containers()[0], first);
  const changed = record("a", { exitCode: 1 });
  registry.upsert(changed, 3);
  assert.equal(registry.get("a"), changed);
  // A field the old record did not have (a CPU quota read once resource metrics are on) is a change, not "equal".
  const withQuota = record("a", { exitCode: 1, cpuQuotaMicros: 50_000 });
  const version = registry.version;
  registry.upsert(withQuota, 4);
  assert.equal(registry.get("a"), withQuota);
  assert.equal(registry.version, version + 1);
});

Deno.test("ContainerRegistry.upsert() bumps version only when the record really changes", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  assert.equal(registry.version, 0);
  assert.equal(registry.upsert(record("a"), clock.ms), true);
  assert.equal(registry.version, 1);
  assert.equal(registry.upsert(record("a"), clock.advance(1000)), true);
  assert.equal(registry.version, 1, "an equal record (new objects, same labels) is no change");
  registry.upsert(record("a", { labels: { "com.docker.compose.project": "shop" } }), clock.advance(1000));
  assert.equal(registry.version, 1);
  registry.upsert(record("a", { exitCode: 3 }), clock.advance(1000));
  assert.equal(registry.version, 2);
  registry.upsert(record("a", { exitCode: 3, labels: { "com.docker.compose.project": "other" } }), clock.ms);
  assert.equal(registry.version, 3, "a changed label value is a change");
  registry.upsert(record("a", { exitCode: 3, labels: {} }), clock.ms);
  assert.equal(registry.version, 4, "a removed label is a change");
  registry.upsert(record("a", { exitCode: 3, labels: {}, startedSeconds: undefined }), clock.ms);
  assert.equal(registry.version, 5, "a field becoming undefined is a change");
  assert.equal(registry.size, 1);
  assert.deepEqual(registry.get("a"), record("a", { exitCode: 3, labels: {}, startedSeconds: undefined }));
});

Deno.test("ContainerRegistry.patch() bumps version only when a field changes, and ignores unknown ids", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  registry.upsert(record("a"), clock.ms);
  registry.patch("a", { state: "running", health: "none" }, clock.advance(1));
  assert.equal(registry.version, 1);
  registry.patch("a", { state: "paused" }, clock.advance(1));
  assert.equal(registry.version, 2);
  assert.equal(registry.get("a")?.state, "paused");
  assert.equal(registry.get("a")?.name, "name-a", "the other fields stay");
  registry.patch("ghost", { state: "paused" }, clock.advance(1));
  assert.equal(registry.version, 2);
  assert.equal(registry.has("ghost"), false);
});

Deno.test("ContainerRegistry.markSeen() never bumps version but keeps the container from going stale", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  registry.upsert(record("a"), clock.ms);
  registry.upsert(record("b"), clock.ms);
  clock.advance(20_000);
  registry.markSeen("a", clock.ms);
  registry.markSeen("ghost", clock.ms);
  assert.equal(registry.version, 2);
  assert.equal(registry.has("ghost"), false);
  assert.deepEqual(registry.sweep(clock.advance(15_000), 30_000), ["b"]);
  assert.equal(registry.has("a"), true);
});

Deno.test("ContainerRegistry.patch() counts as seeing the container, even without a change", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  registry.upsert(record("a"), clock.ms);
  registry.patch("a", { state: "running" }, clock.advance(20_000));
  assert.deepEqual(registry.sweep(clock.advance(15_000), 30_000), []);
});

Deno.test("ContainerRegistry.remove() leaves a tombstone that refuses a late upsert until sweep expires it", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  registry.upsert(record("a"), clock.ms);
  assert.equal(registry.remove("a", clock.advance(1000)), true);
  assert.equal(registry.version, 2);
  assert.equal(registry.has("a"), false);
  assert.deepEqual(registry.containers(), []);

  // The answer to an inspect sent before the destroy event arrives late.
  assert.equal(registry.upsert(record("a"), clock.advance(500)), false);
  assert.equal(registry.has("a"), false);
  assert.equal(registry.version, 2);

  registry.sweep(clock.advance(TOMBSTONE_MS - 500), 30_000);
  assert.equal(registry.upsert(record("a"), clock.ms), false, "the tombstone lasts tombstoneMs");
  registry.sweep(clock.advance(1), 30_000);
  assert.equal(registry.upsert(record("a"), clock.ms), true, "an expired tombstone no longer refuses");
  assert.equal(registry.has("a"), true);
});

Deno.test("ContainerRegistry.remove() of an unknown container does not bump version but still refuses it later", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  assert.equal(registry.remove("a", clock.ms), false);
  assert.equal(registry.version, 0);
  assert.equal(registry.upsert(record("a"), clock.advance(100)), false);
});

Deno.test("ContainerRegistry.dropMissing() drops unlisted containers but keeps one seen after the list started", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  registry.upsert(record("listed"), clock.ms);
  registry.upsert(record("vanished"), clock.ms);
  registry.upsert(record("seen-later"), clock.ms);
  const listStartedMs = clock.advance(1000);
  // While the list request is in flight, an event creates or touches a container the list cannot show yet.
  registry.upsert(record("created-during-list"), clock.advance(10));
  registry.markSeen("seen-later", clock.ms);
  const versionBefore = registry.version;

  const dropped = registry.dropMissing(new Set(["listed"]), listStartedMs, clock.advance(10));
  assert.deepEqual(dropped, ["vanished"]);
  assert.deepEqual(registry.containers().map((c) => c.id).sort(), ["created-during-list", "listed", "seen-later"]);
  assert.equal(registry.version, versionBefore + 1);
  assert.equal(registry.upsert(record("vanished"), clock.ms), false, "a dropped container is tombstoned");
});

Deno.test("ContainerRegistry.sweep() drops only entries not seen within the stale period", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  registry.upsert(record("old"), clock.ms);
  registry.upsert(record("edge"), clock.advance(5_000));
  registry.upsert(record("fresh"), clock.advance(10_000));
  const version = registry.version;
  assert.deepEqual(registry.sweep(clock.ms + 10_000, 30_000), [], "nothing is older than 30 s yet");
  assert.equal(registry.version, version);
  // Now "old" was last seen 30.001 s ago and "edge" 25.001 s ago; later "edge" reaches exactly 30 s (kept),
  // then 30.001 s (dropped): only entries strictly older than the stale period go.
  assert.deepEqual(registry.sweep(clock.advance(15_001), 30_000), ["old"]);
  assert.equal(registry.version, version + 1);
  assert.deepEqual(registry.sweep(clock.advance(4_999), 30_000), []);
  assert.deepEqual(registry.sweep(clock.advance(1), 30_000), ["edge"]);
  assert.deepEqual(registry.containers().map((c) => c.id), ["fresh"]);
  // A stale container is not destroyed: it comes back when the engine shows it again.
  assert.equal(registry.upsert(record("old"), clock.ms), true);
});

/** Counts one start (and notes the health it was given). */
const oneStart = (seen: (string | undefined)[] = []) => (counts: EventCounts, health: string | undefined) => {
  seen.push(health);
  return { ...counts, starts: counts.starts + 1 };
};

Deno.test("ContainerRegistry.count() replaces a known container's record with one holding the new counts", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  registry.upsert(record("a", { health: "healthy" }), clock.ms);
  const before = registry.get("a")!;
  const version = registry.version;
  const seen: (string | undefined)[] = [];
  registry.count("a", oneStart(seen), clock.advance(10));
  const after = registry.get("a")!;
  assert.notEqual(after, before, "a new record: the scrape cache keeps each record's lines");
  assert.equal(before.events, NO_EVENTS, "the old record is not changed");
  assert.equal(after.events.starts, 1);
  assert.deepEqual(seen, ["healthy"], "the counting is given the record's health");
  assert.equal(registry.version, version + 1);

  registry.count("a", (counts) => counts, clock.advance(10));
  assert.equal(registry.get("a"), after, "counts that did not change keep the record");
  assert.equal(registry.version, version + 1);

  // A fresh inspect of the container brings a record without counts: it takes those counted so far.
  registry.upsert(record("a", { health: "healthy", state: "exited" }), clock.advance(10));
  assert.equal(registry.get("a")!.events, after.events);
  assert.equal(registry.get("a")!.state, "exited");
});

Deno.test("ContainerRegistry.count() keeps the counts of a container without a record for the record to come", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  const seen: (string | undefined)[] = [];
  // Created and started before the inspect the create asked for answered.
  registry.count("a", oneStart(seen), clock.ms);
  registry.count("a", oneStart(seen), clock.advance(10));
  assert.deepEqual(seen, [undefined, undefined], "no record, no health");
  assert.equal(registry.has("a"), false);
  assert.equal(registry.version, 0, "nothing to show yet");
  registry.upsert(record("a"), clock.advance(10));
  assert.equal(registry.get("a")!.events.starts, 2);
  // Claimed by their own container only.
  registry.upsert(record("b"), clock.ms);
  assert.equal(registry.get("b")!.events, NO_EVENTS);
});

Deno.test("ContainerRegistry.remove() drops a container's counts with it, and counts nothing for it afterwards", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  registry.upsert(record("a"), clock.ms);
  registry.count("a", oneStart(), clock.ms);
  registry.count("pending", oneStart(), clock.ms);
  registry.remove("a", clock.advance(10));
  registry.remove("pending", clock.ms);
  registry.count("a", oneStart(), clock.advance(10));
  registry.count("pending", oneStart(), clock.ms);
  // Past the tombstones, the same ids start again from nothing.
  registry.sweep(clock.advance(TOMBSTONE_MS + 1), 60_000);
  registry.upsert(record("a"), clock.ms);
  registry.upsert(record("pending"), clock.ms);
  assert.equal(registry.get("a")!.events, NO_EVENTS);
  assert.equal(registry.get("pending")!.events, NO_EVENTS);
});

Deno.test("ContainerRegistry.dropMissing() and sweep() drop a container's counts with it", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  for (const id of ["vanished", "stale"]) {
    registry.upsert(record(id), clock.ms);
    registry.count(id, oneStart(), clock.ms);
  }
  registry.count("stale", oneStart(), clock.advance(20_000));
  registry.markSeen("vanished", clock.ms);
  registry.dropMissing(new Set(["stale"]), clock.advance(1), clock.ms);
  assert.deepEqual(registry.sweep(clock.advance(15_000), 30_000), ["stale"]);
  assert.deepEqual(registry.containers(), []);
  // No tombstone for a stale container: the engine shows it again, with nothing counted.
  assert.equal(registry.upsert(record("stale"), clock.ms), true);
  assert.equal(registry.get("stale")!.events, NO_EVENTS);
});

Deno.test("ContainerRegistry.sweep() drops the counts of a container whose record never came, once stale", () => {
  const clock = new Clock();
  const registry = new ContainerRegistry(TOMBSTONE_MS);
  registry.count("never", oneStart(), clock.ms);
  registry.count("late", oneStart(), clock.ms);
  registry.count("late", oneStart(), clock.advance(20_000));
  registry.sweep(clock.advance(10_001), 30_000);
  registry.upsert(record("never"), clock.ms);
  registry.upsert(record("late"), clock.ms);
  assert.equal(registry.get("never")!.events, NO_EVENTS);
  assert.equal(registry.get("late")!.events.starts, 2, "counted within the stale period: kept");
});

Deno.test("parseDockerTime() keeps the nanoseconds Date.parse drops", () => {
  const text = "2026-11-25T15:12:05.475717411Z";
  const seconds = parseDockerTime(text);
  assertClose(seconds, utcSeconds(2026, 11, 25, 15, 12, 5, 0.475717411), text);
  assert.ok(Math.abs(seconds! - Date.parse(text) / 1000) > 0.0007, "the sub-millisecond part is kept");
});

Deno.test("parseDockerTime() reads the forms the engine writes", () => {
  const table: Array<[string, number]> = [
    ["2026-11-25T15:12:09.13167661Z", utcSeconds(2026, 11, 25, 15, 12, 9, 0.13167661)],
    ["2026-11-25T15:12:09Z", utcSeconds(2026, 11, 25, 15, 12, 9, 0)],
    ["2026-11-25T17:12:09.5+02:00", utcSeconds(2026, 11, 25, 15, 12, 9, 0.5)],
    ["2026-11-25T10:12:09.25-05:00", utcSeconds(2026, 11, 25, 15, 12, 9, 0.25)],
  ];
  for (const [text, expected] of table) assertClose(parseDockerTime(text), expected, text);
});

Deno.test("parseDockerTime() maps Docker's zero time, nothing and garbage to undefined", () => {
  for (
    const text of ["0001-01-01T00:00:00Z", undefined, "", "yesterday", "2026-11-25 15:12:09", "2026-13-45T99:12:09Z"]
  ) {
    assert.equal(parseDockerTime(text), undefined, String(text));
  }
});

Deno.test("recordFromInspect() reads a real inspect of a running container", () => {
  const inspect = readInspect("inspect_running.json");
  const { createdSeconds, startedSeconds, ...rest } = recordFromInspect(inspect);
  assert.deepEqual(rest, {
    id: "9bf8c1d8114e7aa2d6fa40c214d647a0f136f62a46651b673d435c04e03a7db2",
    name: "unitrec-f8554f0a-running",
    image: "unitrec-f8554f0a-busybox:1",
    imageId: "sha256:a061240b272a3ee678329dc81aa10929aa6858c0900e632b88066e32e51222f7",
    labels: { "com.docker.compose.project": "shop", "com.docker.compose.service": "web", note: "héllo✓€😀" },
    state: "running",
    finishedSeconds: undefined,
    restartCount: 0,
    exitCode: 0,
    oomKilled: false,
    health: "none",
    failingStreak: 0,
    pid: 6833,
    memoryLimitBytes: 0,
    cpuQuotaMicros: 0,
    cpuPeriodMicros: 100_000,
    cpuShares: 1024,
    memoryReservationBytes: 0,
    memorySwapLimitBytes: 0,
    sharesNetwork: false,
    events: NO_EVENTS,
  });
  assertClose(createdSeconds, utcSeconds(2026, 11, 25, 15, 12, 5, 0.308331256), "created");
  assertClose(startedSeconds, utcSeconds(2026, 11, 25, 15, 12, 5, 0.475717411), "started");
});

Deno.test("recordFromInspect() notes a container that joined another's network namespace", () => {
  const inspect = readInspect("inspect_running.json");
  assert.equal(recordFromInspect(inspect).sharesNetwork, false, "--network none");
  for (const mode of ["container:9bf8c1d8114e", "container:web"]) {
    const joined = { ...inspect, HostConfig: { ...inspect.HostConfig, NetworkMode: mode } };
    assert.equal(recordFromInspect(joined).sharesNetwork, true, mode);
  }
  const host = { ...inspect, HostConfig: { ...inspect.HostConfig, NetworkMode: "host" } };
  assert.equal(recordFromInspect(host).sharesNetwork, false, "host");
});

Deno.test("recordFromInspect() through a StringPool gives the same records, also once the pool starts afresh", () => {
  const pool = new StringPool(3, 40);
  for (const file of ["inspect_running.json", "inspect_healthcheck.json", "inspect_exited.json"]) {
    const inspect = readInspect(file);
    for (let i = 0; i < 3; i++) assert.deepEqual(recordFromInspect(inspect, pool), recordFromInspect(inspect), file);
  }
});

Deno.test("StringPool.intern() returns a string equal to its argument, past capacity and length limits", () => {
  const pool = new StringPool(4, 8);
  const values = ["a", "b", "a", "", "long string of text", "c", "d", "e", "a", "b", "long string of text", "é😀"];
  for (let round = 0; round < 3; round++) {
    for (const value of values) assert.equal(pool.intern(value), value);
  }
});

Deno.test("recordFromInspect() reads a real inspect of an unhealthy container with its failing streak", () => {
  const { health, failingStreak, state, name, labels } = recordFromInspect(readInspect("inspect_healthcheck.json"));
  assert.deepEqual({ health, failingStreak, state, name, labels }, {
    health: "unhealthy",
    failingStreak: 3,
    state: "running",
    name: "unitrec-f8554f0a-unhealthy",
    labels: {},
  });
});

Deno.test("recordFromInspect() reads a real inspect of a container that exited with code 7", () => {
  const r = recordFromInspect(readInspect("inspect_exited.json"));
  assert.equal(r.state, "exited");
  assert.equal(r.exitCode, 7);
  assert.equal(r.health, "none");
  assertClose(r.startedSeconds, utcSeconds(2026, 11, 25, 15, 12, 9, 0.13167661), "started");
  assertClose(r.finishedSeconds, utcSeconds(2026, 11, 25, 15, 12, 9, 0.131322735), "finished");
});

Deno.test("recordFromInspect() copes with null labels and health, and unknown states", () => {
  const inspect = readInspect("inspect_running.json");
  const r = recordFromInspect({
    ...inspect,
    RestartCount: 4,
    Config: { ...inspect.Config, Labels: null },
    State: { ...inspect.State, Status: "restarting", OOMKilled: true, ExitCode: 137, Health: null },
  });
  assert.deepEqual(
    [r.labels, r.state, r.restartCount, r.oomKilled, r.exitCode, r.health, r.failingStreak],
    [{}, "restarting", 4, true, 137, "none", 0],
  );
  const odd = recordFromInspect({
    ...inspect,
    State: { ...inspect.State, Status: "hibernating", Health: { Status: "sleepy", FailingStreak: 2 } },
  });
  assert.equal(odd.state, "dead");
  assert.equal(odd.health, "none");
});

Deno.test("recordFromInspect() keeps only the labels keepLabel accepts, drops long keys and cuts long values", () => {
  const inspect = readInspect("inspect_running.json");
  const longKey = "k".repeat(MAX_LABEL_KEY_CHARS + 1);
  const labels = {
    "com.docker.compose.project": "shop",
    "com.example.blob": "x".repeat(8 << 20),
    "team": "t".repeat(MAX_LABEL_VALUE_CHARS + 10),
    [longKey]: "v",
    ["k".repeat(MAX_LABEL_KEY_CHARS)]: "fits",
  };
  const keepLabel = (key: string) => key !== "com.example.blob";
  const r = recordFromInspect({ ...inspect, Config: { ...inspect.Config, Labels: labels } }, undefined, keepLabel);
  assert.deepEqual(r.labels, {
    "com.docker.compose.project": "shop",
    "team": "t".repeat(MAX_LABEL_VALUE_CHARS),
    ["k".repeat(MAX_LABEL_KEY_CHARS)]: "fits",
  });
  // Without a keepLabel every label is kept, within the same bounds.
  const all = recordFromInspect({ ...inspect, Config: { ...inspect.Config, Labels: labels } });
  assert.deepEqual(Object.keys(all.labels).sort(), Object.keys(labels).filter((key) => key !== longKey).sort());
  assert.equal(all.labels["com.example.blob"].length, MAX_LABEL_VALUE_CHARS);
});

Deno.test("recordFromInspect() cuts a long label value before a character that would be split in half", () => {
  const inspect = readInspect("inspect_running.json");
  // A value whose character at the cut is an emoji: two UTF-16 units, the first the last one kept.
  const value = "a".repeat(MAX_LABEL_VALUE_CHARS - 1) + "😀".repeat(3);
  const r = recordFromInspect({ ...inspect, Config: { ...inspect.Config, Labels: { note: value } } });
  assert.equal(r.labels.note, "a".repeat(MAX_LABEL_VALUE_CHARS - 1));
  assert.equal(new TextDecoder().decode(new TextEncoder().encode(r.labels.note)), r.labels.note, "no lone surrogate");
});

Deno.test("healthFromStatus() reads the health a container list shows in Status", () => {
  const table: Array<[string | undefined, ReturnType<typeof healthFromStatus>]> = [
    ["Up 5 minutes (healthy)", "healthy"],
    ["Up 10 seconds (unhealthy)", "unhealthy"],
    ["Up 2 seconds (health: starting)", "starting"],
    ["Up 5 minutes", undefined],
    ["Up 5 minutes (Paused)", undefined],
    ["Exited (0) 3 hours ago", undefined],
    ["", undefined],
    [undefined, undefined],
  ];
  for (const [status, expected] of table) assert.equal(healthFromStatus(status), expected, String(status));
});

Deno.test("summaryDiffers() is true only when the list shows a different state, name or health", () => {
  const running = record("a", { name: "web", health: "healthy" });
  const summary = (changes: Partial<ContainerSummary>): ContainerSummary => ({
    Id: "a",
    Names: ["/web"],
    State: "running",
    Status: "Up 5 minutes (healthy)",
    ...changes,
  });
  const table: Array<[string, ContainerRecord, ContainerSummary, boolean]> = [
    ["the same", running, summary({}), false],
    ["another state", running, summary({ State: "exited", Status: "Exited (0) 1 second ago" }), true],
    ["another name", running, summary({ Names: ["/web-2"] }), true],
    ["another health", running, summary({ Status: "Up 5 minutes (unhealthy)" }), true],
    ["health gone", running, summary({ Status: "Up 5 minutes" }), true],
    ["a summary without Status while the record is healthy", running, { Id: "a" }, true],
    [
      "a paused container whose Status hides health",
      record("a", { name: "web", state: "paused", health: "healthy" }),
      summary({ State: "paused", Status: "Up 5 minutes (Paused)" }),
      false,
    ],
    ["no health on either side", record("a", { name: "web" }), summary({ Status: "Up 1 second" }), false],
  ];
  for (const [what, r, s, expected] of table) assert.equal(summaryDiffers(r, s), expected, what);
});
