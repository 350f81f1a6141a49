/**
 * The counting rules: sequences of events, as Docker 20.10 and Podman 4.3 send them (recorded by hand with
 * `docker events` and Podman's `/events`), and the counts they leave.
 */
import assert from "node:assert/strict";
import { countEvent, type EventCounts, NO_EVENTS } from "../../../lib/engine/event_counts.ts";
import type { ContainerEvent } from "../../../lib/docker/events.ts";

/** `action`, `action:detail` or `action exitCode=1 ...`: an event of one container, its attributes after spaces. */
function event(text: string): ContainerEvent {
  const [head, ...pairs] = text.split(" ");
  const [action, detail = ""] = head.split(":");
  const attributes = Object.fromEntries(pairs.map((pair) => pair.split("=") as [string, string]));
  const { HealthStatus, ...rest } = attributes;
  return {
    action,
    detail,
    id: "a",
    attributes: rest,
    timeMs: 0,
    ...(HealthStatus ? { healthStatus: HealthStatus } : {}),
  };
}

/** The counts after `events`, from `NO_EVENTS` (or `from`), with the record showing `recordHealth`. */
function replay(events: readonly string[], recordHealth?: string, from: EventCounts = NO_EVENTS): EventCounts {
  return events.reduce((counts, text) => countEvent(counts, event(text), recordHealth), from);
}

/** The counts without the state kept for the next events: what the families show. */
function shown({ starts, exits, healthTransitions }: EventCounts) {
  return { starts, exits: { ...exits }, healthTransitions: { ...healthTransitions } };
}

const exits = (changes: Partial<EventCounts["exits"]>) => ({ ...NO_EVENTS.exits, ...changes });
const transitions = (changes: Partial<EventCounts["healthTransitions"]>) => ({
  ...NO_EVENTS.healthTransitions,
  ...changes,
});

Deno.test("countEvent() counts a crash loop of five restarts as six starts and six exits with an error", () => {
  // docker run --restart on-failure:5 ... sh -c 'exit 1': Docker's restart manager sends die and start only.
  const loop = ["create", ...Array(6).fill(["start", "die exitCode=1"]).flat()];
  assert.deepEqual(shown(replay(loop)), { starts: 6, exits: exits({ error: 6 }), healthTransitions: transitions({}) });
  // Podman's conmon sends restart between them.
  const podman = [
    "create",
    "start",
    "die exitCode=1 containerExitCode=1",
    "restart",
    "start",
    "died containerExitCode=1",
  ];
  assert.deepEqual(shown(replay(podman)), {
    starts: 2,
    exits: exits({ error: 2 }),
    healthTransitions: transitions({}),
  });
});

Deno.test("countEvent() counts an exit with code 0 as completed, and one without a code as an error", () => {
  assert.deepEqual(replay(["start", "die exitCode=0"]).exits, exits({ completed: 1 }));
  assert.deepEqual(replay(["start", "died containerExitCode=0"]).exits, exits({ completed: 1 }));
  assert.deepEqual(replay(["start", "die exitCode=143"]).exits, exits({ error: 1 }));
  assert.deepEqual(replay(["start", "die"]).exits, exits({ error: 1 }));
});

Deno.test("countEvent() counts an exit after a kill or stop request as stopped, whatever its code", () => {
  // docker stop: kill (SIGTERM), die, stop. docker restart: kill, die, stop, start, restart. docker kill: kill, die.
  assert.deepEqual(replay(["start", "kill signal=15", "die exitCode=0", "stop"]).exits, exits({ stopped: 1 }));
  assert.deepEqual(
    replay(["start", "kill signal=15", "kill signal=9", "die exitCode=137", "stop"]).exits,
    exits({ stopped: 1 }),
  );
  const restarted = replay(["start", "kill signal=15", "die exitCode=143", "stop", "start", "restart"]);
  assert.deepEqual(shown(restarted), {
    starts: 2,
    exits: exits({ stopped: 1 }),
    healthTransitions: transitions({}),
  });
  // Podman's podman stop sends stop before the die (when it wins the race with the container's cleanup).
  assert.deepEqual(replay(["start", "stop", "die exitCode=0"]).exits, exits({ stopped: 1 }));
});

Deno.test("countEvent() forgets a stop request at the next start, so a later crash is an error", () => {
  // Docker's stop comes after the die it caused; the container starts again and crashes on its own.
  const counts = replay(["start", "kill signal=15", "die exitCode=0", "stop", "start", "die exitCode=2"]);
  assert.deepEqual(counts.exits, exits({ stopped: 1, error: 1 }));
  assert.equal(counts.pendingExit, undefined);
});

