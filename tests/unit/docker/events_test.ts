import assert from "node:assert/strict";
import { type ContainerEvent, eventsPath, parseContainerEvent } from "../../../lib/docker/events.ts";
import { decodeChunkedJson, MULTIBYTE_NOTE, RECORDED_ACTIONS, recordedBody } from "../../support/events_recording.ts";

// deno-lint-ignore no-explicit-any
type Raw = any;

/** The decoded objects of the recording, as the engine sent them. */
const RAW_EVENTS: Raw[] = decodeChunkedJson([recordedBody()]).map((item) => (item as { value: unknown }).value);

Deno.test("parseContainerEvent() reads every recorded event", () => {
  const events = RAW_EVENTS.map(parseContainerEvent);
  assert.deepEqual(
    events.map((event) => event && [event.action, event.detail]),
    RECORDED_ACTIONS.map((action) => action === "health_status: healthy" ? ["health_status", "healthy"] : [action, ""]),
  );
  const id = RAW_EVENTS[0].Actor.ID;
  assert.match(id, /^[0-9a-f]{64}$/);
  for (const [i, event] of events.entries()) {
    assert.ok(event);
    assert.equal(event.id, id);
    assert.equal(event.attributes.note, MULTIBYTE_NOTE);
    assert.equal(event.timeMs, Math.floor(RAW_EVENTS[i].timeNano / 1e6));
    assert.ok(Math.abs(event.timeMs - RAW_EVENTS[i].time * 1000) < 1000);
  }
});

Deno.test("parseContainerEvent() keeps a recorded event's attributes: name, image, exit code", () => {
  const create = parseContainerEvent(RAW_EVENTS[0])!;
  assert.deepEqual(Object.keys(create.attributes).sort(), ["image", "name", "note", "quote"]);
  assert.match(create.attributes.name, /^unitrec-[0-9a-f]{8}-events$/);
  assert.equal(create.attributes.image, RAW_EVENTS[0].from);
  const rename = parseContainerEvent(RAW_EVENTS[RECORDED_ACTIONS.indexOf("rename")])!;
  assert.equal(rename.attributes.name, `${create.attributes.name}-renamed`);
  assert.equal(rename.attributes.oldName, `/${create.attributes.name}`);
  const die = parseContainerEvent(RAW_EVENTS[RECORDED_ACTIONS.indexOf("die")])!;
  assert.equal(die.attributes.exitCode, "137");
});

Deno.test("parseContainerEvent() splits `health_status: healthy` into action and detail", () => {
  const event = parseContainerEvent({
    Type: "container",
    Action: "health_status: unhealthy",
    Actor: { ID: "abc", Attributes: {} },
    time: 1700000000,
  });
  assert.deepEqual(
    event,
    {
      action: "health_status",
      detail: "unhealthy",
      id: "abc",
      attributes: {},
      timeMs: 1_700_000_000_000,
    } satisfies ContainerEvent,
  );
});

Deno.test("parseContainerEvent() reads old-style events that have only status and id", () => {
  assert.deepEqual(parseContainerEvent({ status: "start", id: "abc", from: "busybox", time: 1700000000 }), {
    action: "start",
    detail: "",
    id: "abc",
    attributes: {},
    timeMs: 1_700_000_000_000,
  });
  assert.deepEqual(parseContainerEvent({ status: "health_status: starting", id: "abc" }), {
    action: "health_status",
    detail: "starting",
    id: "abc",
    attributes: {},
    timeMs: 0,
  });
});

Deno.test("parseContainerEvent() prefers timeNano, keeping milliseconds", () => {
  const event = parseContainerEvent({
    Type: "container",
    Action: "start",
    Actor: { ID: "abc" },
    time: 1700000000,
    timeNano: 1700000000123456789,
  });
  assert.equal(event?.timeMs, 1_700_000_000_123);
});

Deno.test("parseContainerEvent() keeps only string attributes", () => {
  const event = parseContainerEvent({
    Type: "container",
    Action: "die",
    Actor: { ID: "abc", Attributes: { exitCode: "1", n: 5, o: {}, z: null } },
  });
  assert.deepEqual(event?.attributes, { exitCode: "1" });
});

Deno.test("parseContainerEvent() returns undefined for non-container events and junk", () => {
  const junk: unknown[] = [
    null,
    undefined,
    42,
    "start",
    [],
    {},
    { Type: "network", Action: "connect", Actor: { ID: "net1", Attributes: { container: "abc" } } },
    { Type: "image", Action: "pull", Actor: { ID: "busybox:latest" } },
    { Type: "volume", Action: "mount", Actor: { ID: "vol" } },
    { Type: "container", Action: "start", Actor: { ID: "" } },
    { Type: "container", Action: "start", Actor: {} },
    { Type: "container", Actor: { ID: "abc" } },
    { Type: "container", Action: 5, Actor: { ID: "abc" } },
    { Type: "container", Action: "start", Actor: { ID: 7 } },
    { status: "start" },
    { id: "abc" },
  ];
  for (const value of junk) assert.equal(parseContainerEvent(value), undefined, JSON.stringify(value));
});

const FOLLOWED = [
  "create",
  "start",
  "restart",
  "die",
  "stop",
  "kill",
  "oom",
  "pause",
  "unpause",
  "health_status",
  "rename",
  "destroy",
  // Podman's own names for die and destroy, which its `/events` filter matches.
  "died",
  "remove",
];

Deno.test("eventsPath() asks for container events of the followed actions, percent-encoded", () => {
  const path = eventsPath("1.41");
  assert.match(path, /^\/v1\.41\/events\?filters=[A-Za-z0-9%._~*'()!-]+$/);
  const url = new URL(path, "http://docker");
  assert.equal(url.pathname, "/v1.41/events");
  assert.deepEqual([...url.searchParams.keys()], ["filters"]);
  assert.deepEqual(JSON.parse(url.searchParams.get("filters")!), { type: ["container"], event: FOLLOWED });
});

Deno.test("eventsPath() adds `since` in whole seconds", () => {
  const url = new URL(eventsPath("1.44", 1700000000.9), "http://docker");
  assert.equal(url.pathname, "/v1.44/events");
  assert.equal(url.searchParams.get("since"), "1700000000");
  assert.deepEqual(JSON.parse(url.searchParams.get("filters")!).event, FOLLOWED);
});
