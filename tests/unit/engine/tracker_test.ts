/**
 * The tracker with an in-memory engine: event sequences, refresh reconciliation and sweeping,
 * with an injected clock. No sockets, no timers that matter (intervals are an hour long).
 */
import assert from "node:assert/strict";
import { ContainerRegistry, parseDockerTime } from "../../../lib/engine/registry.ts";
import { ContainerTracker, type TrackerOptions } from "../../../lib/engine/tracker.ts";
import type { ContainerInspect, DockerApi } from "../../../lib/docker/api.ts";
import { DockerApiError } from "../../../lib/docker/errors.ts";
import { type ContainerEvent, type EventStreamItem, FOLLOWED_ACTIONS } from "../../../lib/docker/events.ts";
import { ExporterStats } from "../../../lib/engine/stats.ts";
import { silentLogger } from "../../../lib/shared/logger.ts";
import { fakeContainer } from "../../support/fake_engine.ts";
import { ContainerFilter, IGNORE_LABEL, parseContainerPatterns } from "../../../lib/shared/container_filter.ts";

/** An async queue the test pushes events into and the tracker iterates. */
class EventQueue {
  #items: EventStreamItem[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  push(item: EventStreamItem) {
    this.#items.push(item);
    this.#wake?.();
  }
  close() {
    this.#closed = true;
    this.#wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<EventStreamItem> {
    while (!this.#closed) {
      const item = this.#items.shift();
      if (item) yield item;
      else await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}

/** `options` replace the tracker's defaults here; `info` adds to what `/info` answers. */
function setup(options: Partial<TrackerOptions> = {}, info: Record<string, unknown> = {}) {
  let clock = 1_000_000;
  const containers = new Map<string, ContainerInspect>();
  const calls: string[] = [];
  /** While set, inspects wait for it: lets a test look between an event and its inspect. */
  let gate: Promise<void> | undefined;
  let openGate = () => {};
  /** While true, inspects fail as they do while the engine goes down. */
  let inspectsFail = false;
  /** While set, inspects answer only after it, with what the engine held when they were asked. */
  let answerGate: Promise<void> | undefined;
  /** While set, a list answers only after it: what it answers is still what existed when it was asked. */
  let listGate: Promise<void> | undefined;
  let openListGate = () => {};
  const api: DockerApi = {
    version: () => Promise.resolve({ Version: "1", ApiVersion: "1.41", Os: "linux", KernelVersion: "k" }),
    useApiVersion: () => {},
    info: () => Promise.resolve({ Name: "host", ...info }),
    listContainers: async () => {
      calls.push("list");
      const snapshot = Array.from(
        containers.values(),
        (c) => ({ Id: c.Id, Names: [c.Name], State: c.State.Status, Status: "", Labels: { ...c.Config.Labels } }),
      );
      await listGate;
      return snapshot;
    },
    inspectContainer: async (id) => {
      calls.push(`inspect ${id.slice(0, 4)}`);
      await gate;
      if (inspectsFail) throw new Error("connect ENOENT /var/run/docker.sock");
      const found = containers.get(id);
      const answer = found && structuredClone(found);
      await answerGate;
      return answer;
    },
    // The tracker never asks for stats; the resource collector does.
    containerStats: () => Promise.reject(new Error("the tracker does not read stats")),
    diskUsage: () => Promise.reject(new Error("the tracker never asks for disk usage")),
    close: () => {},
  };
  const events = new EventQueue();
  const registry = new ContainerRegistry(60_000);
  const stats = new ExporterStats();
  const tracker = new ContainerTracker({
    api,
    openEvents: () => Promise.resolve({ items: events, close: () => events.close() }),
    registry,
    stats,
    logger: silentLogger,
    now: () => clock,
    refreshIntervalMs: 3_600_000,
    staleAfterMs: 30_000,
    ...options,
  });
  const controller = new AbortController();
  const send = (id: string, action: string, attributes: Record<string, string> = {}) =>
    events.push({ kind: "event", event: { action, detail: "", id, attributes, timeMs: clock } });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 10));
  return {
    containers,
    calls,
    registry,
    stats,
    tracker,
    send,
    settle,
    advance: (ms: number) => (clock += ms),
    holdInspects: () => (gate = new Promise<void>((resolve) => (openGate = resolve))),
    /** The engine stops `id` at `finishedAt` and, its inspects failing meanwhile, sends the die event. */
    dieWhileInspectsFail: async (id: string, finishedAt: string, exitCode: number) => {
      const container = containers.get(id)!;
      container.State = { ...container.State, Status: "exited", ExitCode: exitCode, FinishedAt: finishedAt };
      inspectsFail = true;
      send(id, "die", { exitCode: String(exitCode) });
      await settle();
      inspectsFail = false;
    },
    holdLists: () => (listGate = new Promise<void>((resolve) => (openListGate = resolve))),
    releaseLists: () => {
      listGate = undefined;
      openListGate();
    },
    releaseInspects: () => {
      gate = undefined;
      openGate();
    },
    /** Holds the answers of the inspects asked from now on; returns what lets them through. */
    holdAnswers: () => {
      let open = () => {};
      const gate = answerGate = new Promise<void>((resolve) => (open = resolve));
      return () => {
        if (answerGate === gate) answerGate = undefined;
        open();
      };
    },
    start: async () => {
      const running = tracker.run(controller.signal);
      while (!stats.synced) await settle();
      return async () => {
        controller.abort();
        events.close();
        await running;
      };
    },
  };
}

