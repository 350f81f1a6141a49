import assert from "node:assert/strict";
import { type ContainerEvent, eventsPath, openEventStream, parseContainerEvent } from "../../lib/docker_events.ts";
import {
  decodeChunkedJson,
  MULTIBYTE_NOTE,
  RECORDED_ACTIONS,
  recordedBody,
  RECORDING,
} from "../support/events_recording.ts";

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

Deno.test("openEventStream() replays the recorded response from a unix socket, in small reads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "docker-events-test-" });
  const path = `${dir}/docker.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const requests: string[] = [];
  const serving = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(4096);
    const n = await conn.read(buffer);
    requests.push(new TextDecoder().decode(buffer.subarray(0, n ?? 0)));
    // Odd-sized writes, so pieces end inside chunk-size lines, JSON objects and multi-byte characters.
    for (let i = 0; i < RECORDING.length; i += 333) {
      await conn.write(RECORDING.subarray(i, i + 333));
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    conn.close();
  })();
  try {
    const stream = await openEventStream(
      { kind: "unix", path, url: `unix://${path}` },
      { apiVersion: "1.41", headTimeoutMs: 5000 },
    );
    const items = [];
    for await (const item of stream.items) items.push(item);
    stream.close();
    await serving;
    assert.equal(requests.length, 1);
    assert.ok(requests[0].startsWith(`GET ${eventsPath("1.41")} HTTP/1.1\r\n`), requests[0]);
    assert.deepEqual(items, RAW_EVENTS.map((raw) => ({ kind: "event", event: parseContainerEvent(raw) })));
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openEventStream() closed before its events are read leaves nothing on the caller's signal", async () => {
  // The tracker does this when the list fails right after the stream opened, every backoff, under a signal that
  // lasts the whole run: each listener left behind would keep its connection and 64 KiB read buffer alive.
  const dir = await Deno.makeTempDir({ prefix: "docker-events-test-" });
  const path = `${dir}/docker.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      await conn.read(new Uint8Array(4096));
      await conn.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
    }
  })();
  const run = new AbortController();
  const attached = new Set<unknown>();
  const add = run.signal.addEventListener.bind(run.signal);
  const remove = run.signal.removeEventListener.bind(run.signal);
  run.signal.addEventListener = (type: string, listener: EventListenerOrEventListenerObject, options?: unknown) => {
    if (type === "abort") attached.add(listener);
    add(type, listener, options as AddEventListenerOptions);
  };
  run.signal.removeEventListener = (type: string, listener: EventListenerOrEventListenerObject, options?: unknown) => {
    if (type === "abort") attached.delete(listener);
    remove(type, listener, options as EventListenerOptions);
  };
  try {
    for (let i = 0; i < 3; i++) {
      const stream = await openEventStream(
        { kind: "unix", path, url: `unix://${path}` },
        { apiVersion: "1.41", headTimeoutMs: 5000, signal: run.signal },
      );
      assert.equal(attached.size, 1, "the open stream listens for the abort");
      stream.close();
      assert.equal(attached.size, 0, `closed stream ${i} left its abort listener behind`);
    }
  } finally {
    listener.close();
    for (const conn of conns) conn.close();
    await serving.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
