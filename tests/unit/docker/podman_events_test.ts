/**
 * The pure modules fed what Podman 4.3.1's Docker-compatible API really sends, as recorded by
 * tests/support/record_podman_fixtures.ts: its container event vocabulary, its bare `health_status`, its
 * inspect and its container list.
 */
import assert from "node:assert/strict";
import {
  ContainerRegistry,
  healthFromStatus,
  recordFromInspect,
  summaryDiffers,
} from "../../../lib/engine/registry.ts";
import type { ContainerInspect, ContainerSummary } from "../../../lib/docker/api.ts";
import { type ContainerEvent, FOLLOWED_ACTIONS, parseContainerEvent } from "../../../lib/docker/events.ts";
import { eventEffect } from "../../../lib/engine/event_effects.ts";

function testdata(name: string): string {
  return Deno.readTextFileSync(new URL(`../../testdata/${name}`, import.meta.url));
}

// deno-lint-ignore no-explicit-any
const RAW: any[] = testdata("podman_events.jsonl").trim().split("\n").map((line) => JSON.parse(line));
const EVENTS: ContainerEvent[] = RAW.map((raw) => {
  const event = parseContainerEvent(raw);
  assert.ok(event, `not a container event: ${JSON.stringify(raw)}`);
  return event;
});
const INSPECT: ContainerInspect = JSON.parse(testdata("podman_inspect_healthy.json"));
const [LISTED_HEALTHY, LISTED_PLAIN]: ContainerSummary[] = JSON.parse(testdata("podman_list.json"));

/** The recorded container (run with a HEALTHCHECK, renamed, ..., removed) and the `run --rm` one that exited 3. */
const [LONG_ID, EXIT_ID] = [INSPECT.Id, RAW.at(-1).Actor.ID as string];

/** Podman's container actions the exporter does not ask for, and why nothing is lost. */
const LEFT_OUT: Record<string, string> = {
  init: "comes between create and start; Podman's `initialized` state is `created` to the exporter",
  cleanup: "follows a die, whose inspect already brought the exited state and exit code",
  exec: "a process started inside the container changes no state",
  exec_died: "that process ended (each health check is one); the health_status event says what it meant",
};

Deno.test("parseContainerEvent() reads every event of the recorded Podman stream, none with a detail", () => {
  assert.deepEqual(EVENTS.map((event) => [event.id === LONG_ID ? "long" : "exit", event.action]), [
    ["long", "create"],
    ["long", "init"],
    ["long", "start"],
    ["long", "health_status"],
    ["long", "exec_died"],
    ["long", "rename"],
    ["long", "pause"],
    ["long", "unpause"],
    ["long", "exec"],
    ["long", "exec_died"],
    ["long", "exec_died"],
    ["long", "health_status"],
    ["long", "exec_died"],
    ["long", "restart"],
    ["long", "die"],
    ["long", "init"],
    ["long", "start"],
    ["long", "stop"],
    ["long", "die"],
    ["long", "cleanup"],
    ["long", "cleanup"],
    ["long", "remove"],
    ["exit", "create"],
    ["exit", "init"],
    ["exit", "start"],
    ["exit", "die"],
    ["exit", "remove"],
  ]);
  assert.deepEqual(EVENTS.filter((event) => event.detail !== ""), []);
  assert.match(EXIT_ID, /^[0-9a-f]{64}$/);
  for (const [i, event] of EVENTS.entries()) {
    assert.equal(event.timeMs, Math.floor(RAW[i].timeNano / 1e6));
    assert.equal(event.timeNano, RAW[i].timeNano);
  }
});

Deno.test("every action in the recorded Podman stream is one the exporter follows, or one it leaves out for a reason", () => {
  const followed: readonly string[] = FOLLOWED_ACTIONS;
  const unexplained = EVENTS.map((event) => event.action).filter((action) =>
    !followed.includes(action) && !(action in LEFT_OUT)
  );
  assert.deepEqual(unexplained, []);
  for (const action of Object.keys(LEFT_OUT)) assert.ok(!followed.includes(action), `${action} is followed`);
  // Podman's `/events` filter matches its own names: `died` (which it then reports as `die`) and `remove`.
  assert.ok(followed.includes("died") && followed.includes("remove"));
});