const A = "a".repeat(64);
const B = "b".repeat(64);

Deno.test("the tracker follows create, start, die, restart and destroy of one container", async () => {
  const t = setup();
  const stop = await t.start();
  try {
    t.containers.set(A, fakeContainer(A, "web", { Status: "created", StartedAt: "0001-01-01T00:00:00Z" }));
    t.send(A, "create");
    await t.settle();
    assert.equal(t.registry.get(A)?.state, "created");
    assert.equal(t.registry.get(A)?.startedSeconds, undefined);

    t.containers.get(A)!.State = {
      ...t.containers.get(A)!.State,
      Status: "running",
      StartedAt: "2026-11-25T10:00:00Z",
    };
    t.send(A, "start");
    await t.settle();
    assert.equal(t.registry.get(A)?.state, "running");
    assert.equal(t.registry.get(A)?.startedSeconds, Date.parse("2026-11-25T10:00:00Z") / 1000);

    t.holdInspects();
    t.send(A, "die", { exitCode: "137" });
    await t.settle();
    assert.equal(t.registry.get(A)?.state, "exited", "die applies at once, before the inspect answers");
    assert.equal(t.registry.get(A)?.exitCode, 137);
    t.containers.get(A)!.State = { ...t.containers.get(A)!.State, Status: "exited", ExitCode: 137 };
    t.releaseInspects();
    await t.settle();
    assert.equal(t.registry.get(A)?.state, "exited");

    t.containers.get(A)!.RestartCount = 1;
    t.containers.get(A)!.State = {
      ...t.containers.get(A)!.State,
      Status: "running",
      StartedAt: "2026-11-25T11:00:00Z",
    };
    t.send(A, "restart");
    await t.settle();
    assert.equal(t.registry.get(A)?.startedSeconds, Date.parse("2026-11-25T11:00:00Z") / 1000);
    assert.equal(t.registry.get(A)?.restartCount, 1);

    t.send(A, "destroy");
    await t.settle();
    assert.equal(t.registry.has(A), false);
    assert.equal(t.stats.eventsByAction.get("destroy"), 1);
  } finally {
    await stop();
  }
});

Deno.test("rename, pause and unpause change the record without an inspect", async () => {
  const t = setup();
  t.containers.set(A, fakeContainer(A, "old"));
  const stop = await t.start();
  try {
    t.calls.length = 0;
    t.send(A, "rename", { name: "new", oldName: "/old" });
    t.send(A, "pause");
    await t.settle();
    assert.equal(t.registry.get(A)?.name, "new");
    assert.equal(t.registry.get(A)?.state, "paused");
    t.send(A, "unpause");
    await t.settle();
    assert.equal(t.registry.get(A)?.state, "running");
    assert.deepEqual(t.calls, []);
  } finally {
    await stop();
  }
});