Deno.test("countEvent() counts an exit after an oom event as oom, even when a stop request came too", () => {
  assert.deepEqual(replay(["start", "oom", "die exitCode=137"]).exits, exits({ oom: 1 }));
  assert.deepEqual(replay(["start", "kill signal=15", "oom", "die exitCode=137"]).exits, exits({ oom: 1 }));
  assert.deepEqual(replay(["start", "oom", "kill signal=9", "die exitCode=137"]).exits, exits({ oom: 1 }));
  // The oom belongs to the run it ended: the next run's crash is an error.
  assert.deepEqual(
    replay(["start", "oom", "die exitCode=137", "start", "die exitCode=1"]).exits,
    exits({ oom: 1, error: 1 }),
  );
});

Deno.test("countEvent() returns the same counts for events that count nothing", () => {
  for (const action of ["create", "restart", "pause", "unpause", "rename name=x", "destroy", "remove", "exec_die"]) {
    assert.equal(countEvent(NO_EVENTS, event(action)), NO_EVENTS, action);
  }
  const stopping = replay(["kill"]);
  assert.equal(countEvent(stopping, event("stop")), stopping, "a second stop request changes nothing");
  const healthy = replay(["health_status:healthy"]);
  assert.equal(countEvent(healthy, event("health_status:healthy")), healthy);
  assert.equal(countEvent(healthy, event("health_status")), healthy, "a bare health_status without a health");
});

Deno.test("countEvent() counts Docker's health changes, and a restart as a change to starting", () => {
  // Docker sends health_status only when the health changes, and resets it to starting at each start without one.
  const counts = replay([
    "create",
    "start",
    "health_status:healthy",
    "health_status:unhealthy",
    "health_status:healthy",
    "kill signal=15",
    "die exitCode=137",
    "stop",
    "start",
    "restart",
    "health_status:healthy",
  ]);
  assert.deepEqual(counts.healthTransitions, transitions({ healthy: 3, unhealthy: 1, starting: 1 }));
  assert.equal(counts.health, "healthy");
});

Deno.test("countEvent() counts the first start of a container as no change of health", () => {
  assert.deepEqual(replay(["start"], "none").healthTransitions, transitions({}));
  assert.deepEqual(replay(["start"], "starting").healthTransitions, transitions({}));
  // A restart before the first check ended: starting again is no change either.
  assert.deepEqual(replay(["start", "health_status:starting", "start"]).healthTransitions, transitions({}));
});

Deno.test("countEvent() counts Podman's health once per change, one check late, from its HealthStatus", () => {
  // Podman 4.3 sends a bare health_status per check, with the health from before the check: the first check passed,
  // the second passed, the third and fourth failed; then a restart and a check.
  const counts = replay([
    "start",
    "health_status HealthStatus=starting",
    "health_status HealthStatus=healthy",
    "health_status HealthStatus=healthy",
    "health_status HealthStatus=unhealthy",
    "restart",
    "die exitCode=137",
    "start",
    "health_status HealthStatus=starting",
  ], "starting");
  assert.deepEqual(counts.healthTransitions, transitions({ healthy: 1, unhealthy: 1, starting: 1 }));
});

Deno.test("countEvent() takes the record's health as the baseline for a container's first health event", () => {
  // The exporter started while the container was healthy: a Docker event for the same health cannot be a change, one
  // for another is.
  assert.deepEqual(replay(["health_status:unhealthy"], "healthy").healthTransitions, transitions({ unhealthy: 1 }));
  assert.deepEqual(replay(["health_status HealthStatus=healthy"], "healthy").healthTransitions, transitions({}));
  // Without a record (an event before the inspect answered), any health but starting is a change.
  assert.deepEqual(replay(["health_status:healthy"]).healthTransitions, transitions({ healthy: 1 }));
  assert.deepEqual(replay(["health_status:starting"]).healthTransitions, transitions({}));
  assert.deepEqual(replay(["health_status:unhealthy"], "none").healthTransitions, transitions({ unhealthy: 1 }));
});

Deno.test("countEvent() never changes the counts it is given", () => {
  const before = replay(["start", "health_status:healthy", "kill"]);
  const copy = structuredClone(before);
  for (const text of ["start", "die exitCode=1", "oom", "stop", "health_status:unhealthy", "died"]) {
    countEvent(before, event(text), "healthy");
  }
  assert.deepEqual(before, copy);
  assert.ok(Object.isFrozen(NO_EVENTS) && Object.isFrozen(NO_EVENTS.exits));
});