Deno.test("Podman's health_status carries the status from before the check, so only an inspect is believed", () => {
  const health = RAW.filter((raw) => raw.Action === "health_status");
  // The first check passed and the second failed. Podman 4.3 sends each event as its check starts, with the health
  // that check is about to replace, and stores the result only after the check's exec_died.
  assert.deepEqual(health.map((raw) => raw.HealthStatus), ["starting", "healthy"]);
  // It is kept as it came, for counting health transitions (one check late), and only on those events.
  assert.deepEqual(EVENTS.filter((e) => e.healthStatus !== undefined).map((e) => e.healthStatus), [
    "starting",
    "healthy",
  ]);
  for (const event of EVENTS.filter((e) => e.action === "health_status")) {
    assert.deepEqual(eventEffect(event, true), { remove: false, patch: undefined, inspect: true });
  }
});

Deno.test("replaying the recorded Podman stream renames, pauses, records exit codes and forgets removed containers", () => {
  const registry = new ContainerRegistry(60_000);
  registry.upsert(recordFromInspect(INSPECT), 0);
  const seen: string[] = [];
  const exitCodes: number[] = [];
  for (const [i, event] of EVENTS.entries()) {
    const effect = eventEffect(event, registry.has(event.id));
    if (effect.patch?.exitCode !== undefined) exitCodes.push(effect.patch.exitCode);
    if (effect.remove) registry.remove(event.id, i);
    else if (effect.patch) registry.patch(event.id, effect.patch, i);
    const long = registry.get(LONG_ID);
    const now = long ? `${long.name.replace(/^unitrec-[0-9a-f]{8}-/, "")} ${long.state}` : "gone";
    if (now !== seen.at(-1)) seen.push(now);
  }
  // Without inspects (which the tracker would make), the restart's start leaves the record exited until removed.
  assert.deepEqual(seen, [
    "events running",
    "events-renamed running",
    "events-renamed paused",
    "events-renamed running",
    "events-renamed exited",
    "gone",
  ]);
  assert.deepEqual(exitCodes, [0, 0, 3]);
  assert.equal(registry.size, 0);
});

Deno.test("recordFromInspect() reads Podman's inspect: the name without its slash, the localhost/ image, health", () => {
  const record = recordFromInspect(INSPECT);
  assert.match(record.name, /^unitrec-[0-9a-f]{8}-events$/);
  assert.match(record.image, /^localhost\/docker-exporter-test-busybox:[0-9a-f]{12}$/);
  assert.match(record.imageId, /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(
    [record.state, record.health, record.failingStreak, record.restartCount, record.exitCode, record.oomKilled],
    ["running", "healthy", 0, 0, 0, false],
  );
  assert.deepEqual(record.labels, { "io.buildah.version": "1.28.2", note: "héllo✓€😀" });
  assert.equal(record.finishedSeconds, undefined);
});

Deno.test("summaryDiffers() re-inspects a Podman container with a HEALTHCHECK on every list, as its Status never shows health", () => {
  // Docker's list says `Up 5 minutes (healthy)`; Podman's only `Up 5 minutes`. So a missed health_status event is
  // still corrected by the next refresh, at one inspect per refresh for each such container.
  const healthy = recordFromInspect(INSPECT);
  assert.equal(LISTED_HEALTHY.Id, healthy.id);
  assert.equal(healthFromStatus(LISTED_HEALTHY.Status), undefined);
  assert.equal(summaryDiffers(healthy, LISTED_HEALTHY), true);
  // Without a HEALTHCHECK, Podman's inspect has an empty health status, and the list agrees with the record.
  const plain = recordFromInspect({
    ...INSPECT,
    Id: LISTED_PLAIN.Id,
    Name: LISTED_PLAIN.Names![0],
    State: { ...INSPECT.State, Health: { Status: "", FailingStreak: 0 } },
  });
  assert.equal(plain.health, "none");
  assert.equal(summaryDiffers(plain, LISTED_PLAIN), false);
});