Deno.test("a burst of events for one container costs at most two inspects, applied in order", async () => {
  const t = setup();
  t.containers.set(A, fakeContainer(A, "web"));
  const stop = await t.start();
  try {
    t.calls.length = 0;
    t.holdInspects();
    for (let i = 0; i < 50; i++) t.send(A, i % 2 ? "start" : "restart");
    await t.settle();
    t.containers.get(A)!.RestartCount = 3;
    t.releaseInspects();
    await t.settle();
    assert.deepEqual(t.calls, ["inspect aaaa", "inspect aaaa"], "one in flight, one queued behind it");
    assert.equal(t.registry.get(A)?.restartCount, 3, "the last inspect, begun after the last event, wins");
    assert.equal(t.registry.get(A)?.state, "running");
  } finally {
    await stop();
  }
});

Deno.test("a refresh adds missed containers, drops vanished ones, and inspects only what changed", async () => {
  const t = setup();
  t.containers.set(A, fakeContainer(A, "a"));
  const stop = await t.start();
  try {
    t.containers.delete(A);
    t.containers.set(B, fakeContainer(B, "b"));
    t.calls.length = 0;
    t.advance(1000);
    assert.equal(await t.tracker.refresh(), true);
    assert.equal(t.registry.has(A), false);
    assert.equal(t.registry.get(B)?.name, "b");
    assert.deepEqual(t.calls, ["list", "inspect bbbb"]);

    t.calls.length = 0;
    await t.tracker.refresh();
    assert.deepEqual(t.calls, ["list"], "an unchanged container is not inspected again");
  } finally {
    await stop();
  }
});

Deno.test("the sweeper drops containers not seen for the stale period, and a refresh keeps them", async () => {
  const t = setup();
  t.containers.set(A, fakeContainer(A, "a"));
  const stop = await t.start();
  try {
    t.advance(20_000);
    await t.tracker.refresh();
    t.advance(20_000);
    t.tracker.sweep();
    assert.equal(t.registry.has(A), true, "seen by the refresh 20 s ago");
    t.advance(11_000);
    t.tracker.sweep();
    assert.equal(t.registry.has(A), false, "not seen for 31 s");
  } finally {
    await stop();
  }
});

Deno.test("an inspect that failed after an event is retried by the next refresh, even if the list looks unchanged", async () => {
  const t = setup();
  t.containers.set(A, fakeContainer(A, "a"));
  const stop = await t.start();
  try {
    // The engine stops the container and goes down: the die event arrives, its inspect fails.
    const finishedAt = "2026-11-25T10:00:00.123456789Z";
    t.advance(500);
    await t.dieWhileInspectsFail(A, finishedAt, 137);
    assert.equal(t.registry.get(A)?.state, "exited");
    const fromEvent = t.registry.get(A)?.finishedSeconds;
    assert.notEqual(fromEvent, Date.parse(finishedAt) / 1000, "the event's own time, not the engine's");

    // Back up: the list says exited, as the record already does; the record must still be confirmed.
    t.calls.length = 0;
    assert.equal(await t.tracker.refresh(), true);
    assert.deepEqual(t.calls, ["list", "inspect aaaa"]);
    assert.equal(t.registry.get(A)?.finishedSeconds, parseDockerTime(finishedAt));

    t.calls.length = 0;
    await t.tracker.refresh();
    assert.deepEqual(t.calls, ["list"], "confirmed once, not on every refresh");
  } finally {
    await stop();
  }
});

