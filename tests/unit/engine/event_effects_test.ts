import assert from "node:assert/strict";
import { type ContainerEvent, FOLLOWED_ACTIONS } from "../../../lib/docker/events.ts";
import { type EventEffect, eventEffect } from "../../../lib/engine/event_effects.ts";

const TIME_MS = 1_795_619_525_294;

function event(action: string, attributes: Record<string, string> = {}, detail = "", timeMs = TIME_MS): ContainerEvent {
  return { action, detail, id: "c1", attributes, timeMs };
}

interface Row {
  what: string;
  event: ContainerEvent;
  known: EventEffect;
  unknown: EventEffect;
}

/** Every followed action (and an unfollowed one), for a container the registry has and one it lacks. */
const TABLE: Row[] = [
  {
    what: "create",
    event: event("create", { name: "web" }),
    known: { remove: false, inspect: true },
    unknown: { remove: false, inspect: true },
  },
  {
    what: "start",
    event: event("start"),
    known: { remove: false, inspect: true },
    unknown: { remove: false, inspect: true },
  },
  {
    what: "restart",
    event: event("restart"),
    known: { remove: false, inspect: true },
    unknown: { remove: false, inspect: true },
  },
  {
    what: "stop",
    event: event("stop"),
    known: { remove: false, inspect: true },
    unknown: { remove: false, inspect: true },
  },
  {
    what: "die with an exit code",
    event: event("die", { exitCode: "137" }),
    known: {
      remove: false,
      patch: { state: "exited", exitCode: 137, finishedSeconds: TIME_MS / 1000 },
      inspect: true,
    },
    unknown: {
      remove: false,
      patch: { state: "exited", exitCode: 137, finishedSeconds: TIME_MS / 1000 },
      inspect: true,
    },
  },
  {
    what: "die without exit code or time",
    event: event("die", {}, "", 0),
    known: { remove: false, patch: { state: "exited" }, inspect: true },
    unknown: { remove: false, patch: { state: "exited" }, inspect: true },
  },
  {
    what: "die as Podman sends it (the code in containerExitCode too)",
    event: event("die", { containerExitCode: "137", exitCode: "137" }),
    known: {
      remove: false,
      patch: { state: "exited", exitCode: 137, finishedSeconds: TIME_MS / 1000 },
      inspect: true,
    },
    unknown: {
      remove: false,
      patch: { state: "exited", exitCode: 137, finishedSeconds: TIME_MS / 1000 },
      inspect: true,
    },
  },
  {
    what: "died (Podman's own name for die, its code only in containerExitCode)",
    event: event("died", { containerExitCode: "3" }),
    known: {
      remove: false,
      patch: { state: "exited", exitCode: 3, finishedSeconds: TIME_MS / 1000 },
      inspect: true,
    },
    unknown: {
      remove: false,
      patch: { state: "exited", exitCode: 3, finishedSeconds: TIME_MS / 1000 },
      inspect: true,
    },
  },
  {
    what: "kill",
    event: event("kill", { signal: "15" }),
    known: { remove: false, inspect: false },
    unknown: { remove: false, inspect: true },
  },
  {
    what: "oom",
    event: event("oom"),
    known: { remove: false, patch: { oomKilled: true }, inspect: false },
    unknown: { remove: false, patch: { oomKilled: true }, inspect: true },
  },
  {
    what: "pause",
    event: event("pause"),
    known: { remove: false, patch: { state: "paused" }, inspect: false },
    unknown: { remove: false, patch: { state: "paused" }, inspect: true },
  },
  {
    what: "unpause",
    event: event("unpause"),
    known: { remove: false, patch: { state: "running" }, inspect: false },
    unknown: { remove: false, patch: { state: "running" }, inspect: true },
  },
  {
    what: "health_status: healthy",
    event: event("health_status", {}, "healthy"),
    known: { remove: false, patch: { health: "healthy" }, inspect: true },
    unknown: { remove: false, patch: { health: "healthy" }, inspect: true },
  },
  {
    what: "health_status: unhealthy",
    event: event("health_status", {}, "unhealthy"),
    known: { remove: false, patch: { health: "unhealthy" }, inspect: true },
    unknown: { remove: false, patch: { health: "unhealthy" }, inspect: true },
  },
  {
    what: "health_status: starting",
    event: event("health_status", {}, "starting"),
    known: { remove: false, patch: { health: "starting" }, inspect: true },
    unknown: { remove: false, patch: { health: "starting" }, inspect: true },
  },
  {
    what: "health_status as Podman sends it (no detail)",
    event: event("health_status"),
    known: { remove: false, patch: undefined, inspect: true },
    unknown: { remove: false, patch: undefined, inspect: true },
  },
  {
    what: "health_status with an unknown detail",
    event: event("health_status", {}, "sleepy"),
    known: { remove: false, patch: undefined, inspect: true },
    unknown: { remove: false, patch: undefined, inspect: true },
  },
  {
    what: "rename",
    event: event("rename", { name: "/new-name", oldName: "/old-name" }),
    known: { remove: false, patch: { name: "new-name" }, inspect: false },
    unknown: { remove: false, patch: { name: "new-name" }, inspect: true },
  },
  {
    what: "rename as Docker 20.10 sends it (new name without a slash)",
    event: event("rename", { name: "new-name", oldName: "/old-name" }),
    known: { remove: false, patch: { name: "new-name" }, inspect: false },
    unknown: { remove: false, patch: { name: "new-name" }, inspect: true },
  },
  {
    what: "rename without a name attribute",
    event: event("rename", { oldName: "/old-name" }),
    known: { remove: false, patch: undefined, inspect: true },
    unknown: { remove: false, patch: undefined, inspect: true },
  },
  {
    what: "destroy",
    event: event("destroy"),
    known: { remove: true, inspect: false },
    unknown: { remove: true, inspect: false },
  },
  {
    what: "remove (Podman's destroy)",
    event: event("remove"),
    known: { remove: true, inspect: false },
    unknown: { remove: true, inspect: false },
  },
  {
    what: "an action newer engines add",
    event: event("update"),
    known: { remove: false, inspect: true },
    unknown: { remove: false, inspect: true },
  },
];

for (const row of TABLE) {
  Deno.test(`eventEffect() for ${row.what} on a known container`, () => {
    assert.deepEqual(eventEffect(row.event, true), row.known);
  });
  Deno.test(`eventEffect() for ${row.what} on an unknown container`, () => {
    assert.deepEqual(eventEffect(row.event, false), row.unknown);
  });
}

Deno.test("eventEffect() table covers every followed action", () => {
  const covered = new Set(TABLE.map((row) => row.event.action));
  for (const action of FOLLOWED_ACTIONS) assert.ok(covered.has(action), action);
});