Deno.test("a container whose inspect failed while a list was on its way, and that the list missed, is still retried", async () => {
  const t = setup();
  const stop = await t.start();
  try {
    // The engine takes the list before B exists; B is created, then dies while the engine's inspects fail.
    t.holdLists();
    const refreshing = t.tracker.refresh();
    await t.settle();
    t.containers.set(B, fakeContainer(B, "b"));
    t.send(B, "start");
    await t.settle();
    const finishedAt = "2026-11-25T10:00:00.123456789Z";
    await t.dieWhileInspectsFail(B, finishedAt, 0);
    t.releaseLists();
    assert.equal(await refreshing, true);
    assert.equal(t.registry.has(B), true, "seen after the list was taken, so kept");

    t.calls.length = 0;
    await t.tracker.refresh();
    assert.deepEqual(t.calls, ["list", "inspect bbbb"]);
    assert.equal(t.registry.get(B)?.finishedSeconds, parseDockerTime(finishedAt));
  } finally {
    await stop();
  }
});

Deno.test("a pause while an inspect is on its way is not undone when that inspect's older answer lands", async () => {
  const t = setup();
  t.containers.set(A, fakeContainer(A, "web"));
  const stop = await t.start();
  try {
    t.calls.length = 0;
    const releaseFirst = t.holdAnswers();
    t.send(A, "health_status", { "health_status": "healthy" });
    await t.settle();
    assert.deepEqual(t.calls, ["inspect aaaa"], "the engine answered: running");
    t.containers.get(A)!.State.Status = "paused";
    t.send(A, "pause");
    await t.settle();
    assert.equal(t.registry.get(A)?.state, "paused");
    const releaseSecond = t.holdAnswers();
    releaseFirst();
    await t.settle();
    assert.equal(t.registry.get(A)?.state, "paused", "the answer from before the pause is dropped, not shown a while");
    releaseSecond();
    await t.settle();
    assert.equal(t.registry.get(A)?.state, "paused", "the inspect begun after the pause has the last word");
    assert.deepEqual(t.calls, ["inspect aaaa", "inspect aaaa"]);
  } finally {
    await stop();
  }
});

Deno.test("a destroy drops the inspect still waiting for its container, so churn leaves no backlog", async () => {
  const t = setup();
  const stop = await t.start();
  try {
    t.calls.length = 0;
    t.holdInspects();
    const ids = Array.from({ length: 50 }, (_, i) => i.toString(16).padStart(64, "c"));
    for (const id of ids) {
      t.send(id, "create");
      t.send(id, "destroy");
    }
    await t.settle();
    t.releaseInspects();
    await t.settle();
    assert.equal(t.calls.length, 8, "only the inspects already under way (8 at once) ran");
    assert.deepEqual(ids.filter((id) => t.registry.has(id)), []);
  } finally {
    await stop();
  }
});

Deno.test("actions the exporter does not follow are counted as other, not as a series each", async () => {
  const t = setup();
  t.containers.set(A, fakeContainer(A, "web"));
  const stop = await t.start();
  try {
    // An engine or proxy that makes up actions: each name would be a docker_exporter_events_total series for good.
    for (let i = 0; i < 3000; i++) t.send(A, `made-up-${i}`);
    for (const action of FOLLOWED_ACTIONS) t.send(A, action);
    const deadline = Date.now() + 10_000;
    while (t.stats.eventsByAction.get("remove") !== 1 && Date.now() < deadline) await t.settle();
    assert.deepEqual(
      Object.fromEntries(t.stats.eventsByAction),
      Object.fromEntries([["other", 3000], ...FOLLOWED_ACTIONS.map((action) => [action, 1])]),
    );
  } finally {
    await stop();
  }
});

Deno.test("events of a container that came before its inspect answered are counted on its record", async () => {
  const t = setup();
  const stop = await t.start();
  try {
    // docker run --restart on-failure:1 of a command that fails at once, and an inspect that takes its time.
    t.holdInspects();
    t.containers.set(A, fakeContainer(A, "crash", { Status: "exited", ExitCode: 1 }));
    for (const action of ["create", "start", "die", "start", "die"]) t.send(A, action, { exitCode: "1" });
    await t.settle();
    assert.equal(t.registry.has(A), false, "no record yet");
    t.releaseInspects();
    await t.settle();
    const events = t.registry.get(A)?.events;
    assert.equal(events?.starts, 2);
    assert.deepEqual(events?.exits, { completed: 0, error: 2, oom: 0, stopped: 0 });

    t.send(A, "kill", { signal: "9" });
    t.send(A, "destroy");
    await t.settle();
    assert.equal(t.registry.has(A), false);
    // Created again with the same id (as a test engine can): nothing of the removed one is left.
    t.send(A, "start");
    await t.settle();
    assert.equal(t.registry.get(A)?.events.starts ?? 0, 0, "a removed container counts nothing");
  } finally {
    await stop();
  }
});

/** A filter that leaves out the containers named db*, and those labelled docker-exporter.ignore=true. */
function noDatabases(): ContainerFilter {
  const parsed = parseContainerPatterns("db*");
  assert.ok("patterns" in parsed);
  return new ContainerFilter([], parsed.patterns);
}

const C = "c".repeat(64);

Deno.test("the filters leave containers out from their list entries, before any inspect", async () => {
  const t = setup({ filter: noDatabases() });
  t.containers.set(A, fakeContainer(A, "web"));
  t.containers.set(B, fakeContainer(B, "db"));
  t.containers.set(C, { ...fakeContainer(C, "cache"), Config: { Image: "x", Labels: { [IGNORE_LABEL]: "true" } } });
  const stop = await t.start();
  try {
    assert.deepEqual(t.calls, ["list", "inspect aaaa"]);
    assert.deepEqual(t.registry.containers().map((c) => c.name), ["web"]);
    t.calls.length = 0;
    await t.tracker.refresh();
    assert.deepEqual(t.calls, ["list"], "nor at a refresh");
  } finally {
    await stop();
  }
});

Deno.test("events of a left-out container count nothing and bring no inspect; a rename takes it in or out", async () => {
  const t = setup({ filter: noDatabases() });
  t.containers.set(A, fakeContainer(A, "web"));
  const stop = await t.start();
  try {
    t.calls.length = 0;
    t.containers.set(B, fakeContainer(B, "db"));
    for (const action of ["create", "start", "die", "start"]) t.send(B, action, { name: "db", exitCode: "1" });
    t.send(C, "start", { name: "cache", [IGNORE_LABEL]: "true" });
    await t.settle();
    assert.deepEqual(t.calls, []);
    assert.equal(t.registry.has(B), false);

    // Renamed into the filters: followed from then on, its counts from 0.
    t.containers.get(B)!.Name = "/web-2";
    t.send(B, "rename", { name: "web-2", oldName: "/db" });
    await t.settle();
    assert.deepEqual(t.calls, ["inspect bbbb"]);
    assert.equal(t.registry.get(B)?.name, "web-2");
    t.send(B, "die", { name: "web-2", exitCode: "1" });
    await t.settle();
    assert.equal(t.registry.get(B)?.events.exits.error, 1);
    assert.equal(t.registry.get(B)?.events.starts, 0);

    // Renamed out of them: gone at once, with its counts.
    t.calls.length = 0;
    t.send(A, "rename", { name: "db-old", oldName: "/web" });
    await t.settle();
    assert.equal(t.registry.has(A), false);
    assert.deepEqual(t.calls, []);
    // And the next list agrees.
    t.containers.get(A)!.Name = "/db-old";
    await t.tracker.refresh();
    assert.deepEqual(t.registry.containers().map((c) => c.name), ["web-2"]);
  } finally {
    await stop();
  }
});

Deno.test("an inspect that answers after its container was renamed out of the filters brings nothing back", async () => {
  const t = setup({ filter: noDatabases() });
  t.containers.set(A, fakeContainer(A, "web"));
  const stop = await t.start();
  try {
    const release = t.holdAnswers();
    t.send(A, "start", { name: "web" });
    await t.settle();
    t.send(A, "rename", { name: "db", oldName: "/web" });
    await t.settle();
    release();
    await t.settle();
    assert.equal(t.registry.has(A), false);
  } finally {
    await stop();
  }
});

Deno.test("a container neither its list entry nor its event names is decided on by its inspect", async () => {
  const t = setup({ filter: noDatabases() });
  const stop = await t.start();
  try {
    t.containers.set(B, fakeContainer(B, "db"));
    t.send(B, "start");
    await t.settle();
    assert.deepEqual(t.calls, ["list", "inspect bbbb"]);
    assert.equal(t.registry.has(B), false);
  } finally {
    await stop();
  }
});

/**
 * An engine whose event streams replay its log from `since` (events at or after it, as dockerd does), each stream
 * closed by the test or at once, and whose lists can be made to fail. Its clock runs `behindMs` behind ours.
 */
function replayingEngine(behindMs = 0, systemTime?: unknown) {
  let clock = 1_000_000_000;
  const containers = new Map<string, ContainerInspect>();
  const log: ContainerEvent[] = [];
  const streams: EventQueue[] = [];
  const sinces: (number | undefined)[] = [];
  let failingLists = 0;
  let closeAtOnce = false;
  /** Set while a proxy in front answers 503 for an engine that is gone. */
  let gone = false;
  const unavailable = (operation: string) =>
    Promise.reject(new DockerApiError("Docker answered 503: no server is available", operation, 503));
  const api: DockerApi = {
    version: () =>
      gone
        ? unavailable("version")
        : Promise.resolve({ Version: "1", ApiVersion: "1.41", Os: "linux", KernelVersion: "k" }),
    useApiVersion: () => {},
    info: () =>
      Promise.resolve({
        Name: "host",
        SystemTime: (systemTime ?? new Date(clock - behindMs).toISOString()) as string,
      }),
    listContainers: () => {
      if (gone) return unavailable("list");
      if (failingLists > 0 && failingLists--) return Promise.reject(new DockerApiError("boom", "list", 500));
      return Promise.resolve(
        Array.from(containers.values(), (c) => ({ Id: c.Id, Names: [c.Name], State: c.State.Status, Status: "" })),
      );
    },
    inspectContainer: (id) => Promise.resolve(structuredClone(containers.get(id))),
    containerStats: () => Promise.reject(new Error("the tracker does not read stats")),
    diskUsage: () => Promise.reject(new Error("the tracker never asks for disk usage")),
    close: () => {},
  };
  const openEvents = ({ sinceSeconds }: { sinceSeconds?: number }) => {
    sinces.push(sinceSeconds);
    const stream = new EventQueue();
    for (const event of log) {
      if (sinceSeconds !== undefined && event.timeMs >= sinceSeconds * 1000) stream.push({ kind: "event", event });
    }
    if (closeAtOnce) stream.close();
    streams.push(stream);
    return Promise.resolve({ items: stream, close: () => stream.close() });
  };
  return {
    containers,
    sinces,
    api,
    openEvents,
    now: () => clock,
    advance: (ms: number) => (clock += ms),
    emit: (id: string, action: string, attributes: Record<string, string> = {}) => {
      const timeMs = clock - behindMs;
      const event = { action, detail: "", id, attributes, timeMs, timeNano: timeMs * 1e6 };
      log.push(event);
      for (const stream of streams) stream.push({ kind: "event", event });
    },
    endStream: () => streams.at(-1)!.close(),
    failLists: (count: number) => (failingLists = count),
    closeStreamsAtOnce: (on: boolean) => (closeAtOnce = on),
    goAwayBehindProxy: () => (gone = true),
  };
}

const tick = (ms = 10) => new Promise((resolve) => setTimeout(resolve, ms));

/** A tracker following `e`, retrying at once, synced; `stop` ends it. */
async function follow(e: ReturnType<typeof replayingEngine>) {
  const registry = new ContainerRegistry(60_000);
  const stats = new ExporterStats();
  const tracker = new ContainerTracker({
    api: e.api,
    openEvents: e.openEvents,
    registry,
    stats,
    logger: silentLogger,
    now: e.now,
    refreshIntervalMs: 3_600_000,
    staleAfterMs: 7_200_000,
    backoff: { initialMs: 1, maxMs: 1 },
  });
  const controller = new AbortController();
  const running = tracker.run(controller.signal);
  const stop = async () => {
    controller.abort();
    e.endStream();
    await running;
  };
  const deadline = Date.now() + 5000;
  while (!stats.synced) {
    if (Date.now() > deadline) {
      await stop();
      throw new Error("the tracker did not sync within 5 s");
    }
    await tick();
  }
  return { registry, stats, stop };
}

Deno.test("a reconnect whose list failed does not move since past the events it never read", async () => {
  const e = replayingEngine();
  e.containers.set(A, fakeContainer(A, "web"));
  const { registry, stop } = await follow(e);
  try {
    // No event yet, so since comes from when the stream was opened. The engine ends the stream, restarts A while
    // the exporter reconnects, and fails the first list after that: running again, A looks unchanged in a list.
    e.advance(60_000);
    e.failLists(1);
    e.endStream();
    const a = e.containers.get(A)!;
    a.RestartCount = 1;
    e.emit(A, "restart");
    e.advance(5_000);
    while (e.sinces.length < 3) await tick();
    await tick();
    assert.equal(e.sinces[2], e.sinces[1], "the failed attempt left since where the working stream had it");
    assert.equal(registry.get(A)?.restartCount, 1, "the restart came with the replay");
  } finally {
    await stop();
  }
});

Deno.test("an event stream that ends at once is reopened with growing delays, and the engine counts as up", async () => {
  const e = replayingEngine();
  e.closeStreamsAtOnce(true);
  const stats = new ExporterStats();
  const delays: unknown[] = [];
  const upAtEachRetry: boolean[] = [];
  const logger = {
    ...silentLogger,
    debug: (msg: string, fields?: Record<string, unknown>) => {
      if (msg !== "reconnecting to Docker") return;
      delays.push(fields?.delay_ms);
      upAtEachRetry.push(stats.engineUp);
    },
  };
  const tracker = new ContainerTracker({
    api: e.api,
    openEvents: e.openEvents,
    registry: new ContainerRegistry(60_000),
    stats,
    logger,
    now: e.now,
    refreshIntervalMs: 3_600_000,
    staleAfterMs: 7_200_000,
    backoff: { initialMs: 10, maxMs: 1000 },
    random: () => 1,
  });
  const controller = new AbortController();
  const running = tracker.run(controller.signal);
  while (delays.length < 5) await tick(5);
  // A stream followed for at least maxMs was a working one: the next delay starts over.
  e.closeStreamsAtOnce(false);
  while (e.sinces.length < 6) await tick(5);
  e.advance(1000);
  e.endStream();
  while (delays.length < 6) await tick(5);
  controller.abort();
  e.endStream();
  await running;
  assert.deepEqual(delays, [10, 20, 40, 80, 160, 10]);
  assert.deepEqual(upAtEachRetry, [true, true, true, true, true, true], "docker_up did not flap");
});

Deno.test("a reconnect asks for events since the engine's time, for an engine whose clock runs behind ours", async () => {
  const e = replayingEngine(60_000);
  e.containers.set(A, fakeContainer(A, "web"));
  const { registry, stop } = await follow(e);
  try {
    const openedEngineSeconds = Math.floor((e.now() - 60_000) / 1000);
    // No event yet. The stream ends, and A restarts (by the engine's clock, a minute behind ours) before it reopens.
    e.advance(10_000);
    e.endStream();
    e.containers.get(A)!.RestartCount = 1;
    e.emit(A, "restart");
    while (e.sinces.length < 2) await tick();
    await tick();
    assert.equal(e.sinces[1], openedEngineSeconds - 1, "since is when the stream opened, by the engine's clock");
    assert.equal(registry.get(A)?.restartCount, 1, "the restart came with the replay");
  } finally {
    await stop();
  }
});

Deno.test("a stream that broke before handing over its replay does not move since past it", async () => {
  const e = replayingEngine();
  e.containers.set(A, fakeContainer(A, "web"));
  const { registry, stop } = await follow(e);
  try {
    // The stream ends a minute on; A restarts; the next stream opens 5 s later and breaks before it replays the
    // restart. The one after that must replay from where the working stream left off, not from the broken one.
    e.advance(60_000);
    e.closeStreamsAtOnce(true);
    e.endStream();
    e.containers.get(A)!.RestartCount = 1;
    e.emit(A, "restart");
    e.advance(5_000);
    while (e.sinces.length < 2) await tick(1);
    e.closeStreamsAtOnce(false);
    while (e.sinces.length < 3) await tick(1);
    await tick();
    assert.equal(e.sinces[2], e.sinces[1], "the broken stream left since where it was");
    assert.equal(registry.get(A)?.restartCount, 1, "the restart came with the replay");
  } finally {
    await stop();
  }
});

Deno.test("behind a proxy that answers 503 for an engine that is gone, the engine counts as down", async () => {
  const e = replayingEngine();
  const { stats, stop } = await follow(e);
  try {
    assert.equal(stats.engineUp, true);
    e.goAwayBehindProxy();
    e.endStream();
    const started = Date.now();
    while (stats.engineUp && Date.now() - started < 5000) await tick(5);
    assert.equal(stats.engineUp, false, "docker_up 0 once reconnecting gets only the proxy's 503s");
  } finally {
    await stop();
  }
});

Deno.test("an /info SystemTime that is not a time is ignored, not a reason never to sync", async () => {
  for (const systemTime of [1764168000, { seconds: 1 }, true, "yesterday"]) {
    const e = replayingEngine(0, systemTime);
    e.containers.set(A, fakeContainer(A, "web"));
    const { registry, stats, stop } = await follow(e);
    try {
      assert.equal(stats.engineUp, true, String(systemTime));
      assert.equal(registry.get(A)?.name, "web");
    } finally {
      await stop();
    }
  }
});

Deno.test("the events a reopened stream replays are counted once, and those it missed are counted", async () => {
  const e = replayingEngine();
  e.containers.set(A, fakeContainer(A, "web"));
  const { registry, stop } = await follow(e);
  try {
    for (let i = 0; i < 3; i++) {
      e.advance(100);
      e.emit(A, "start");
      e.advance(100);
      e.emit(A, "die", { exitCode: "1" });
    }
    while (registry.get(A)?.events.exits.error !== 3) await tick();
    // The stream breaks; the engine restarts A once more before the exporter reconnects with since=, which replays
    // the last seconds: the six events already counted, and the two it missed.
    e.endStream();
    e.advance(100);
    e.emit(A, "start");
    e.advance(100);
    e.emit(A, "die", { exitCode: "0" });
    while (e.sinces.length < 2) await tick();
    while (registry.get(A)?.events.exits.completed !== 1) await tick();
    await tick();
    const events = registry.get(A)!.events;
    assert.equal(events.starts, 4);
    assert.deepEqual(events.exits, { completed: 1, error: 3, oom: 0, stopped: 0 });
  } finally {
    await stop();
  }
});

Deno.test("a connect keeps the engine host's CPUs and memory from /info, and leaves out what it lacks or garbles", async () => {
  const table: [Record<string, unknown>, Record<string, unknown>][] = [
    [{ NCPU: 8, MemTotal: 33_554_432_000 }, { cpus: 8, memoryBytes: 33_554_432_000 }],
    [{}, {}],
    [{ NCPU: "8", MemTotal: -1 }, {}],
  ];
  for (const [info, expected] of table) {
    const { stats, start } = setup({}, info);
    const stop = await start();
    try {
      assert.deepEqual(stats.engine, {
        version: "1",
        apiVersion: "1.41",
        os: "linux",
        kernelVersion: "k",
        hostname: "host",
        ...expected,
      });
    } finally {
      await stop();
    }
  }
});
